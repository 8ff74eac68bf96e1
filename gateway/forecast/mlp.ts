/**
 * The neural member: a ReLU perceptron with one hidden layer (two with `hidden2`) on the same
 * features as LEAR (same asinh transform), 24 outputs at once, trained in plain TypeScript with
 * Adam on the absolute error (optional dropout on the hidden units).
 * Several seeds are averaged, like the published DNN ensemble. Retrained on a schedule, warm
 * from the previous weights, on the days before the forecast day only.
 */
import { type PriceDataset } from './dataset';
import { FIRST_FEATURE_DAY, HOURS, windowScalers } from './lear';

export interface MlpOptions {
  hidden: number;
  /** Width of a second hidden layer; 0 for one hidden layer. */
  hidden2: number;
  /** Training window in days. */
  windowDays: number;
  /** Epochs of the first training and of each warm retraining. */
  epochs: number;
  fineTuneEpochs: number;
  retrainDays: number;
  learningRate: number;
  batch: number;
  /** L2 penalty on the weights. */
  weightDecay: number;
  /** Dropout rate on the hidden units while training (inverted: kept units scaled by 1/(1 − rate)). */
  dropout: number;
  seeds: number[];
}

export const DEFAULT_MLP: MlpOptions = {
  hidden: 64,
  hidden2: 0,
  windowDays: 1456,
  epochs: 80,
  fineTuneEpochs: 8,
  retrainDays: 7,
  learningRate: 1e-3,
  batch: 32,
  weightDecay: 1e-3,
  dropout: 0,
  seeds: [1, 2, 3, 4],
};

/** The same seeds with a second hidden layer of 32 (247-64-32-24); shipped beside DEFAULT_MLP. */
export const TWO_LAYER_MLP: MlpOptions = { ...DEFAULT_MLP, hidden2: 32 };

/** A network's layer widths, inputs to outputs, e.g. "247-64-32-24" (for cards and reports). */
export function mlpShape(p: number, net: { hidden: number; hidden2: number }): string {
  return [p, net.hidden, ...(net.hidden2 > 0 ? [net.hidden2] : []), HOURS].join('-');
}

export interface MlpModel {
  p: number;
  hidden: number;
  xCenter: Float64Array;
  xScale: Float64Array;
  transformed: Uint8Array;
  /** hidden×p row-major. */
  w1: Float64Array;
  b1: Float64Array;
  /** Second hidden layer (hidden2×hidden row-major), absent with one hidden layer. */
  hidden2: number;
  wh: Float64Array;
  bh: Float64Array;
  /** 24×(hidden2 || hidden) row-major. */
  w2: Float64Array;
  b2: Float64Array;
  yCenter: Float64Array;
  yScale: Float64Array;
  seed: number;
}

/** mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  constructor(
    private readonly params: Float64Array,
    private readonly lr: number,
    private readonly decay: number,
  ) {
    this.m = new Float64Array(params.length);
    this.v = new Float64Array(params.length);
  }
  step(grad: Float64Array, t: number): void {
    this.t = t;
    const b1 = 0.9;
    const b2 = 0.999;
    const c1 = 1 - Math.pow(b1, this.t);
    const c2 = 1 - Math.pow(b2, this.t);
    const { params, m, v, lr, decay } = this;
    for (let i = 0; i < params.length; i++) {
      const g = grad[i]! + decay * params[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * g;
      v[i] = b2 * v[i]! + (1 - b2) * g * g;
      params[i] = params[i]! - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-8);
    }
  }
}

/** Transformed inputs of one feature row. */
function transformRow(model: MlpModel, x: ArrayLike<number>, offset: number, z: Float64Array): void {
  for (let j = 0; j < model.p; j++) {
    const v = x[offset + j]!;
    z[j] = model.transformed[j] ? Math.asinh((v - model.xCenter[j]!) / model.xScale[j]!) : v;
  }
}

/**
 * Trains one model per seed on the days before `day`. With `previous` each model starts from the
 * previous weights and trains `fineTuneEpochs`; the scalers are refitted on the new window.
 */
export function trainMlp(
  data: PriceDataset,
  features: Float64Array,
  day: number,
  opts: MlpOptions,
  previous: MlpModel[] | null,
): MlpModel[] {
  const p = features.length / data.days.length;
  const first = Math.max(FIRST_FEATURE_DAY, day - opts.windowDays);
  const n = day - first;
  const { xCenter, xScale, transformed, yCenter, yScale } = windowScalers(data, features, p, first, day);
  const y = new Float64Array(n * HOURS);
  for (let i = 0; i < n; i++)
    for (let h = 0; h < HOURS; h++)
      y[i * HOURS + h] = Math.asinh((data.prices[(first + i) * HOURS + h]! - yCenter[h]!) / yScale[h]!);
  return opts.seeds.map((seed, s) => {
    const H = opts.hidden;
    const H2 = opts.hidden2;
    const last = H2 > 0 ? H2 : H;
    const prev = previous?.[s];
    const rand = rng(seed * 7919 + day);
    const init = (rows: number, cols: number, gain: number) =>
      new Float64Array(rows * cols).map(() => gaussian(rand) * Math.sqrt(gain / cols));
    const model: MlpModel = {
      p,
      hidden: H,
      hidden2: H2,
      xCenter,
      xScale,
      transformed,
      w1: prev ? Float64Array.from(prev.w1) : init(H, p, 2),
      b1: prev ? Float64Array.from(prev.b1) : new Float64Array(H),
      wh: prev ? Float64Array.from(prev.wh) : H2 > 0 ? init(H2, H, 2) : new Float64Array(0),
      bh: prev ? Float64Array.from(prev.bh) : new Float64Array(H2),
      w2: prev ? Float64Array.from(prev.w2) : init(HOURS, last, 1),
      b2: prev ? Float64Array.from(prev.b2) : new Float64Array(HOURS),
      yCenter,
      yScale,
      seed,
    };
    const z = new Float64Array(n * p);
    for (let i = 0; i < n; i++)
      transformRow(model, features, (first + i) * p, z.subarray(i * p, (i + 1) * p));
    fit(model, z, y, n, prev ? opts.fineTuneEpochs : opts.epochs, opts, rand);
    return model;
  });
}

