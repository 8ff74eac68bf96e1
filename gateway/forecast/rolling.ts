/**
 * The daily-recalibrated forecaster: for each forecast day it refits every LEAR window (and
 * retrains the neural member on schedule) on rows before that day only, averages the members into
 * the P50, and sets P10/P90 from the quantiles of its own past out-of-sample errors per hour
 * (split-conformal style, so the band comes only from days already scored).
 */
import { type PriceDataset } from './dataset';
import {
  featureMatrix,
  fitBranch,
  HOURS,
  LEAR_WINDOWS,
  type LinearBranch,
  predictBranch,
  type WarmState,
} from './lear';
import { type MlpModel, type MlpOptions, DEFAULT_MLP, predictMlp, TWO_LAYER_MLP, trainMlp } from './mlp';

export interface ForecasterOptions {
  /** LEAR calibration windows in days. */
  windows: readonly number[];
  /**
   * Re-run the AIC penalty path every this many days: one figure for every window, or one per
   * window (the short windows gain most from daily selection and cost least).
   */
  reselectDays: number | readonly number[];
  /** LEAR penalty selection on unit-variance columns, as LassoLarsIC(normalize=True). */
  standardise: boolean;
  /** A window of w days trains on w − 7 rows, as epftoolbox counts it. */
  lagsInWindow: boolean;
  /**
   * The neural member; null for LEAR alone. Several option sets train side by side (say one- and
   * two-hidden-layer networks, each with its seeds) and every network counts once in the average.
   */
  mlp: MlpOptions | readonly MlpOptions[] | null;
  /** Weight of the neural member in the P50 (LEAR gets 1 − this). */
  mlpWeight: number;
  /** Past forecast days whose errors set P10/P90. */
  quantileDays: number;
}

export const DEFAULT_FORECASTER: ForecasterOptions = {
  windows: LEAR_WINDOWS,
  reselectDays: [1, 1, 14, 14],
  standardise: true,
  lagsInWindow: true,
  // Four one-layer and four two-layer networks: on the full test periods this beat the four
  // one-layer ones on every market, the two-layer ones on PJM and BE (bench/RESULTS.md, fourth pass).
  mlp: [DEFAULT_MLP, TWO_LAYER_MLP],
  mlpWeight: 0.5,
  quantileDays: 56,
};

export interface DayForecast {
  day: number;
  p10: Float64Array;
  p50: Float64Array;
  p90: Float64Array;
  lear: Float64Array;
  /** The average of every network; null for LEAR alone. */
  mlp: Float64Array | null;
  /** The average of each option set's networks, in the order of `options.mlp`. */
  mlpGroups: Float64Array[];
}

/** The option sets of the neural member, one per group of networks. */
export function mlpGroups(options: ForecasterOptions): readonly MlpOptions[] {
  if (options.mlp === null) return [];
  return Array.isArray(options.mlp) ? options.mlp : [options.mlp as MlpOptions];
}

export class Forecaster {
  readonly features: Float64Array;
  readonly p: number;
  private readonly warm: (WarmState | null)[];
  private readonly groups: readonly MlpOptions[];
  /** Per group: its networks (null until first trained) and days since their last training. */
  private groupModels: (MlpModel[] | null)[];
  private groupAge: number[];
  /** Past errors (actual − P50) per hour, newest last. */
  private readonly errors: Float64Array[] = [];
  /** The branches and MLP of the last day fitted, for export. */
  lastBranches: LinearBranch[] = [];

  constructor(
    readonly data: PriceDataset,
    readonly options: ForecasterOptions = DEFAULT_FORECASTER,
  ) {
    this.features = featureMatrix(data);
    this.p = this.features.length / data.days.length;
    this.warm = options.windows.map(() => null);
    this.groups = mlpGroups(options);
    this.groupModels = this.groups.map(() => null);
    this.groupAge = this.groups.map(() => 0);
  }

  /** Every network of the neural member, group after group; null before the first training. */
  get mlp(): MlpModel[] | null {
    if (this.groups.length === 0 || this.groupModels.some((m) => m === null)) return null;
    return this.groupModels.flatMap((m) => m!);
  }

