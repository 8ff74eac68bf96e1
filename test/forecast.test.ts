import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../gateway/errors';
import { parseDataset, type PriceDataset } from '../gateway/forecast/dataset';
import { evaluate, forecastsCsv } from '../gateway/forecast/evaluate';
import { lassoAic } from '../gateway/forecast/lasso';
import { featureCount, HOURS } from '../gateway/forecast/lear';
import { mae, rmae, smape } from '../gateway/forecast/metrics';
import { DEFAULT_MLP, type MlpOptions, TWO_LAYER_MLP } from '../gateway/forecast/mlp';
import { DEFAULT_FORECASTER, type ForecasterOptions, mlpGroups } from '../gateway/forecast/rolling';
import { forecastCommand, forecasterOptions } from '../gateway/forecast/cli';
import { main } from '../gateway/cli';
import { csvRows, dataFile } from './helpers/data';

/** A small, fast configuration that still runs every member (two LEAR windows and the MLP). */
const SMALL: ForecasterOptions = {
  ...DEFAULT_FORECASTER,
  windows: [28, 56],
  reselectDays: 2,
  mlp: { ...DEFAULT_MLP, hidden: 8, windowDays: 56, epochs: 3, fineTuneEpochs: 1, retrainDays: 2 },
  quantileDays: 10,
};