interface Dense {
  w: Float64Array;
  b: Float64Array;
  rows: number;
  cols: number;
}

/** The model's layers, input first; every one but the last is followed by a ReLU. */
function layers(model: MlpModel): Dense[] {
  const { p, hidden: H, hidden2: H2 } = model;
  const out: Dense[] = [{ w: model.w1, b: model.b1, rows: H, cols: p }];
  if (H2 > 0) out.push({ w: model.wh, b: model.bh, rows: H2, cols: H });
  out.push({ w: model.w2, b: model.b2, rows: HOURS, cols: H2 > 0 ? H2 : H });
  return out;
}

/** s = W·x + b; ReLU applied in place when `relu`. */
function forward(layer: Dense, x: Float64Array, xo: number, s: Float64Array, relu: boolean): void {
  const { w, b, rows, cols } = layer;
  for (let k = 0; k < rows; k++) {
    let v = b[k]!;
    const row = k * cols;
    for (let j = 0; j < cols; j++) v += w[row + j]! * x[xo + j]!;
    s[k] = relu && v < 0 ? 0 : v;
  }
}

function fit(
  model: MlpModel,
  z: Float64Array,
  y: Float64Array,
  n: number,
  epochs: number,
  opts: MlpOptions,
  rand: () => number,
): void {
  const net = layers(model);
  const L = net.length;
  // One gradient buffer and one Adam state per tensor.
  const gw = net.map((l) => new Float64Array(l.w.length));
  const gb = net.map((l) => new Float64Array(l.b.length));
  const adams = net.flatMap((l) => [
    new Adam(l.w, opts.learningRate, opts.weightDecay),
    new Adam(l.b, opts.learningRate, 0),
  ]);
  // Activations (after ReLU) of every layer but the output, and the backward deltas.
  const acts = net.map((l) => new Float64Array(l.rows));
  const deltas = net.map((l) => new Float64Array(l.rows));
  const order = new Int32Array(n).map((_, i) => i);
  const keep = 1 / (1 - opts.dropout);
  let t = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const k = Math.floor(rand() * (i + 1));
      const tmp = order[i]!;
      order[i] = order[k]!;
      order[k] = tmp;
    }
    for (let start = 0; start < n; start += opts.batch) {
      const end = Math.min(n, start + opts.batch);
      for (let l = 0; l < L; l++) {
        gw[l]!.fill(0);
        gb[l]!.fill(0);
      }
      const scale = 1 / ((end - start) * HOURS);
      for (let b = start; b < end; b++) {
        const i = order[b]!;
        for (let l = 0; l < L; l++) {
          const act = acts[l]!;
          forward(net[l]!, l === 0 ? z : acts[l - 1]!, l === 0 ? i * model.p : 0, act, l < L - 1);
          if (l < L - 1 && opts.dropout > 0)
            for (let k = 0; k < act.length; k++) act[k] = rand() < opts.dropout ? 0 : act[k]! * keep;
        }
        const out = acts[L - 1]!;
        const go = deltas[L - 1]!;
        for (let h = 0; h < HOURS; h++) {
          const d = out[h]! - y[i * HOURS + h]!;
          go[h] = d > 0 ? scale : d < 0 ? -scale : 0;
        }
        for (let l = L - 1; l >= 0; l--) {
          const { w, rows, cols } = net[l]!;
          const delta = deltas[l]!;
          const input = l === 0 ? z : acts[l - 1]!;
          const io = l === 0 ? i * cols : 0;
          const gwl = gw[l]!;
          const gbl = gb[l]!;
          const below = l > 0 ? deltas[l - 1]! : null;
          below?.fill(0);
          for (let k = 0; k < rows; k++) {
            const g = delta[k]!;
            if (g === 0) continue;
            gbl[k] = gbl[k]! + g;
            const row = k * cols;
            for (let j = 0; j < cols; j++) gwl[row + j] = gwl[row + j]! + g * input[io + j]!;
            if (below) for (let j = 0; j < cols; j++) below[j] = below[j]! + g * w[row + j]!;
          }
          if (below) {
            const a = acts[l - 1]!;
            for (let j = 0; j < cols; j++)
              below[j] = a[j] === 0 ? 0 : opts.dropout > 0 ? below[j]! * keep : below[j]!;
          }
        }
      }
      t++;
      for (let l = 0; l < L; l++) {
        adams[2 * l]!.step(gw[l]!, t);
        adams[2 * l + 1]!.step(gb[l]!, t);
      }
    }
  }
}

/** Forecast (24 prices) of one model for one feature row. */
export function predictMlp(model: MlpModel, x: ArrayLike<number>, offset = 0): Float64Array {
  const net = layers(model);
  let a = new Float64Array(model.p);
  transformRow(model, x, offset, a);
  net.forEach((layer, l) => {
    const s = new Float64Array(layer.rows);
    forward(layer, a, 0, s, l < net.length - 1);
    a = s;
  });
  const out = new Float64Array(HOURS);
  for (let h = 0; h < HOURS; h++) out[h] = Math.sinh(a[h]!) * model.yScale[h]! + model.yCenter[h]!;
  return out;
}
