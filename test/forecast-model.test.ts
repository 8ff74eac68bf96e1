import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { OnnxPriceModel } from '../gateway/forecast/inference';
import { featureCount, HOURS } from '../gateway/forecast/lear';
import {
  clearSkyGhi,
  exportLinearOnnx,
  fitLoadModel,
  fitPvModel,
  forecastLoad,
  forecastPv,
  loadFeatureCount,
  type Series,
} from '../gateway/forecast/load-pv';
import { type MlpModel, predictMlp } from '../gateway/forecast/mlp';
import {
  exportPriceModel,
  type PriceModel,
  predictPriceModel,
  priceModelFromJson,
  priceModelToJson,
} from '../gateway/forecast/onnx';
import { DEFAULT_PRICE_MODEL, requestFeatures } from '../gateway/forecast/service';
import { sha256, type ModelCard } from '../gateway/forecast/train';
import { mae } from '../gateway/forecast/metrics';
import { parseDataset } from '../gateway/forecast/dataset';
import hepekPriceForecast from '../nodes/hepek-price-forecast/hepek-price-forecast';
import { AT, CATCH, CAUGHT, coreNode, helper, lastStatus, nextMessage, OUT, TAB } from './helpers/node-red';
import { csvRows, dataFile } from './helpers/data';

const ROOT = path.resolve(__dirname, '..');
const MODELS = path.join(ROOT, 'models');
const shipped = readdirSync(MODELS, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

function loadModel(name: string): { card: ModelCard; model: PriceModel; onnx: Buffer } {
  const dir = path.join(MODELS, name);
  return {
    card: JSON.parse(readFileSync(path.join(dir, 'card.json'), 'utf8')) as ModelCard,
    model: priceModelFromJson(JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'))),
    onnx: readFileSync(path.join(dir, 'model.onnx')),
  };
}

/** Plausible feature rows: each raw value near its training median, ± a few MADs; dummies one-hot. */
function rows(model: PriceModel, count: number): Float64Array {
  const b = model.branches[model.branches.length - 1]!;
  const out = new Float64Array(count * model.p);
  let seed = 3;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  for (let r = 0; r < count; r++)
    for (let j = 0; j < model.p; j++)
      out[r * model.p + j] = b.transformed[j]
        ? b.xCenter[j]! + 3 * rand() * b.xScale[j]!
        : j - (model.p - 7) === r % 7
          ? 1
          : 0;
  return out;
}

// ---------------------------------------------------------------------------------------------
const models = suite('shipped price models');

models('there is at least the default model', () => {
  assert.ok(shipped.includes(path.basename(path.dirname(DEFAULT_PRICE_MODEL))), shipped.join(', '));
});

for (const name of shipped) {
  models(`${name}: the card describes the model and its sha256 matches model.onnx`, () => {
    const { card, model, onnx } = loadModel(name);
    assert.is(card.sha256, sha256(onnx));
    assert.equal(card.inputs.shape, ['N', model.p]);
    assert.is(card.inputs.features.length, model.p);
    assert.equal(
      card.outputs.map((o) => o.name),
      ['p10', 'p50', 'p90'],
    );
    for (const o of card.outputs) assert.match(o.units, /per MWh/);
    assert.match(card.inputs.units, /MW/);
    assert.ok(card.trainingData.days > 0 && card.trainingData.from < card.trainingData.to);
    assert.ok(card.backtest.mae > 0, 'out-of-sample metrics on the card');
    assert.is(card.members.length, model.branches.length + model.mlp.length);
  });

  models(`${name}: onnxruntime gives the TypeScript model's P10/P50/P90`, async () => {
    const { model, onnx } = loadModel(name);
    const session = await OnnxPriceModel.open(onnx);
    try {
      const n = 7;
      const x = rows(model, n);
      const out = await session.run(x, n);
      for (let r = 0; r < n; r++) {
        const ts = predictPriceModel(model, x, r * model.p);
        for (const q of ['p10', 'p50', 'p90'] as const)
          for (let h = 0; h < HOURS; h++) {
            const a = out[r]![q][h]!;
            const b = ts[q][h]!;
            assert.ok(
              Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)),
              `row ${r} ${q}[${h}]: onnx ${a} vs ts ${b}`,
            );
          }
      }
    } finally {
      await session.close();
    }
  });
}

