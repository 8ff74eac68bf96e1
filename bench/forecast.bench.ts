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
 *   npm run bench -- forecast --model one-layer         LEAR with the four 247-64-24 networks only
 *   npm run bench -- forecast --model two-layer         LEAR with the four 247-64-32-24 networks only
 *   npm run bench -- forecast --seeds 5,6,7,8           other seeds for every MLP group
 *
 * Besides the P50 each part keeps its members' forecasts (LEAR, each MLP group), so the merge also
 * scores LEAR alone, each group alone and each group ½/½ with LEAR over the same days.
 *
 * On a crowded machine a market's period can be split over processes and merged afterwards
 * (each part starts cold: its own first AIC path and first MLP training; no data leaks across):
 *   npm run bench -- forecast --market NP --part 1/2 &  npm run bench -- forecast --market NP --part 2/2
 *   npm run bench -- forecast --merge 2
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readDataset } from '../gateway/forecast/dataset';
import { evaluate, progressBar, readPublished, testRange } from '../gateway/forecast/evaluate';
import { mae, rmae, smape } from '../gateway/forecast/metrics';
import { OnnxPriceModel } from '../gateway/forecast/inference';
import {
  exportPriceModel,
  type PriceModel,
  priceModelFromJson,
  priceModelToJson,
} from '../gateway/forecast/onnx';
import { ConfigError } from '../gateway/errors';
import { forecasterOptions } from '../gateway/forecast/cli';
import { type ForecasterOptions, mlpGroups as mlpGroupsOf } from '../gateway/forecast/rolling';
import { mlpShape } from '../gateway/forecast/mlp';
import { weekday, writeFeatures } from '../gateway/forecast/lear';
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

interface Part {
  first: number;
  last: number;
  p10: number[];
  p50: number[];
  p90: number[];
  /** The members' forecasts over the same hours: LEAR, and each MLP group's average. */
  lear: number[];
  mlpGroups: number[][];
  /** Names of the MLP groups, e.g. "247-64-24 ×4". */
  groupNames: string[];
  seconds: number;
  model: unknown;
}

const HOURS = 24;
const dataDir = path.resolve(process.env.HEPEK_DATA ?? path.join(__dirname, '..', '..', 'shared', 'data'));
const outDir = path.join(__dirname, 'out');
const partFile = (market: string, i: number, n: number) =>
  path.join(outDir, `forecast-${market}.part${i}of${n}.json`);

/** `--seeds 5,6,7,8`: other seeds for every MLP group (to grow an ensemble run by run). */
function withSeeds(options: ForecasterOptions, seeds: string | undefined): ForecasterOptions {
  if (seeds === undefined) return options;
  const list = seeds.split(',').map(Number);
  if (!list.every((n) => Number.isInteger(n) && n > 0))
    throw new ConfigError('--seeds', seeds, 'positive whole numbers separated by commas, e.g. 5,6,7,8');
  return { ...options, mlp: mlpGroupsOf(options).map((m) => ({ ...m, seeds: list })) };
}

/** Forecasts days [from, to] of the market's test period and writes the part file. */
function runPart(market: string, i: number, n: number, days: number | null): void {
  const period = PERIODS[market];
  if (!period) throw new Error(`--market ${market}: expected one of ${Object.keys(PERIODS).join(', ')}`);
  const which = option('--model');
  const options = withSeeds(forecasterOptions(new Map(which ? [['--model', which]] : [])), option('--seeds'));
  const data = readDataset(path.join(dataDir, 'prices', `${market}.csv`));
  const [start, lastFull] = testRange(data, period[0], period[1]);
  const last = days ? Math.min(lastFull, start + days - 1) : lastFull;
  const total = last - start + 1;
  const first = start + Math.floor(((i - 1) * total) / n);
  const end = start + Math.floor((i * total) / n) - 1;
  const run = evaluate(data, first, end, options, null, progressBar(n > 1 ? `${market} ${i}/${n}` : market));
  const { forecaster } = run;
  const model: PriceModel = {
    p: forecaster.p,
    branches: forecaster.lastBranches,
    mlp: forecaster.mlp ?? [],
    mlpWeight: options.mlp ? options.mlpWeight : 0,
    bandLow: new Float64Array(HOURS),
    bandHigh: new Float64Array(HOURS),
  };
  const flat = (q: 'p10' | 'p50' | 'p90' | 'lear') => run.forecasts.flatMap((f) => Array.from(f[q]));
  const groups = mlpGroupsOf(options);
  const part: Part = {
    first,
    last: end,
    p10: flat('p10'),
    p50: flat('p50'),
    p90: flat('p90'),
    lear: flat('lear'),
    mlpGroups: groups.map((_, g) => run.forecasts.flatMap((f) => Array.from(f.mlpGroups[g]!))),
    groupNames: groups.map((m) => `${mlpShape(forecaster.p, m)} ×${m.seeds.length}`),
    seconds: run.seconds,
    model: priceModelToJson(model),
  };
  writeFileSync(partFile(market, i, n), JSON.stringify(part));
}

