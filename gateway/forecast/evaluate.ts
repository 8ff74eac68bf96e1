/**
 * `hepek forecast eval`: a daily-recalibrated backtest over a test period, scored like the
 * epftoolbox benchmark, optionally beside the published LEAR and DNN ensembles.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, InputError } from '../errors';
import { dayIndex, type PriceDataset } from './dataset';
import { HOURS } from './lear';
import { mae, rmae, smape } from './metrics';
import { type DayForecast, Forecaster, type ForecasterOptions } from './rolling';

export interface EvalResult {
  mae: number | null;
  rmae: number | null;
  smape: number | null;
  maeLear: number | null;
  maeDnn: number | null;
}

export interface EvalRun {
  result: EvalResult;
  forecasts: DayForecast[];
  /** Share of hours whose price fell inside [P10, P90] (0.8 when calibrated). */
  bandCoverage: number | null;
  published: { lear: Metrics; dnn: Metrics } | null;
  ours: Metrics;
  seconds: number;
  /** The forecaster as calibrated for the last test day (for export or latency). */
  forecaster: Forecaster;
}

export interface Metrics {
  mae: number | null;
  rmae: number | null;
  smape: number | null;
}

export type Progress = (done: number, total: number) => void;

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Day indices of the test period, refusing dates outside the data or in the wrong order. */
export function testRange(data: PriceDataset, from: string, to: string): [number, number] {
  for (const [flag, value] of [
    ['--test-from', from],
    ['--test-to', to],
  ] as const)
    if (!DATE.test(value)) throw new ConfigError(flag, value, 'a date YYYY-MM-DD');
  const first = dayIndex(data, from);
  const last = dayIndex(data, to);
  const span = `a day in the data (${data.days[0]} .. ${data.days[data.days.length - 1]})`;
  if (first < 0) throw new ConfigError('--test-from', from, span);
  if (last < 0) throw new ConfigError('--test-to', to, span);
  if (last < first) throw new ConfigError('--test-to', to, `a day on or after --test-from ${from}`);
  return [first, last];
}

function score(actual: Float64Array, forecast: Float64Array): Metrics {
  if (actual.some(Number.isNaN)) return { mae: null, rmae: null, smape: null };
  return { mae: mae(actual, forecast), rmae: rmae(actual, forecast), smape: smape(actual, forecast) };
}

/** Reads a published forecasts file (epftoolbox layout) and returns the LEAR and DNN ensembles for the test hours. */
export function readPublished(file: string, timestamps: string[]): { lear: Float64Array; dnn: Float64Array } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('--compare', file, 'a readable CSV of published forecasts', { cause: err });
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines[0]?.split(',').map((c) => c.trim()) ?? [];
  const learCol = header.indexOf('LEAR Ensemble');
  const dnnCol = header.indexOf('DNN Ensemble');
  if (learCol < 0 || dnnCol < 0)
    throw new InputError(`${file} row 1 (header)`, lines[0], 'columns "LEAR Ensemble" and "DNN Ensemble"');
  const byStamp = new Map<string, [number, number]>();
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i]!.split(',');
    const lear = Number(cells[learCol]);
    const dnn = Number(cells[dnnCol]);
    if (!Number.isFinite(lear) || !Number.isFinite(dnn))
      throw new InputError(`${file} row ${i + 1}`, lines[i], 'numbers in "LEAR Ensemble" and "DNN Ensemble"');
    byStamp.set(cells[0]!.trim(), [lear, dnn]);
  }
  const lear = new Float64Array(timestamps.length);
  const dnn = new Float64Array(timestamps.length);
  timestamps.forEach((t, i) => {
    const hit = byStamp.get(t);
    if (!hit) throw new InputError(`${file}`, t, 'a row for every hour of the test period');
    [lear[i], dnn[i]] = hit;
  });
  return { lear, dnn };
}

/**
 * Forecasts every day of [first, last], each from rows before it plus its exogenous columns, then
 * hands its realised prices to the forecaster for later P10/P90 bands.
 */
export function evaluate(
  data: PriceDataset,
  first: number,
  last: number,
  options: ForecasterOptions,
  compare: string | null,
  progress: Progress = () => {},
): EvalRun {
  const started = Date.now();
  const forecaster = new Forecaster(data, options);
  const forecasts: DayForecast[] = [];
  const total = last - first + 1;
  progress(0, total);
  for (let d = first; d <= last; d++) {
    const f = forecaster.forecastDay(d);
    forecasts.push(f);
    const actual = data.prices.subarray(d * HOURS, (d + 1) * HOURS);
    if (!actual.some(Number.isNaN)) forecaster.observe(f, actual);
    progress(d - first + 1, total);
  }
  const actual = data.prices.slice(first * HOURS, (last + 1) * HOURS);
  const p50 = new Float64Array(actual.length);
  forecasts.forEach((f, i) => p50.set(f.p50, i * HOURS));
  const ours = score(actual, p50);
  let inside = 0;
  let counted = 0;
  forecasts.forEach((f, i) => {
    for (let h = 0; h < HOURS; h++) {
      const y = actual[i * HOURS + h]!;
      if (Number.isNaN(y) || f.p10[h] === f.p90[h]) continue;
      counted++;
      if (y >= f.p10[h]! && y <= f.p90[h]!) inside++;
    }
  });
  let published: EvalRun['published'] = null;
  if (compare) {
    const stamps = data.timestamps.slice(first * HOURS, (last + 1) * HOURS);
    const pub = readPublished(compare, stamps);
    published = { lear: score(actual, pub.lear), dnn: score(actual, pub.dnn) };
  }
  return {
    result: {
      mae: ours.mae,
      rmae: ours.rmae,
      smape: ours.smape,
      maeLear: published?.lear.mae ?? null,
      maeDnn: published?.dnn.mae ?? null,
    },
    forecasts,
    bandCoverage: counted > 0 ? inside / counted : null,
    published,
    ours,
    seconds: (Date.now() - started) / 1000,
    forecaster,
  };
}

/** `timestamp,forecast` rows (the P50), timestamps exactly as in the input. */
export function forecastsCsv(data: PriceDataset, forecasts: DayForecast[]): string {
  const rows = ['timestamp,forecast'];
  for (const f of forecasts)
    for (let h = 0; h < HOURS; h++) rows.push(`${data.timestamps[f.day * HOURS + h]},${round(f.p50[h]!)}`);
  return `${rows.join('\n')}\n`;
}

function round(v: number): string {
  return String(Math.round(v * 1e6) / 1e6);
}

/** A progress bar on stderr: redrawn in place on a terminal, a line per 10 % otherwise. */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  let lastTenth = -1;
  const started = Date.now();
  return (done, total) => {
    const share = total === 0 ? 1 : done / total;
    const elapsed = (Date.now() - started) / 1000;
    const eta = done > 0 ? (elapsed / done) * (total - done) : NaN;
    const text = `${label} ${done}/${total} days ${(share * 100).toFixed(0)}%${Number.isFinite(eta) && done < total ? ` eta ${Math.ceil(eta)} s` : ''}`;
    if (stream.isTTY) {
      const width = 30;
      const filled = Math.round(share * width);
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\u001b[K`);
      if (done === total) stream.write('\n');
    } else {
      const tenth = Math.floor(share * 10);
      if (tenth !== lastTenth) {
        lastTenth = tenth;
        stream.write(`${text}\n`);
      }
    }
  };
}
