/**
 * The price forecaster on the epftoolbox benchmark: for each market, the standard 728-day test
 * period forecast day by day (recalibrated on the rows before each day), scored beside the
 * published LEAR and DNN ensembles, plus the p50 latency of one ONNX inference of the model as
 * calibrated on the last test day. Keeps the hourly P50 in bench/out/forecast-<market>.csv for
 * the arbitrage benchmark.
 *
 *   npm run bench -- forecast                           all markets, full periods (the recorded figures)
 *   npm run bench -- forecast --market NP --days 14     a quick look
 *   npm run bench -- forecast --model lear              LEAR alone
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readDataset } from '../gateway/forecast/dataset';
import { evaluate, forecastsCsv, progressBar, testRange } from '../gateway/forecast/evaluate';
import { OnnxPriceModel } from '../gateway/forecast/inference';
import { exportPriceModel, type PriceModel } from '../gateway/forecast/onnx';
import { DEFAULT_FORECASTER } from '../gateway/forecast/rolling';
import { report } from './report';

const PERIODS: Record<string, [string, string]> = {
  NP: ['2016-12-27', '2018-12-24'],
  PJM: ['2016-12-27', '2018-12-24'],
  BE: ['2015-01-04', '2016-12-31'],
};

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

async function inferenceP50Ms(model: PriceModel, row: Float64Array): Promise<number> {
  const onnx = await OnnxPriceModel.open(exportPriceModel(model));
  try {
    for (let i = 0; i < 50; i++) await onnx.run(row);
    const times: number[] = [];
    for (let i = 0; i < 500; i++) {
      const t = process.hrtime.bigint();
      await onnx.run(row);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    times.sort((a, b) => a - b);
    return times[times.length >> 1]!;
  } finally {
    await onnx.close();
  }
}

async function main() {
  const dataDir = path.resolve(process.env.HEPEK_DATA ?? path.join(__dirname, '..', '..', 'shared', 'data'));
  const markets = option('--market') ? [option('--market')!] : Object.keys(PERIODS);
  const days = option('--days') ? Number(option('--days')) : null;
  const options = option('--model') === 'lear' ? { ...DEFAULT_FORECASTER, mlp: null } : DEFAULT_FORECASTER;
  const outDir = path.join(__dirname, 'out');
  mkdirSync(outDir, { recursive: true });
  const jsonFile = path.join(outDir, 'forecast.json');
  // A run over some markets keeps the others' recorded figures (re-read before each write, so
  // runs of different markets side by side do not drop each other's).
  const recorded = (): Record<string, Record<string, number | null>> =>
    existsSync(jsonFile)
      ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as Record<string, Record<string, number | null>>)
      : {};
  let values = recorded();
  const rows: Array<[string, string]> = [];
  for (const market of markets) {
    const period = PERIODS[market];
    if (!period) throw new Error(`--market ${market}: expected one of ${Object.keys(PERIODS).join(', ')}`);
    const data = readDataset(path.join(dataDir, 'prices', `${market}.csv`));
    const [first, lastFull] = testRange(data, period[0], period[1]);
    const last = days ? Math.min(lastFull, first + days - 1) : lastFull;
    const compare = path.join(
      dataDir,
      'prices',
      'epftoolbox_forecasts',
      `Forecasts_${market}_DNN_LEAR_ensembles.csv`,
    );
    const run = evaluate(data, first, last, options, compare, progressBar(market));
    writeFileSync(path.join(outDir, `forecast-${market}.csv`), forecastsCsv(data, run.forecasts));
    // Latency of the shipped form: the model as calibrated for the last test day.
    const { forecaster } = run;
    const model: PriceModel = {
      p: forecaster.p,
      branches: forecaster.lastBranches,
      mlp: forecaster.mlp ?? [],
      mlpWeight: options.mlp ? options.mlpWeight : 0,
      bandLow: new Float64Array(24),
      bandHigh: new Float64Array(24),
    };
    const ms = await inferenceP50Ms(
      model,
      forecaster.features.slice(last * forecaster.p, (last + 1) * forecaster.p),
    );
    values = { ...recorded(), [market]: { ...run.result, inferenceP50Ms: ms } };
    const f = (v: number | null, d = 3) => (v === null ? 'n/a' : v.toFixed(d));
    rows.push(
      [
        `${market} days`,
        `${last - first + 1} (${data.days[first]} .. ${data.days[last]}), ${run.seconds.toFixed(0)} s`,
      ],
      [
        `${market} MAE hepek / LEAR / DNN`,
        `${f(run.ours.mae)} / ${f(run.published!.lear.mae)} / ${f(run.published!.dnn.mae)}`,
      ],
      [
        `${market} rMAE hepek / LEAR / DNN`,
        `${f(run.ours.rmae)} / ${f(run.published!.lear.rmae)} / ${f(run.published!.dnn.rmae)}`,
      ],
      [
        `${market} sMAPE % hepek / LEAR / DNN`,
        `${f(run.ours.smape, 2)} / ${f(run.published!.lear.smape, 2)} / ${f(run.published!.dnn.smape, 2)}`,
      ],
      [
        `${market} P10-P90 coverage`,
        run.bandCoverage === null ? 'n/a' : `${(run.bandCoverage * 100).toFixed(1)} %`,
      ],
      [`${market} ONNX inference p50`, `${ms.toFixed(3)} ms`],
    );
    writeFileSync(jsonFile, `${JSON.stringify(values, null, 2)}\n`);
  }
  report('forecast', rows, values as unknown as Record<string, number>);
}

void main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
