/**
 * The neural member: a one-hidden-layer perceptron on the same features as LEAR (same asinh
 * transform), 24 outputs at once, trained in plain TypeScript with Adam on the absolute error.
 * Several seeds are averaged, like the published DNN ensemble. Retrained on a schedule, warm
 * from the previous weights, on the days before the forecast day only.
 */
import { type PriceDataset } from './dataset';
import { FIRST_FEATURE_DAY, HOURS, windowScalers } from './lear';

export interface MlpOptions {
  hidden: number;
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
  seeds: number[];
}

export const DEFAULT_MLP: MlpOptions = {
  hidden: 64,
  windowDays: 1456,
  epochs: 80,
  fineTuneEpochs: 8,
  retrainDays: 7,
  learningRate: 1e-3,
  batch: 32,
  weightDecay: 1e-3,
  seeds: [1, 2, 3, 4],
};

export interface MlpModel {
  p: number;
  hidden: number;
  xCenter: Float64Array;
  xScale: Float64Array;
  transformed: Uint8Array;
  /** hidden×p row-major. */
  w1: Float64Array;
  b1: Float64Array;
  /** 24×hidden row-major. */
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
    const prev = previous?.[s];
    const rand = rng(seed * 7919 + day);
    const model: MlpModel = {
      p,
      hidden: H,
      xCenter,
      xScale,
      transformed,
      w1: prev
        ? Float64Array.from(prev.w1)
        : new Float64Array(H * p).map(() => gaussian(rand) * Math.sqrt(2 / p)),
      b1: prev ? Float64Array.from(prev.b1) : new Float64Array(H),
      w2: prev
        ? Float64Array.from(prev.w2)
        : new Float64Array(HOURS * H).map(() => gaussian(rand) * Math.sqrt(1 / H)),
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

function fit(
  model: MlpModel,
  z: Float64Array,
  y: Float64Array,
  n: number,
  epochs: number,
  opts: MlpOptions,
  rand: () => number,
): void {
  const { p, hidden: H } = model;
  // One flat parameter vector view per tensor, each with its own Adam state.
  const g1 = new Float64Array(H * p);
  const gb1 = new Float64Array(H);
  const g2 = new Float64Array(HOURS * H);
  const gb2 = new Float64Array(HOURS);
  const adams = [
    new Adam(model.w1, opts.learningRate, opts.weightDecay),
    new Adam(model.b1, opts.learningRate, 0),
    new Adam(model.w2, opts.learningRate, opts.weightDecay),
    new Adam(model.b2, opts.learningRate, 0),
  ];
  const a = new Float64Array(H);
  const go = new Float64Array(HOURS);
  const gh = new Float64Array(H);
  const order = new Int32Array(n).map((_, i) => i);
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
      g1.fill(0);
      gb1.fill(0);
      g2.fill(0);
      gb2.fill(0);
      const scale = 1 / ((end - start) * HOURS);
      for (let b = start; b < end; b++) {
        const i = order[b]!;
        const zi = i * p;
        for (let k = 0; k < H; k++) {
          let s = model.b1[k]!;
          const row = k * p;
          for (let j = 0; j < p; j++) s += model.w1[row + j]! * z[zi + j]!;
          a[k] = s > 0 ? s : 0;
        }
        for (let h = 0; h < HOURS; h++) {
          let o = model.b2[h]!;
          const row = h * H;
          for (let k = 0; k < H; k++) o += model.w2[row + k]! * a[k]!;
          const d = o - y[i * HOURS + h]!;
          go[h] = d > 0 ? scale : d < 0 ? -scale : 0;
        }
        gh.fill(0);
        for (let h = 0; h < HOURS; h++) {
          const g = go[h]!;
          if (g === 0) continue;
          gb2[h] = gb2[h]! + g;
          const row = h * H;
          for (let k = 0; k < H; k++) {
            g2[row + k] = g2[row + k]! + g * a[k]!;
            gh[k] = gh[k]! + g * model.w2[row + k]!;
          }
        }
        for (let k = 0; k < H; k++) {
          if (a[k] === 0) continue;
          const g = gh[k]!;
          gb1[k] = gb1[k]! + g;
          const row = k * p;
          for (let j = 0; j < p; j++) g1[row + j] = g1[row + j]! + g * z[zi + j]!;
        }
      }
      t++;
      adams[0]!.step(g1, t);
      adams[1]!.step(gb1, t);
      adams[2]!.step(g2, t);
      adams[3]!.step(gb2, t);
    }
  }
}

/** Forecast (24 prices) of one model for one feature row. */
export function predictMlp(model: MlpModel, x: ArrayLike<number>, offset = 0): Float64Array {
  const { p, hidden: H } = model;
  const z = new Float64Array(p);
  transformRow(model, x, offset, z);
  const a = new Float64Array(H);
  for (let k = 0; k < H; k++) {
    let s = model.b1[k]!;
    for (let j = 0; j < p; j++) s += model.w1[k * p + j]! * z[j]!;
    a[k] = s > 0 ? s : 0;
  }
  const out = new Float64Array(HOURS);
  for (let h = 0; h < HOURS; h++) {
    let o = model.b2[h]!;
    for (let k = 0; k < H; k++) o += model.w2[h * H + k]! * a[k]!;
    out[h] = Math.sinh(o) * model.yScale[h]! + model.yCenter[h]!;
  }
  return out;
}