/** Deterministic synthetic market: daily and weekly shape, load-driven, AR noise. */
function syntheticCsv(days: number, header = 'Date, Price, Load forecast, '): string {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const rows = [header];
  let noise = 0;
  for (let d = 0; d < days; d++) {
    const date = new Date(Date.UTC(2020, 0, 1) + d * 86_400_000).toISOString().slice(0, 10);
    for (let h = 0; h < HOURS; h++) {
      const load = 1000 + 300 * Math.sin(((h - 6) * Math.PI) / 12) - (d % 7 >= 5 ? 150 : 0) + 20 * rand();
      const wind = 200 + 150 * Math.sin(d / 3) + 30 * rand();
      noise = 0.7 * noise + rand();
      const price = 20 + 0.03 * load - 0.02 * wind + 2 * noise;
      rows.push(
        `${date} ${String(h).padStart(2, '0')}:00:00,${price.toFixed(2)},${load.toFixed(1)},${wind.toFixed(1)}`,
      );
    }
  }
  return `${rows.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
const metrics = suite('metrics');

metrics('MAE and sMAPE of hand-computed cases', () => {
  assert.is(mae([10, 20, 30], [12, 18, 30]), 4 / 3);
  // 2|y−ŷ|/(|y|+|ŷ|): 2·2/22 + 2·2/38 + 0, mean, in %
  assert.ok(Math.abs(smape([10, 20, 30], [12, 18, 30]) - (100 * (4 / 22 + 4 / 38)) / 3) < 1e-12);
  assert.is(smape([0, 5], [0, 5]), 0, 'y = ŷ = 0 counts as 0');
  assert.throws(
    () => mae([1, 2], [1]),
    (e: unknown) =>
      e instanceof InputError && /forecast\.length: 1 .*expected 2, the length of actual/.test(e.message),
  );
  assert.throws(
    () => smape([], []),
    (e: unknown) => e instanceof InputError && /actual\.length: 0 .*at least one value/.test(e.message),
  );
  assert.throws(() => mae([1, 2], [1, NaN]), /forecast\[1\]: .* expected a number, not NaN/);
  assert.throws(() => rmae([NaN], [1]), /actual\[0\]: .* expected a number, not NaN/);
});

metrics('rMAE: full-period MAE over the weekly naive MAE with its first week dropped', () => {
  // 8 days; week 1 prices 10, week 2 prices 14 → naive error 4 on days 8; forecast off by 1 everywhere.
  const actual = [...Array<number>(168).fill(10), ...Array<number>(24).fill(14)];
  const forecast = actual.map((v) => v + 1);
  assert.is(rmae(actual, forecast), 1 / 4);
  assert.is(rmae(actual.slice(0, 168), forecast.slice(0, 168)), null, 'one week: no naive forecast');
});

metrics('rMAE reproduces the published NP DNN figure (0.407)', () => {
  const file = dataFile('prices/epftoolbox_forecasts/Forecasts_NP_DNN_LEAR_ensembles.csv');
  if (!file) return;
  const rows = csvRows(file);
  const value = rmae(
    rows.map((r) => Number(r[1])),
    rows.map((r) => Number(r[6])),
  )!;
  assert.is(value.toFixed(3), '0.407');
});

// ---------------------------------------------------------------------------------------------
const csv = suite('dataset CSV');

const GOOD = syntheticCsv(2);
function edit(text: string, line: number, replace: (l: string) => string): string {
  const lines = text.split('\n');
  lines[line - 1] = replace(lines[line - 1]!);
  return lines.join('\n');
}
function refusal(text: string): InputError {
  try {
    parseDataset(text, 'x.csv');
  } catch (err) {
    assert.instance(err, InputError);
    return err as InputError;
  }
  return assert.unreachable('expected an InputError') as never;
}

csv('reads the epftoolbox layout by position, headers blank or spaced', () => {
  const data = parseDataset(GOOD, 'x.csv');
  assert.equal(data.columns, ['Date', 'Price', 'Load forecast', '']);
  assert.is(data.exog.length, 2);
  assert.equal(data.days, ['2020-01-01', '2020-01-02']);
  assert.is(data.timestamps[25], '2020-01-02 01:00:00');
});

const MALFORMED: [string, string, RegExp][] = [
  [
    'missing column',
    edit(GOOD, 5, (l) => l.split(',').slice(0, 3).join(',')),
    /^x\.csv row 5: .* 4 comma-separated cells/,
  ],
  ['bad number', edit(GOOD, 7, (l) => l.replace(/,[^,]+$/, ',12,5x')), /^x\.csv row 7: .* 4 comma-separated/],
  [
    'bad number in a cell',
    edit(GOOD, 7, (l) => l.replace(/,[^,]+$/, ',abc')),
    /^x\.csv row 7 column 4: "abc" .*expected a number$/,
  ],
  [
    'bad price',
    edit(GOOD, 9, (l) => l.replace(/,[^,]+,/, ',n/a,')),
    /^x\.csv row 9 column 2 "Price": "n\/a" .*a number, or blank/,
  ],
  [
    'gap',
    edit(GOOD, 10, (l) => l.replace(' 08:00', ' 09:00')),
    /^x\.csv row 10 column 1 "Date": "2020-01-01 09:00:00" .*no gap/,
  ],
  [
    'duplicate hour',
    edit(GOOD, 10, (l) => l.replace(' 08:00', ' 07:00')),
    /^x\.csv row 10 column 1 "Date": .*duplicate hour/,
  ],
  [
    'bad timestamp',
    edit(GOOD, 3, (l) => l.replace('2020-01-01', '2020-13-01')),
    /^x\.csv row 3 column 1 "Date".*YYYY-MM-DD HH:00:00/,
  ],
  [
    'blank exogenous',
    edit(GOOD, 4, (l) => l.replace(/,[^,]+$/, ',')),
    /^x\.csv row 4 column 4: "" .*a number$/,
  ],
];
for (const [name, text, message] of MALFORMED)
  csv(`refuses a ${name}, naming row and column`, () => {
    assert.match(refusal(text).message, message);
  });

csv('refuses a partial last day', () => {
  const lines = GOOD.trim().split('\n');
  assert.match(refusal(lines.slice(0, -1).join('\n')).message, /^x\.csv row 48 .*the last row at hour 23:00/);
});

// ---------------------------------------------------------------------------------------------
const lasso = suite('lasso');

lasso('recovers a sparse linear model from its Gram matrix', () => {
  const n = 400;
  const p = 10;
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const x = Array.from({ length: n }, () => Array.from({ length: p }, rand));
  const y = x.map((r) => 3 * r[0]! - 2 * r[4]! + 0.01 * rand());
  const gram = new Float64Array(p * p);
  const cov = new Float64Array(p);
  let yy = 0;
  // The columns are nearly centred already; exact centring is the caller's job and does not matter here.
  for (let i = 0; i < n; i++) {
    yy += (y[i]! * y[i]!) / n;
    for (let j = 0; j < p; j++) {
      cov[j] = cov[j]! + (x[i]![j]! * y[i]!) / n;
      for (let k = 0; k < p; k++) gram[j * p + k] = gram[j * p + k]! + (x[i]![j]! * x[i]![k]!) / n;
    }
  }
  const fit = lassoAic({ p, n, gram }, cov, yy);
  assert.ok(Math.abs(fit.beta[0]! - 3) < 0.02, `beta0 ${fit.beta[0]}`);
  assert.ok(Math.abs(fit.beta[4]! + 2) < 0.02, `beta4 ${fit.beta[4]}`);
});

// ---------------------------------------------------------------------------------------------
const leakage = suite('leakage');

leakage(
  'blanking or changing the forecast day and cutting every later row leaves the forecast unchanged',
  () => {
    const text = syntheticCsv(90);
    const full = parseDataset(text, 'full.csv');
    const day = 80;
    const lines = text.trim().split('\n');
    // Rows of day 80 are lines 1 + 80·24 + 1 … 1 + 81·24; everything after is cut.
    const upTo = lines.slice(0, 1 + (day + 1) * HOURS);
    const blanked = upTo.map((l, i) => (i > day * HOURS ? l.replace(/^([^,]+),[^,]*,/, '$1,,') : l));
    const changed = upTo.map((l, i) => (i > day * HOURS ? l.replace(/^([^,]+),[^,]*,/, '$1,999,') : l));
    const variants: [string, PriceDataset][] = [
      ['blanked', parseDataset(`${blanked.join('\n')}\n`, 'blanked.csv')],
      ['changed', parseDataset(`${changed.join('\n')}\n`, 'changed.csv')],
    ];
    assert.ok(Number.isNaN(variants[0]![1].prices[day * HOURS]!), 'the blanked day is really blank');
    const reference = evaluate(full, day - 3, day, SMALL, null);
    for (const [name, data] of variants) {
      const run = evaluate(data, day - 3, day, SMALL, null);
      for (let i = 0; i < 4; i++) {
        assert.equal(
          Array.from(run.forecasts[i]!.p50),
          Array.from(reference.forecasts[i]!.p50),
          `${name} p50 day ${i}`,
        );
        assert.equal(
          Array.from(run.forecasts[i]!.p10),
          Array.from(reference.forecasts[i]!.p10),
          `${name} p10 day ${i}`,
        );
        assert.equal(
          Array.from(run.forecasts[i]!.p90),
          Array.from(reference.forecasts[i]!.p90),
          `${name} p90 day ${i}`,
        );
      }
      if (name === 'blanked') assert.is(run.result.mae, null, "no score without the day's prices");
    }
    // And the forecast does depend on the past: changing yesterday's prices moves it.
    const past = parseDataset(text.replace(/^(2020-03-20 12:00:00),[^,]*,/m, '$1,500,'), 'past.csv');
    const moved = evaluate(past, day, day, SMALL, null);
    assert.not.equal(Array.from(moved.forecasts[0]!.p50), Array.from(reference.forecasts[3]!.p50));
  },
);

leakage('a day without 21 days of history before it is refused, naming it', () => {
  const data = parseDataset(syntheticCsv(30), 'x.csv');
  assert.throws(
    () => evaluate(data, 10, 10, SMALL, null),
    /forecast day: "2020-01-11" .*at least 21 days of history/,
  );
});

// ---------------------------------------------------------------------------------------------
const groups = suite('MLP groups');

groups('several option sets train side by side; every network counts once in the MLP average', () => {
  const data = parseDataset(syntheticCsv(80), 'groups.csv');
  const one = SMALL.mlp as MlpOptions;
  const two: MlpOptions = { ...one, hidden2: 4, seeds: [7], retrainDays: 3 };
  const alone = evaluate(data, 70, 75, SMALL, null);
  const listed = evaluate(data, 70, 75, { ...SMALL, mlp: [one] }, null);
  const both = evaluate(data, 70, 75, { ...SMALL, mlp: [one, two] }, null);
  const second = evaluate(data, 70, 75, { ...SMALL, mlp: two }, null);
  assert.is(both.forecaster.mlp!.length, one.seeds.length + two.seeds.length);
  assert.is(both.forecaster.mlp![one.seeds.length]!.hidden2, 4, 'group after group');
  const n1 = one.seeds.length;
  const n = n1 + two.seeds.length;
  both.forecasts.forEach((f, i) => {
    assert.equal(Array.from(listed.forecasts[i]!.p50), Array.from(alone.forecasts[i]!.p50), 'a list of one');
    assert.is(f.mlpGroups.length, 2);
    // Each group trains on its own schedule exactly as it would alone.
    assert.equal(Array.from(f.mlpGroups[0]!), Array.from(alone.forecasts[i]!.mlp!), `group 1 day ${i}`);
    assert.equal(Array.from(f.mlpGroups[1]!), Array.from(second.forecasts[i]!.mlp!), `group 2 day ${i}`);
    for (let h = 0; h < HOURS; h++) {
      const expected = (n1 * f.mlpGroups[0]![h]! + (n - n1) * f.mlpGroups[1]![h]!) / n;
      assert.ok(Math.abs(f.mlp![h]! - expected) < 1e-9, `mlp day ${i} hour ${h}`);
      const p50 = (1 - SMALL.mlpWeight) * f.lear[h]! + SMALL.mlpWeight * f.mlp![h]!;
      assert.ok(Math.abs(f.p50[h]! - p50) < 1e-9, `p50 day ${i} hour ${h}`);
    }
  });
  assert.equal(evaluate(data, 70, 70, { ...SMALL, mlp: null }, null).forecasts[0]!.mlpGroups, []);
});

async function rejects(run: () => Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await run();
  } catch (err) {
    assert.match((err as Error).message, message);
    return;
  }
  assert.unreachable(`expected a rejection matching ${message}`);
}

// ---------------------------------------------------------------------------------------------
const cli = suite('hepek forecast eval', { dir: '' });

cli.before.each((ctx) => {
  ctx.dir = mkdtempSync(path.join(os.tmpdir(), 'hepek-forecast-'));
});
cli.after.each((ctx) => {
  rmSync(ctx.dir, { recursive: true, force: true });
});

cli(
  'one day of NP against the published ensembles: exact keys, rMAE null, 24 forecast rows',
  async ({ dir }) => {
    // Real data: the point is the epftoolbox layout and the published file as they really are.
    const file = dataFile('prices/NP.csv');
    const published = dataFile('prices/epftoolbox_forecasts/Forecasts_NP_DNN_LEAR_ensembles.csv');
    if (!file || !published) return;
    const out = path.join(dir, 'o.json');
    const forecasts = path.join(dir, 'f.csv');
    const flags = new Map([
      ['--csv', file],
      ['--test-from', '2017-03-01'],
      ['--test-to', '2017-03-01'],
      ['--out', out],
      ['--forecasts-out', forecasts],
      ['--compare', published],
      ['--model', 'lear'],
    ]);
    const started = Date.now();
    assert.is(await forecastCommand('eval', flags), 0);
    assert.ok(Date.now() - started < 600_000, 'a one-day window finishes within 10 minutes');
    const result = JSON.parse(readFileSync(out, 'utf8')) as Record<string, number | null>;
    assert.equal(Object.keys(result), ['mae', 'rmae', 'smape', 'maeLear', 'maeDnn']);
    assert.is(result.rmae, null);
    // A LEAR forecast of Nord Pool on a quiet day is within a few EUR/MWh, like the published ones.
    assert.ok(result.mae! > 0 && result.mae! < 5, `mae ${result.mae}`);
    assert.ok(result.maeLear! > 0 && result.maeDnn! > 0);
    const rows = readFileSync(forecasts, 'utf8').trim().split('\n');
    assert.is(rows.length, 25);
    assert.is(rows[0], 'timestamp,forecast');
    assert.match(rows[1]!, /^2017-03-01 00:00:00,\d+(\.\d+)?$/);
    assert.match(rows[24]!, /^2017-03-01 23:00:00,/);
  },
);

cli('refuses dates outside the data and reversed periods, naming the flag', async ({ dir }) => {
  const file = path.join(dir, 'x.csv');
  (await import('node:fs')).writeFileSync(file, syntheticCsv(40));
  const base = (from: string, to: string) =>
    new Map([
      ['--csv', file],
      ['--test-from', from],
      ['--test-to', to],
      ['--out', path.join(dir, 'o.json')],
    ]);
  await rejects(
    () => forecastCommand('eval', base('2019-01-01', '2020-01-30')),
    /--test-from: "2019-01-01" .*a day in the data \(2020-01-01 \.\. 2020-02-09\)/,
  );
  await rejects(
    () => forecastCommand('eval', base('2020-01-30', '2020-01-29')),
    /--test-to: "2020-01-29" .*on or after --test-from/,
  );
  await rejects(
    () => forecastCommand('eval', base('2020-1-30', '2020-01-29')),
    /--test-from: "2020-1-30" .*YYYY-MM-DD/,
  );
  const model = base('2020-01-30', '2020-01-30');
  model.set('--model', 'dnn');
  await rejects(
    () => forecastCommand('eval', model),
    /--model: "dnn" is not allowed; expected one of ensemble, lear, one-layer, two-layer/,
  );
  // A name inherited from Object is not a model either.
  assert.throws(() => forecasterOptions(new Map([['--model', 'toString']])), /--model: "toString"/);
  assert.equal(mlpGroups(forecasterOptions(new Map([['--model', 'two-layer']]))), [TWO_LAYER_MLP]);
  assert.equal(mlpGroups(forecasterOptions(new Map())), [DEFAULT_MLP, TWO_LAYER_MLP]);
  for (const days of ['0', '366', '2.5', 'x']) {
    const train = new Map([
      ['--csv', file],
      ['--out', path.join(dir, 'o.json')],
      ['--backtest-days', days],
    ]);
    await rejects(
      () => forecastCommand('train', train),
      new RegExp(`--backtest-days: "${days}" .*an integer 1\\.\\.365`),
    );
  }
  assert.not.ok(existsSync(path.join(dir, 'o.json')), 'nothing written on a refusal');
});

async function runMain(argv: string[]): Promise<{ code: number; stderr: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = ((chunk: string) => {
    stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  try {
    process.exitCode = 0;
    await main(argv);
    return { code: Number(process.exitCode), stderr };
  } finally {
    process.stderr.write = write;
    process.exitCode = 0;
  }
}

cli('hepek forecast: bad usage exits 2, a malformed CSV exits 1 naming row and column', async ({ dir }) => {
  const bad = path.join(dir, 'bad.csv');
  (await import('node:fs')).writeFileSync(
    bad,
    edit(syntheticCsv(2), 7, (l) => l.replace(/,[^,]+$/, ',abc')),
  );
  const usage = await runMain(['forecast', 'predict']);
  assert.is(usage.code, 2);
  assert.match(usage.stderr, /forecast command: "predict" .*train or eval/);
  const missing = await runMain(['forecast', 'eval', '--csv', bad]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /--test-from: undefined .*needs --test-from/);
  const flags = ['--test-from', '2020-01-02', '--test-to', '2020-01-02', '--out', path.join(dir, 'o.json')];
  const malformed = await runMain(['forecast', 'eval', '--csv', bad, ...flags]);
  assert.is(malformed.code, 1);
  assert.match(malformed.stderr, /bad\.csv row 7 column 4: "abc" is not allowed; expected a number/);
});

cli('forecasts CSV keeps the input timestamps and one row per hour', () => {
  const data = parseDataset(syntheticCsv(40), 'x.csv');
  const run = evaluate(data, 35, 36, SMALL, null);
  const rows = forecastsCsv(data, run.forecasts).trim().split('\n');
  assert.is(rows.length, 1 + 2 * HOURS);
  assert.is(rows[1]!.split(',')[0], data.timestamps[35 * HOURS]);
  assert.is(featureCount(2), 96 + 144 + 7);
});

metrics.run();
csv.run();
lasso.run();
leakage.run();
groups.run();
cli.run();