models('two hidden layers: onnxruntime, the exported reference and the forecaster agree', async () => {
  const shippedModel = loadModel('price-np').model;
  const b = shippedModel.branches[0]!;
  let seed = 11;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const weights = (count: number, gain: number) => new Float64Array(count).map(() => gain * rand());
  const [H, H2, p] = [6, 4, shippedModel.p];
  const mlp: MlpModel = {
    p,
    hidden: H,
    hidden2: H2,
    xCenter: b.xCenter,
    xScale: b.xScale,
    transformed: b.transformed,
    w1: weights(H * p, 0.3),
    b1: weights(H, 0.5),
    wh: weights(H2 * H, 0.8),
    bh: weights(H2, 0.5),
    w2: weights(HOURS * H2, 0.5),
    b2: weights(HOURS, 0.2),
    yCenter: b.yCenter,
    yScale: b.yScale,
    seed: 1,
  };
  const model = priceModelFromJson(
    JSON.parse(JSON.stringify(priceModelToJson({ ...shippedModel, mlp: [mlp], mlpWeight: 0.7 }))),
  );
  assert.is(model.mlp[0]!.hidden2, H2);
  const session = await OnnxPriceModel.open(exportPriceModel(model));
  try {
    const n = 5;
    const x = rows(model, n);
    const out = await session.run(x, n);
    for (let r = 0; r < n; r++) {
      const ts = predictPriceModel(model, x, r * p);
      const lear = predictPriceModel({ ...model, mlp: [] }, x, r * p).p50;
      const member = predictMlp(mlp, x, r * p);
      for (let h = 0; h < HOURS; h++) {
        const a = out[r]!.p50[h]!;
        const want = 0.3 * lear[h]! + 0.7 * member[h]!;
        assert.ok(Math.abs(a - ts.p50[h]!) <= 1e-9 * Math.max(1, Math.abs(a)), `row ${r} [${h}] onnx ${a}`);
        assert.ok(Math.abs(want - ts.p50[h]!) <= 1e-9 * Math.max(1, Math.abs(want)), `row ${r} [${h}] ts`);
      }
    }
    // The second layer matters: without it the same first layer gives other forecasts.
    const one = { ...mlp, hidden2: 0, w2: weights(HOURS * H, 0.5) };
    assert.not.equal(Array.from(predictMlp(one, x, 0)), Array.from(predictMlp(mlp, x, 0)));
    // One- and two-layer networks in one model (the mixed ensemble) export and agree too.
    const mixed = { ...model, mlp: [mlp, one], mlpWeight: 0.5 };
    const both = await OnnxPriceModel.open(exportPriceModel(mixed));
    try {
      const got = await both.run(x, n);
      for (let r = 0; r < n; r++) {
        const lear = predictPriceModel({ ...model, mlp: [] }, x, r * p).p50;
        const [m1, m2] = [predictMlp(mlp, x, r * p), predictMlp(one, x, r * p)];
        for (let h = 0; h < HOURS; h++) {
          const want = 0.5 * lear[h]! + 0.25 * (m1[h]! + m2[h]!);
          const a = got[r]!.p50[h]!;
          assert.ok(Math.abs(a - want) <= 1e-9 * Math.max(1, Math.abs(a)), `mixed row ${r} [${h}] onnx ${a}`);
        }
      }
    } finally {
      await both.close();
    }
  } finally {
    await session.close();
  }
});

models('the NP model forecasts a real Nord Pool day within a few EUR/MWh', async () => {
  // Real data: the day after the training data is not in the file, so take its last day, which
  // the model was calibrated on (an in-sample check that the feature layout is the right one).
  const file = dataFile('prices/NP.csv');
  if (!file) return;
  const data = parseDataset(readFileSync(file, 'utf8'), file);
  const { model } = loadModel('price-np');
  const d = data.days.length - 1;
  const request = {
    date: data.days[d]!,
    prices: Array.from(data.prices.subarray((d - 7) * HOURS, d * HOURS)),
    exogenous: data.exog.map((s) => Array.from(s.subarray((d - 7) * HOURS, (d + 1) * HOURS))),
  };
  const p50 = predictPriceModel(model, requestFeatures(request, 2)).p50;
  assert.ok(mae(data.prices.subarray(d * HOURS, (d + 1) * HOURS), p50) < 5);
});

// ---------------------------------------------------------------------------------------------
const node = suite('hepek-price-forecast node');
node.before(() => helper.startServer());
node.after(() => helper.stopServer());
node.after.each(() => helper.unload());

const FORECAST = { id: 'fc', type: 'hepek-price-forecast', z: 'f1', ...AT, model: '', wires: [['out']] };