  /**
   * Recalibrates every member on the rows before `day` (day may be one past the data, for the
   * shipped model). `forceRetrain` retrains the neural member even off its schedule.
   */
  calibrate(day: number, forceRetrain = false): void {
    const { options, data, features } = this;
    this.lastBranches = options.windows.map((w, i) => {
      const branch = fitBranch(data, features, day, w, {
        warm: this.warm[i],
        reselectDays:
          typeof options.reselectDays === 'number' ? options.reselectDays : (options.reselectDays[i] ?? 1),
        standardise: options.standardise,
        lagsInWindow: options.lagsInWindow,
      });
      this.warm[i] = branch.warm;
      return branch;
    });
    this.groups.forEach((opts, g) => {
      const models = this.groupModels[g] ?? null;
      const retrain = forceRetrain || !models || ++this.groupAge[g]! >= opts.retrainDays;
      if (retrain) {
        this.groupModels[g] = trainMlp(data, features, day, opts, models);
        this.groupAge[g] = 0;
      }
    });
  }

  /** Forecasts day `day` from rows before it plus its exogenous columns. */
  forecastDay(day: number): DayForecast {
    const { options, features, p } = this;
    this.calibrate(day);
    const lear = new Float64Array(HOURS);
    for (const branch of this.lastBranches) {
      const f = predictBranch(branch, features, day * p);
      for (let h = 0; h < HOURS; h++) lear[h] = lear[h]! + f[h]! / this.lastBranches.length;
    }
    let mlp: Float64Array | null = null;
    const mlpGroupMeans: Float64Array[] = [];
    const p50 = Float64Array.from(lear);
    const models = this.mlp;
    if (models) {
      mlp = new Float64Array(HOURS);
      for (const group of this.groupModels) {
        const mean = new Float64Array(HOURS);
        for (const model of group!) {
          const f = predictMlp(model, features, day * p);
          for (let h = 0; h < HOURS; h++) {
            mean[h] = mean[h]! + f[h]! / group!.length;
            mlp[h] = mlp[h]! + f[h]! / models.length;
          }
        }
        mlpGroupMeans.push(mean);
      }
      const w = options.mlpWeight;
      for (let h = 0; h < HOURS; h++) p50[h] = (1 - w) * lear[h]! + w * mlp[h]!;
    }
    const [lo, hi] = this.band();
    const p10 = new Float64Array(HOURS);
    const p90 = new Float64Array(HOURS);
    for (let h = 0; h < HOURS; h++) {
      p10[h] = p50[h]! + lo[h]!;
      p90[h] = p50[h]! + hi[h]!;
    }
    return { day, p10, p50, p90, lear, mlp, mlpGroups: mlpGroupMeans };
  }

  /** Records the realised prices of a forecast day once known (they feed only later bands). */
  observe(forecast: DayForecast, actual: ArrayLike<number>): void {
    const e = new Float64Array(HOURS);
    for (let h = 0; h < HOURS; h++) e[h] = actual[h]! - forecast.p50[h]!;
    this.errors.push(e);
    if (this.errors.length > this.options.quantileDays) this.errors.shift();
  }

  /** Offsets of P10 and P90 from P50 per hour; zero until some errors are known. */
  band(): [Float64Array, Float64Array] {
    const lo = new Float64Array(HOURS);
    const hi = new Float64Array(HOURS);
    const n = this.errors.length;
    if (n === 0) return [lo, hi];
    const col = new Float64Array(n);
    for (let h = 0; h < HOURS; h++) {
      for (let i = 0; i < n; i++) col[i] = this.errors[i]![h]!;
      col.sort();
      lo[h] = quantile(col, 0.1);
      hi[h] = quantile(col, 0.9);
    }
    return [lo, hi];
  }
}

/** Linear-interpolated quantile of sorted values. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 1) return sorted[0]!;
  const pos = q * (sorted.length - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  return i + 1 < sorted.length ? sorted[i]! * (1 - f) + sorted[i + 1]! * f : sorted[i]!;
}