/** Joins a market's parts, scores them beside the published ensembles, records the figures. */
async function merge(market: string, n: number): Promise<Array<[string, string]>> {
  const parts = Array.from(
    { length: n },
    (_, k) => JSON.parse(readFileSync(partFile(market, k + 1, n), 'utf8')) as Part,
  );
  const data = readDataset(path.join(dataDir, 'prices', `${market}.csv`));
  const first = parts[0]!.first;
  const last = parts[n - 1]!.last;
  parts.forEach((p, k) => {
    if (k > 0 && p.first !== parts[k - 1]!.last + 1)
      throw new Error(`${market}: part ${k + 1} does not follow part ${k}`);
  });
  const p50 = Float64Array.from(parts.flatMap((p) => p.p50));
  const p10 = parts.flatMap((p) => p.p10);
  const p90 = parts.flatMap((p) => p.p90);
  const actual = data.prices.slice(first * HOURS, (last + 1) * HOURS);
  const stamps = data.timestamps.slice(first * HOURS, (last + 1) * HOURS);
  const pub = readPublished(
    path.join(dataDir, 'prices', 'epftoolbox_forecasts', `Forecasts_${market}_DNN_LEAR_ensembles.csv`),
    stamps,
  );
  const lines = ['timestamp,forecast', ...stamps.map((t, k) => `${t},${Math.round(p50[k]! * 1e6) / 1e6}`)];
  writeFileSync(path.join(outDir, `forecast-${market}.csv`), `${lines.join('\n')}\n`);
  let inside = 0;
  let counted = 0;
  actual.forEach((y, k) => {
    if (p10[k] === p90[k]) return;
    counted++;
    if (y >= p10[k]! && y <= p90[k]!) inside++;
  });
  const ms = await inferenceP50Ms(
    priceModelFromJson(parts[n - 1]!.model),
    data.prices.length > 0 ? featureRow(data, last) : new Float64Array(),
  );
  const result = {
    mae: mae(actual, p50),
    rmae: rmae(actual, p50),
    smape: smape(actual, p50),
    maeLear: mae(actual, pub.lear),
    maeDnn: mae(actual, pub.dnn),
    inferenceP50Ms: ms,
  };
  const jsonFile = path.join(outDir, 'forecast.json');
  // A run over some markets keeps the others' recorded figures.
  const recorded = existsSync(jsonFile)
    ? (JSON.parse(readFileSync(jsonFile, 'utf8')) as Record<string, unknown>)
    : {};
  writeFileSync(jsonFile, `${JSON.stringify({ ...recorded, [market]: result }, null, 2)}\n`);
  const f = (v: number | null, d = 3) => (v === null ? 'n/a' : v.toFixed(d));
  const seconds = parts.reduce((a, p) => a + p.seconds, 0);
  // Members over the same hours (parts written before members were kept have none).
  const memberRows: Array<[string, string]> = [];
  if (parts.every((p) => p.lear?.length === p.p50.length)) {
    const lear = Float64Array.from(parts.flatMap((p) => p.lear));
    memberRows.push([`${market} MAE our LEAR alone`, f(mae(actual, lear))]);
    (parts[0]!.groupNames ?? []).forEach((name, g) => {
      const group = Float64Array.from(parts.flatMap((p) => p.mlpGroups[g]!));
      const half = lear.map((v, k) => (v + group[k]!) / 2);
      memberRows.push([
        `${market} MAE MLP ${name} alone / ½ with LEAR`,
        `${f(mae(actual, group))} / ${f(mae(actual, half))}`,
      ]);
    });
  }
  return [
    [
      `${market} days`,
      `${last - first + 1} (${data.days[first]} .. ${data.days[last]}), ${n} part(s), ${seconds.toFixed(0)} s`,
    ],
    [`${market} MAE hepek / LEAR / DNN`, `${f(result.mae)} / ${f(result.maeLear)} / ${f(result.maeDnn)}`],
    [
      `${market} rMAE hepek / LEAR / DNN`,
      `${f(result.rmae)} / ${f(rmae(actual, pub.lear))} / ${f(rmae(actual, pub.dnn))}`,
    ],
    [
      `${market} sMAPE % hepek / LEAR / DNN`,
      `${f(result.smape, 2)} / ${f(smape(actual, pub.lear), 2)} / ${f(smape(actual, pub.dnn), 2)}`,
    ],
    ...memberRows,
    [`${market} P10-P90 coverage`, counted ? `${((100 * inside) / counted).toFixed(1)} %` : 'n/a'],
    [`${market} ONNX inference p50`, `${ms.toFixed(3)} ms`],
  ];
}

function featureRow(data: ReturnType<typeof readDataset>, day: number): Float64Array {
  const p = 96 + 72 * data.exog.length + 7;
  const out = new Float64Array(p);
  writeFeatures(
    data.prices.subarray(0, day * HOURS),
    data.exog.map((s) => s.subarray(0, (day + 1) * HOURS)),
    weekday(data.days[day]!),
    out,
  );
  return out;
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  const markets = option('--market') ? [option('--market')!] : Object.keys(PERIODS);
  const days = option('--days') ? Number(option('--days')) : null;
  const mergeParts = option('--merge');
  const partSpec = option('--part');
  if (partSpec) {
    const [i, n] = partSpec.split('/').map(Number);
    if (!Number.isInteger(i) || !Number.isInteger(n) || i! < 1 || i! > n!)
      throw new Error(`--part ${partSpec}: expected i/n`);
    for (const market of markets) runPart(market, i!, n!, days);
    return;
  }
  const rows: Array<[string, string]> = [];
  for (const market of markets) {
    if (!mergeParts) runPart(market, 1, 1, days);
    rows.push(...(await merge(market, mergeParts ? Number(mergeParts) : 1)));
  }
  const recorded = JSON.parse(readFileSync(path.join(outDir, 'forecast.json'), 'utf8')) as Record<
    string,
    number
  >;
  report('forecast', rows, recorded);
}

void main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
