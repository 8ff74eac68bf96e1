/**
 * LEAR (Lago et al. 2021): for each hour of the next day a LASSO on the 24 prices of days d−1,
 * d−2, d−3, d−7, every exogenous series for days d, d−1, d−7 and day-of-week dummies, after a
 * variance-stabilising transform (asinh of median/MAD-normalised values, fitted per column on the
 * calibration window), recalibrated every day on several windows whose forecasts are averaged.
 */
import { InputError } from '../errors';
import { type PriceDataset } from './dataset';
import { DEFAULT_LASSO, type GramSystem, lassoAic, lassoAt, type LassoOptions, standardGram } from './lasso';

export const HOURS = 24;
export const PRICE_LAGS = [1, 2, 3, 7] as const;
export const EXOG_LAGS = [0, 1, 7] as const;
/** The earliest day that has all its lags. */
export const FIRST_FEATURE_DAY = 7;
/** Calibration windows (days) of the published LEAR ensemble. */
export const LEAR_WINDOWS = [56, 84, 1092, 1456] as const;
/** statsmodels' MAD normalisation: MAD / 0.6745 estimates σ of a normal distribution. */
const MAD_NORMAL = 0.6744897501960817;

export function featureCount(nExog: number): number {
  return HOURS * PRICE_LAGS.length + HOURS * EXOG_LAGS.length * nExog + 7;
}

/** Names of the features in order, for model cards. */
export function featureNames(nExog: number): string[] {
  const names: string[] = [];
  for (const lag of PRICE_LAGS) for (let h = 0; h < HOURS; h++) names.push(`price[d-${lag}][h${h}]`);
  for (let e = 0; e < nExog; e++)
    for (const lag of EXOG_LAGS)
      for (let h = 0; h < HOURS; h++) names.push(`exog${e + 1}[d${lag === 0 ? '' : `-${lag}`}][h${h}]`);
  for (const d of ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']) names.push(`dow.${d}`);
  return names;
}

/** Monday = 0 … Sunday = 6 for a `YYYY-MM-DD` date. */
export function weekday(date: string): number {
  const ms = Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)));
  return (new Date(ms).getUTCDay() + 6) % 7;
}

/**
 * Writes the features of a day into `out` at `offset` from plain hourly arrays: `prices` ends at
 * hour 23 of the day before (at least 168 values), `exog[e]` ends at hour 23 of the day itself
 * (at least 192 values). Never reads the day's own price: it is not an argument.
 */
export function writeFeatures(
  prices: ArrayLike<number>,
  exog: ArrayLike<number>[],
  dow: number,
  out: Float64Array,
  offset = 0,
): void {
  let k = offset;
  const pEnd = prices.length; // index one past hour 23 of day d−1
  for (const lag of PRICE_LAGS) {
    const start = pEnd - lag * HOURS;
    for (let h = 0; h < HOURS; h++) out[k++] = prices[start + h]!;
  }
  for (const series of exog) {
    const xEnd = series.length; // one past hour 23 of day d
    for (const lag of EXOG_LAGS) {
      const start = xEnd - (lag + 1) * HOURS;
      for (let h = 0; h < HOURS; h++) out[k++] = series[start + h]!;
    }
  }
  for (let d = 0; d < 7; d++) out[k++] = d === dow ? 1 : 0;
}

/** The feature matrix of a dataset, one row per day (rows before FIRST_FEATURE_DAY are NaN). */
export function featureMatrix(data: PriceDataset): Float64Array {
  const p = featureCount(data.exog.length);
  const days = data.days.length;
  const out = new Float64Array(days * p).fill(NaN);
  for (let t = FIRST_FEATURE_DAY; t < days; t++) {
    const prices = data.prices.subarray(0, t * HOURS);
    const exog = data.exog.map((s) => s.subarray(0, (t + 1) * HOURS));
    writeFeatures(prices, exog, weekday(data.days[t]!), out, t * p);
  }
  return out;
}

/**
 * One calibrated linear model in the transformed space:
 * z_j = asinh((x_j − xCenter_j) / xScale_j) for transformed columns (raw x_j for the dummies),
 * u_h = bias_h + Σ_j weights[h·p + j]·z_j, forecast_h = sinh(u_h)·yScale_h + yCenter_h.
 */
export interface LinearBranch {
  p: number;
  xCenter: Float64Array;
  xScale: Float64Array;
  /** 1 where the column is asinh-transformed, 0 for pass-through (the dummies). */
  transformed: Uint8Array;
  weights: Float64Array;
  bias: Float64Array;
  yCenter: Float64Array;
  yScale: Float64Array;
  /** Calibration window in days and the penalties AIC chose (diagnostics). */
  windowDays: number;
  lambdas: Float64Array;
}

