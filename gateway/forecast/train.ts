/**
 * `hepek forecast train`: backtests the last days (daily recalibration, for the P10/P90 band and
 * the card's metrics), then calibrates on every row and writes model.onnx, model.json (the same
 * parameters for the TypeScript side) and card.json into the output folder.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors';
import { type PriceDataset } from './dataset';
import { featureCount, featureNames, FIRST_FEATURE_DAY, HOURS } from './lear';
import { mae, smape } from './metrics';
import { mlpShape } from './mlp';
import { exportPriceModel, type PriceModel, priceModelToJson } from './onnx';
import { Forecaster, type ForecasterOptions } from './rolling';
import { type Progress } from './evaluate';

export interface TrainResult {
  model: PriceModel;
  card: ModelCard;
  onnx: Uint8Array;
}

export interface ModelCard {
  name: string;
  kind: string;
  inputs: { name: string; shape: (string | number)[]; dtype: string; units: string; features: string[] };
  outputs: { name: string; shape: (string | number)[]; dtype: string; units: string }[];
  trainingData: { file: string; columns: string[]; from: string; to: string; days: number };
  members: string[];
  backtest: { from: string; to: string; days: number; mae: number; smape: number; bandCoverage: number };
  sha256: string;
  /** Test-period metrics from the benchmark, added to the card after training (optional). */
  testMetrics?: Record<string, string | number>;
}

export function trainPriceModel(
  data: PriceDataset,
  options: ForecasterOptions,
  backtestDays: number,
  source: string,
  progress: Progress = () => {},
): TrainResult {
  const days = data.days.length;
  const firstBacktest = days - backtestDays;
  if (firstBacktest < FIRST_FEATURE_DAY + 28)
    throw new InputError(
      source,
      `${days} days`,
      `at least ${FIRST_FEATURE_DAY + 28 + backtestDays} whole days`,
    );
  for (let i = 0; i < data.prices.length; i++)
    if (Number.isNaN(data.prices[i]!))
      throw new InputError(`${source} row ${i + 2} column 2`, 'blank', 'a price in every row for training');
  const forecaster = new Forecaster(data, options);
  const actual = data.prices.slice(firstBacktest * HOURS);
  const p50 = new Float64Array(actual.length);
  let inside = 0;
  progress(0, backtestDays + 1);
  for (let d = firstBacktest; d < days; d++) {
    const f = forecaster.forecastDay(d);
    const y = data.prices.subarray(d * HOURS, (d + 1) * HOURS);
    for (let h = 0; h < HOURS; h++) if (y[h]! >= f.p10[h]! && y[h]! <= f.p90[h]!) inside++;
    p50.set(f.p50, (d - firstBacktest) * HOURS);
    forecaster.observe(f, y);
    progress(d - firstBacktest + 1, backtestDays + 1);
  }
  // The shipped calibration: every row up to the last day, as for forecasting the day after it.
  forecaster.calibrate(days, true);
  progress(backtestDays + 1, backtestDays + 1);
  const [bandLow, bandHigh] = forecaster.band();
  const model: PriceModel = {
    p: featureCount(data.exog.length),
    branches: forecaster.lastBranches,
    mlp: forecaster.mlp ?? [],
    mlpWeight: options.mlp ? options.mlpWeight : 0,
    bandLow,
    bandHigh,
  };
  const card: Omit<ModelCard, 'sha256'> = {
    name: `hepek-price-${path
      .basename(source)
      .replace(/\.csv$/i, '')
      .toLowerCase()}`,
    kind: 'day-ahead price forecaster: LEAR ensemble' + (options.mlp ? ' + MLP ensemble' : ''),
    inputs: {
      name: 'features',
      shape: ['N', model.p],
      dtype: 'float64',
      units:
        'prices in the price unit of the training data (per MWh), exogenous series in their own unit (MW), dow 0/1',
      features: featureNames(data.exog.length),
    },
    outputs: ['p10', 'p50', 'p90'].map((name) => ({
      name,
      shape: ['N', HOURS],
      dtype: 'float64',
      units: 'price per MWh (the training data unit), hours 0..23 of the forecast day',
    })),
    trainingData: {
      file: path.basename(source),
      columns: data.columns,
      from: data.days[0]!,
      to: data.days[days - 1]!,
      days,
    },
    members: [
      ...model.branches.map((b) => `LEAR window ${b.windowDays} d`),
      ...model.mlp.map((m) => `MLP ${mlpShape(m.p, m)} seed ${m.seed}`),
    ],
    backtest: {
      from: data.days[firstBacktest]!,
      to: data.days[days - 1]!,
      days: backtestDays,
      mae: mae(actual, p50),
      smape: smape(actual, p50),
      bandCoverage: inside / actual.length,
    },
  };
  const onnx = exportPriceModel(model, { name: card.name, trainedTo: card.trainingData.to });
  return { model, card: { ...card, sha256: sha256(onnx) }, onnx };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes model.onnx, model.json and card.json into `dir`. */
export function writeModel(dir: string, result: TrainResult): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'model.onnx'), result.onnx);
  writeFileSync(path.join(dir, 'model.json'), `${JSON.stringify(priceModelToJson(result.model))}\n`);
  writeFileSync(path.join(dir, 'card.json'), `${JSON.stringify(result.card, null, 2)}\n`);
}