function request(date = '2019-01-07') {
  const prices = Array.from(
    { length: 7 * HOURS },
    (_, i) => 40 + 8 * Math.sin(((i % 24) - 6) * (Math.PI / 12)),
  );
  const load = Array.from(
    { length: 8 * HOURS },
    (_, i) => 45000 + 9000 * Math.sin(((i % 24) - 6) * (Math.PI / 12)),
  );
  const wind = Array.from({ length: 8 * HOURS }, () => 3000);
  return { date, prices, exogenous: [load, wind] };
}

node('sends P10/P50/P90 equal to the TypeScript model, with the request kept', async () => {
  await helper.load([hepekPriceForecast], [TAB, FORECAST, OUT]);
  const reply = nextMessage(helper.getNode('out'), 10_000);
  const payload = request();
  helper.getNode('fc').receive({ payload });
  const msg = await reply;
  const out = msg.payload as {
    date: string;
    p10: number[];
    p50: number[];
    p90: number[];
    unit: string;
    model: string;
  };
  const { model } = loadModel('price-np');
  const ts = predictPriceModel(model, requestFeatures(payload, 2));
  assert.is(out.date, '2019-01-07');
  assert.is(out.unit, 'per MWh');
  assert.is(out.model, 'hepek-price-np');
  assert.is(out.p50.length, HOURS);
  for (let h = 0; h < HOURS; h++) {
    assert.ok(Math.abs(out.p50[h]! - ts.p50[h]!) < 1e-9, `p50[${h}]`);
    assert.ok(out.p10[h]! <= out.p50[h]! && out.p50[h]! <= out.p90[h]!, `band order at ${h}`);
  }
  assert.equal(msg.request, payload);
  assert.is(lastStatus(helper.getNode('fc'))?.fill, 'green');
});

const BAD: [string, unknown, RegExp][] = [
  [
    'no exogenous',
    { ...request(), exogenous: undefined },
    /msg\.payload\.exogenous: undefined .*2 exogenous series/,
  ],
  [
    'too few prices',
    { ...request(), prices: [1, 2, 3] },
    /msg\.payload\.prices: \[1,2,3\] .*at least 168 hourly numbers/,
  ],
  ['a bad date', { ...request(), date: '7.1.2019' }, /msg\.payload\.date: "7\.1\.2019" .*YYYY-MM-DD/],
  [
    'a string price',
    { ...request(), prices: [...request().prices.slice(1), '40'] },
    /msg\.payload\.prices\[167\]: "40" .*a finite number/,
  ],
];
for (const [name, payload, message] of BAD)
  node(`refuses ${name} naming the field, via Catch, with no output`, async () => {
    await helper.load([hepekPriceForecast], [TAB, FORECAST, OUT, CATCH, CAUGHT]);
    const caught = nextMessage(helper.getNode('caught'), 10_000);
    let sent = 0;
    helper.getNode('out').on('input', () => sent++);
    helper.getNode('fc').receive({ payload });
    const msg = await caught;
    assert.match((msg.error as { message: string }).message, message);
    assert.is(sent, 0);
    assert.is(lastStatus(helper.getNode('fc'))?.fill, 'red');
  });

node('the example flow forecasts from its inject node', async () => {
  const flow = JSON.parse(readFileSync(path.join(ROOT, 'flows', 'price-forecast.json'), 'utf8')) as object[];
  await helper.load(
    [coreNode('20-inject.js'), coreNode('21-debug.js'), coreNode('90-comment.js'), hepekPriceForecast],
    flow,
  );
  const shown = nextMessage(helper.getNode('pf.debug'), 10_000);
  helper.getNode('pf.inject').receive({});
  const out = (await shown).payload as { p50: number[] };
  assert.is(out.p50.length, HOURS);
  assert.ok(out.p50.every((v) => Number.isFinite(v)));
});

node('a model path that is not .onnx is refused naming the model field', async () => {
  await helper.load([hepekPriceForecast], [TAB, { ...FORECAST, model: 'weights.bin' }, OUT, CATCH, CAUGHT]);
  const caught = nextMessage(helper.getNode('caught'), 10_000);
  helper.getNode('fc').receive({ payload: request() });
  assert.match(((await caught).error as { message: string }).message, /model: "weights\.bin" .*model\.onnx/);
});

// ---------------------------------------------------------------------------------------------
const loadPv = suite('load and PV forecasts');
const SITE = { latitudeDeg: 45.83, longitudeDeg: 6.86 };
const START = Date.UTC(2022, 4, 1);

