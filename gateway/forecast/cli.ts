/**
 * `hepek forecast train|eval`. Flags and the JSON keys of `--out` are the contract.
 */
import { writeFileSync } from 'node:fs';
import { ConfigError } from '../errors';
import { readDataset } from './dataset';
import { evaluate, forecastsCsv, progressBar, testRange } from './evaluate';
import { DEFAULT_MLP, TWO_LAYER_MLP } from './mlp';
import { DEFAULT_FORECASTER, type ForecasterOptions } from './rolling';
import { trainPriceModel, writeModel } from './train';

export const FORECAST_FLAGS = {
  train: ['--csv', '--out', '--model', '--backtest-days'],
  eval: ['--csv', '--test-from', '--test-to', '--out', '--forecasts-out', '--compare', '--model'],
};

export const FORECAST_USAGE = `  forecast train --csv PATH --out DIR [--model M] [--backtest-days N]
                        calibrate the price forecaster on every row, write model.onnx, model.json, card.json
  forecast eval --csv PATH --test-from YYYY-MM-DD --test-to YYYY-MM-DD --out FILE.json
                [--forecasts-out FILE.csv] [--compare PUBLISHED.csv] [--model M]
                        daily-recalibrated backtest: MAE, rMAE, sMAPE (and the published LEAR/DNN)
                        M: ensemble (default), lear, one-layer or two-layer (LEAR with those networks only)
`;

function required(flags: Map<string, string>, name: string, sub: string): string {
  const value = flags.get(name);
  if (value === undefined)
    throw new ConfigError(name, undefined, `a value: "hepek forecast ${sub}" needs ${name}`);
  return value;
}

/** `--model` values: the full ensemble (default), LEAR alone (faster), or LEAR with one kind of network. */
export const FORECAST_MODELS: Record<string, ForecasterOptions> = {
  ensemble: DEFAULT_FORECASTER,
  lear: { ...DEFAULT_FORECASTER, mlp: null },
  'one-layer': { ...DEFAULT_FORECASTER, mlp: DEFAULT_MLP },
  'two-layer': { ...DEFAULT_FORECASTER, mlp: TWO_LAYER_MLP },
};

export function forecasterOptions(flags: Map<string, string>): ForecasterOptions {
  const model = flags.get('--model') ?? 'ensemble';
  const options = Object.hasOwn(FORECAST_MODELS, model) ? FORECAST_MODELS[model] : undefined;
  if (!options) throw new ConfigError('--model', model, `one of ${Object.keys(FORECAST_MODELS).join(', ')}`);
  return options;
}

function fmt(v: number | null, digits = 3): string {
  return v === null ? 'n/a' : v.toFixed(digits);
}

export async function forecastCommand(sub: string, flags: Map<string, string>): Promise<number> {
  if (sub === 'train') {
    const csv = required(flags, '--csv', sub);
    const out = required(flags, '--out', sub);
    const raw = flags.get('--backtest-days') ?? '28';
    const backtestDays = Number(raw);
    if (!Number.isInteger(backtestDays) || backtestDays < 1 || backtestDays > 365)
      throw new ConfigError('--backtest-days', raw, 'an integer 1..365');
    const options = forecasterOptions(flags);
    const data = readDataset(csv);
    const result = trainPriceModel(data, options, backtestDays, csv, progressBar('train'));
    writeModel(out, result);
    const { card } = result;
    process.stdout.write(
      `trained ${card.name} on ${card.trainingData.from} .. ${card.trainingData.to} (${card.members.length} members)\n` +
        `backtest ${card.backtest.from} .. ${card.backtest.to}: MAE ${fmt(card.backtest.mae)}, sMAPE ${fmt(card.backtest.smape, 2)} %, ` +
        `P10-P90 coverage ${(card.backtest.bandCoverage * 100).toFixed(0)} %\n` +
        `wrote ${out}/model.onnx (sha256 ${card.sha256}), model.json, card.json\n`,
    );
    return 0;
  }
  if (sub === 'eval') {
    const csv = required(flags, '--csv', sub);
    const from = required(flags, '--test-from', sub);
    const to = required(flags, '--test-to', sub);
    const out = required(flags, '--out', sub);
    const options = forecasterOptions(flags);
    const data = readDataset(csv);
    const [first, last] = testRange(data, from, to);
    const run = evaluate(data, first, last, options, flags.get('--compare') ?? null, progressBar('eval'));
    const rows: [string, { mae: number | null; rmae: number | null; smape: number | null }][] = [
      ['hepek', run.ours],
    ];
    if (run.published)
      rows.push(
        ['published LEAR ensemble', run.published.lear],
        ['published DNN ensemble', run.published.dnn],
      );
    let text = `test ${from} .. ${to} (${last - first + 1} days, ${run.seconds.toFixed(0)} s)\n`;
    text += `${'model'.padEnd(26)}${'MAE'.padStart(9)}${'rMAE'.padStart(9)}${'sMAPE %'.padStart(9)}\n`;
    for (const [name, m] of rows)
      text += `${name.padEnd(26)}${fmt(m.mae).padStart(9)}${fmt(m.rmae).padStart(9)}${fmt(m.smape, 2).padStart(9)}\n`;
    if (run.bandCoverage !== null)
      text += `P10-P90 coverage ${(run.bandCoverage * 100).toFixed(1)} % (target 80 %)\n`;
    process.stdout.write(text);
    writeFileSync(out, `${JSON.stringify(run.result, null, 2)}\n`);
    const forecastsOut = flags.get('--forecasts-out');
    if (forecastsOut) writeFileSync(forecastsOut, forecastsCsv(data, run.forecasts));
    return 0;
  }
  throw new ConfigError('forecast command', sub, 'train or eval (see hepek help)');
}