function medianOf(values: Float64Array): number {
  const s = Float64Array.from(values).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median and normal-consistent MAD of a column; a constant column gets scale 1. */
export function robustScale(values: Float64Array): [center: number, scale: number] {
  const center = medianOf(values);
  const dev = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) dev[i] = Math.abs(values[i]! - center);
  const mad = medianOf(dev) / MAD_NORMAL;
  return [center, mad > 1e-12 ? mad : 1];
}

/**
 * The median/MAD scalers of a training window [first, end): one per feature except the seven
 * weekday dummies at the end of each row (left as they are), one per hour of the price. LEAR and
 * the MLP fit on the same asinh-transformed data, so they share this.
 */
export interface WindowScalers {
  xCenter: Float64Array;
  xScale: Float64Array;
  /** 1 where the feature is asinh-transformed, 0 for the weekday dummies. */
  transformed: Uint8Array;
  yCenter: Float64Array;
  yScale: Float64Array;
}

export function windowScalers(
  data: PriceDataset,
  features: Float64Array,
  p: number,
  first: number,
  end: number,
): WindowScalers {
  const n = end - first;
  const nScaled = p - 7;
  const xCenter = new Float64Array(p);
  const xScale = new Float64Array(p).fill(1);
  const transformed = new Uint8Array(p);
  const column = new Float64Array(n);
  for (let j = 0; j < nScaled; j++) {
    for (let i = 0; i < n; i++) column[i] = features[(first + i) * p + j]!;
    [xCenter[j], xScale[j]] = robustScale(column);
    transformed[j] = 1;
  }
  const yCenter = new Float64Array(HOURS);
  const yScale = new Float64Array(HOURS);
  for (let h = 0; h < HOURS; h++) {
    for (let i = 0; i < n; i++) column[i] = data.prices[(first + i) * HOURS + h]!;
    [yCenter[h], yScale[h]] = robustScale(column);
  }
  return { xCenter, xScale, transformed, yCenter, yScale };
}

/**
 * What one window's daily recalibration carries to the next day: the coefficients (a warm start)
 * and the penalties. The AIC path runs when `pathAge` reaches `reselectDays`; in between each day
 * re-estimates every coefficient at the last chosen penalty, which costs a few sweeps instead of a
 * forty-point path. Everything in it comes from earlier days' fits.
 */
export interface WarmState {
  weights: Float64Array;
  lambdas: Float64Array;
  pathAge: number;
  sums: WindowSums;
}

/**
 * Running sums of the transformed training rows [first, end) of one window: ZᵀZ (upper triangle),
 * Σz, Zᵀy per hour, Σy, Σy². Sliding the window a day costs two rank-one updates instead of a
 * new Gram matrix; the median/MAD scalers stay those of the last rebuild.
 */
export interface WindowSums extends WindowScalers {
  first: number;
  end: number;
  szz: Float64Array;
  sz: Float64Array;
  szy: Float64Array;
  sy: Float64Array;
  syy: Float64Array;
}

function buildSums(
  data: PriceDataset,
  features: Float64Array,
  p: number,
  first: number,
  end: number,
): WindowSums {
  const sums: WindowSums = {
    first,
    end,
    ...windowScalers(data, features, p, first, end),
    szz: new Float64Array(p * p),
    sz: new Float64Array(p),
    szy: new Float64Array(HOURS * p),
    sy: new Float64Array(HOURS),
    syy: new Float64Array(HOURS),
  };
  for (let t = first; t < end; t++) addRow(sums, data, features, t, 1);
  return sums;
}

function addRow(sums: WindowSums, data: PriceDataset, features: Float64Array, t: number, sign: 1 | -1): void {
  const p = sums.sz.length;
  const z = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    const v = features[t * p + j]!;
    z[j] = sums.transformed[j] ? Math.asinh((v - sums.xCenter[j]!) / sums.xScale[j]!) : v;
  }
  for (let j = 0; j < p; j++) {
    const a = sign * z[j]!;
    if (a === 0) continue;
    sums.sz[j] = sums.sz[j]! + a;
    const g = j * p;
    for (let k = j; k < p; k++) sums.szz[g + k] = sums.szz[g + k]! + a * z[k]!;
  }
  for (let h = 0; h < HOURS; h++) {
    const y = Math.asinh((data.prices[t * HOURS + h]! - sums.yCenter[h]!) / sums.yScale[h]!);
    sums.sy[h] = sums.sy[h]! + sign * y;
    sums.syy[h] = sums.syy[h]! + sign * y * y;
    const row = h * p;
    const a = sign * y;
    for (let j = 0; j < p; j++) sums.szy[row + j] = sums.szy[row + j]! + a * z[j]!;
  }
}

export interface FitOptions {
  lasso?: LassoOptions;
  /** Re-run the AIC penalty selection every this many days (1 = every day). */
  reselectDays?: number;
  warm?: WarmState | null;
  /** Select the penalty on unit-variance columns (LassoLarsIC's normalize=True); default true. */
  standardise?: boolean;
  /**
   * Count the window's days as epftoolbox does: the calibration window includes the week its
   * first row's lags need, so a window of w days trains on w − 7 rows; default true.
   */
  lagsInWindow?: boolean;
}