loadPv('load: learns a daily and weekly pattern and forecasts the next day from it', () => {
  const days = 27; // the forecast day is a Saturday after a Friday: yesterday is a poor guess
  const shape = (i: number) => {
    const t = START + i * 3_600_000;
    const weekend = [0, 6].includes(new Date(t).getUTCDay());
    return 300 + 400 * Math.max(0, Math.sin(((i % 24) - 6) * (Math.PI / 12))) + (weekend ? 200 : 0);
  };
  const values = Array.from({ length: days * 24 }, (_, i) => shape(i));
  const series: Series = { startMs: START, stepMinutes: 60, values };
  const model = fitLoadModel(series);
  const next = forecastLoad(model, series);
  const truth = Array.from({ length: 24 }, (_, h) => shape(days * 24 + h));
  const naive = values.slice(-24);
  assert.ok(mae(truth, naive) > 150, 'the weekend step is really there');
  assert.ok(mae(truth, next) < 20, `mae ${mae(truth, next)} W`);
});

loadPv('PV: recovers the installation factor from clear-sky days and follows cloud cover', () => {
  const perDay = 48;
  const values = Array.from(
    { length: 10 * perDay },
    (_, i) => 2.5 * clearSkyGhi(START + i * 1_800_000, 30, SITE),
  );
  const model = fitPvModel({ startMs: START, stepMinutes: 30, values }, SITE);
  assert.ok(Math.abs(model.wattsPerIrradiance - 2.5) < 1e-9);
  const clear = forecastPv(model, START + 10 * 86_400_000);
  const cloudy = forecastPv(model, START + 10 * 86_400_000, Array<number>(perDay).fill(1));
  assert.is(clear[0], 0, 'no PV at midnight UTC');
  assert.ok(Math.max(...clear) > 1500 && Math.max(...clear) < 2800, `peak ${Math.max(...clear)} W`);
  assert.ok(Math.abs(cloudy[24]! - 0.25 * clear[24]!) < 1e-9, 'overcast keeps a quarter');
});

loadPv('load model exported to ONNX gives the TypeScript forecast', async () => {
  const values = Array.from({ length: 21 * 24 }, (_, i) => 500 + 100 * Math.sin(i / 3) + (i % 7) * 10);
  const model = fitLoadModel({ startMs: START, stepMinutes: 60, values });
  const p = loadFeatureCount(60);
  const x = Float64Array.from({ length: 2 * p }, (_, j) => (j % 5) * 0.3);
  const ort = (await import('onnxruntime-node')) as typeof import('onnxruntime-node');
  const session = await ort.InferenceSession.create(exportLinearOnnx(model.weights, model.bias, 'load'));
  const out = (await session.run({ features: new ort.Tensor('float64', x, [2, p]) })).forecast!
    .data as Float64Array;
  for (let r = 0; r < 2; r++) {
    let ts = model.bias;
    for (let j = 0; j < p; j++) ts += model.weights[j]! * x[r * p + j]!;
    assert.ok(Math.abs(out[r]! - ts) < 1e-9);
  }
  await session.release();
});

loadPv('real EMHASS household: beats yesterday-as-forecast for load on the last day', () => {
  // Real data: nine days of a real household's 30-minute load and PV (EMHASS test set).
  const file = dataFile('load_pv/opt_res_perfect_optim_cost.csv');
  if (!file) return;
  const rows = csvRows(file);
  const pv = rows.map((r) => Number(r[1]));
  const load = rows.map((r) => Number(r[2]));
  const startMs = Date.parse(rows[0]![0]!.replace(' ', 'T'));
  const perDay = 48;
  const days = Math.floor(load.length / perDay);
  const history = load.slice(0, (days - 1) * perDay);
  const truth = load.slice((days - 1) * perDay, days * perDay);
  const model = fitLoadModel({ startMs, stepMinutes: 30, values: history });
  const next = forecastLoad(model, { startMs, stepMinutes: 30, values: history });
  const naive = history.slice(-perDay);
  assert.ok(
    mae(truth, next) <= mae(truth, naive) * 1.05,
    `model ${mae(truth, next)} vs naive ${mae(truth, naive)}`,
  );
  const pvModel = fitPvModel({ startMs, stepMinutes: 30, values: pv.slice(0, (days - 1) * perDay) }, SITE);
  const pvNext = forecastPv(pvModel, startMs + (days - 1) * 86_400_000);
  const pvTruth = pv.slice((days - 1) * perDay, days * perDay);
  // The clear-sky shape puts production in the right hours: no PV forecast at night.
  pvTruth.forEach((v, i) => {
    if (pvNext[i] === 0) assert.ok(v < 50, `slot ${i}: ${v} W measured while the sun is down`);
  });
  assert.ok(featureCount(2) > 0);
});

models.run();
node.run();
loadPv.run();