/**
 * Calibrates one window for forecasting day `day`: training rows are the days
 * max(FIRST_FEATURE_DAY, day − windowDays) … day − 1, so nothing of `day` but its features is used.
 */
export function fitBranch(
  data: PriceDataset,
  features: Float64Array,
  day: number,
  windowDays: number,
  options: FitOptions = {},
): LinearBranch & { warm: WarmState } {
  const lasso = options.lasso ?? DEFAULT_LASSO;
  const warm = options.warm ?? null;
  const reselect = !warm || warm.pathAge + 1 >= (options.reselectDays ?? 1);
  const p = featureCount(data.exog.length);
  const rows = options.lagsInWindow === false ? windowDays : windowDays - FIRST_FEATURE_DAY;
  const first = Math.max(FIRST_FEATURE_DAY, day - rows);
  const n = day - first;
  if (n < 14)
    throw new InputError(
      'forecast day',
      data.days[day],
      `a day with at least ${FIRST_FEATURE_DAY + 14} days of history before it (has ${day})`,
    );
  for (let t = first - FIRST_FEATURE_DAY; t < day; t++)
    for (let h = 0; h < HOURS; h++)
      if (Number.isNaN(data.prices[t * HOURS + h]!))
        throw new InputError(
          `price at ${data.timestamps[t * HOURS + h]}`,
          'blank',
          `a known price for every hour before the forecast day ${data.days[day]}`,
        );
  let sums = reselect || !warm?.sums ? null : warm.sums;
  if (!sums) sums = buildSums(data, features, p, first, day);
  else {
    // Slide the window: add the days it gained, drop the days it lost, with the scalers of the
    // last rebuild (they are refitted with every penalty selection).
    for (let t = sums.end; t < day; t++) addRow(sums, data, features, t, 1);
    for (let t = sums.first; t < first; t++) addRow(sums, data, features, t, -1);
    sums.first = first;
    sums.end = day;
  }
  const { xCenter, xScale, transformed, yCenter, yScale } = sums;
  const mean = new Float64Array(p);
  for (let j = 0; j < p; j++) mean[j] = sums.sz[j]! / n;
  const gram = new Float64Array(p * p);
  for (let j = 0; j < p; j++)
    for (let k = j; k < p; k++) {
      const v = sums.szz[j * p + k]! / n - mean[j]! * mean[k]!;
      gram[j * p + k] = v;
      gram[k * p + j] = v;
    }
  const sys: GramSystem = { p, n, gram };
  const standard = reselect && options.standardise !== false ? standardGram(sys) : null;
  const weights = new Float64Array(HOURS * p);
  const bias = new Float64Array(HOURS);
  const lambdas = new Float64Array(HOURS);
  const cov = new Float64Array(p);
  for (let h = 0; h < HOURS; h++) {
    const ym = sums.sy[h]! / n;
    const yy = sums.syy[h]! / n - ym * ym;
    for (let j = 0; j < p; j++) cov[j] = sums.szy[h * p + j]! / n - mean[j]! * ym;
    let beta: Float64Array;
    if (reselect) {
      const fit = lassoAic(sys, cov, yy, lasso, standard);
      beta = fit.beta;
      lambdas[h] = fit.lambda;
    } else {
      lambdas[h] = warm!.lambdas[h]!;
      beta = lassoAt(sys, cov, lambdas[h]!, warm!.weights.subarray(h * p, (h + 1) * p), lasso);
    }
    weights.set(beta, h * p);
    let b = ym;
    for (let j = 0; j < p; j++) b -= beta[j]! * mean[j]!;
    bias[h] = b;
  }
  const nextWarm: WarmState = { weights, lambdas, pathAge: reselect ? 0 : warm!.pathAge + 1, sums };
  return {
    p,
    xCenter,
    xScale,
    transformed,
    weights,
    bias,
    yCenter,
    yScale,
    windowDays,
    lambdas,
    warm: nextWarm,
  };
}

/** Forecast (24 prices) of one branch for one feature row. */
export function predictBranch(
  branch: LinearBranch,
  x: ArrayLike<number>,
  xOffset = 0,
  out = new Float64Array(HOURS),
) {
  const { p } = branch;
  const z = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    const v = x[xOffset + j]!;
    z[j] = branch.transformed[j] ? Math.asinh((v - branch.xCenter[j]!) / branch.xScale[j]!) : v;
  }
  for (let h = 0; h < HOURS; h++) {
    let u = branch.bias[h]!;
    const row = h * p;
    for (let j = 0; j < p; j++) u += branch.weights[row + j]! * z[j]!;
    out[h] = Math.sinh(u) * branch.yScale[h]! + branch.yCenter[h]!;
  }
  return out;
}
