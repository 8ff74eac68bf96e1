/**
 * Household load and PV forecasts from the household's own recorded history, given as plain
 * arrays (any fixed step, e.g. 30 or 60 minutes). Both are linear in features computed here, so
 * they export to ONNX the same way as the price model (MatMul + Add on a `features` input).
 *
 * Load: ridge regression on slot-of-day × (weekday | weekend) indicators, the annual cycle
 * (sin/cos of the day of year), heating and cooling degrees from the temperature, and the load of
 * the same slot one day and one week earlier.
 * PV: a clear-sky shape from the sun's position (Haurwitz GHI on the panel's site, no tilt model),
 * scaled by the installation's factor fitted on the history (least squares through the origin)
 * and, when a cloud-cover forecast is given, by Kasten–Czeplak's cloud attenuation.
 */
import { onnx } from 'onnx-proto';
import { InputError } from '../errors';

export interface Series {
  /** Start of the first slot, ms since the epoch (UTC). */
  startMs: number;
  /** Slot length in minutes (divides 1440). */
  stepMinutes: number;
  values: ArrayLike<number>;
}

const DAY_MS = 86_400_000;

function slotsPerDay(stepMinutes: number): number {
  if (!Number.isInteger(stepMinutes) || stepMinutes <= 0 || 1440 % stepMinutes !== 0)
    throw new InputError(
      'stepMinutes',
      stepMinutes,
      'a whole number of minutes dividing 1440 (e.g. 15, 30, 60)',
    );
  return 1440 / stepMinutes;
}

function checkSeries(s: Series, field: string, minDays: number): void {
  const perDay = slotsPerDay(s.stepMinutes);
  if (s.values.length < minDays * perDay)
    throw new InputError(
      `${field}.values`,
      `${s.values.length} values`,
      `at least ${minDays} days (${minDays * perDay} values)`,
    );
  for (let i = 0; i < s.values.length; i++)
    if (!Number.isFinite(s.values[i]!))
      throw new InputError(`${field}.values[${i}]`, s.values[i], 'a finite number (W)');
}

// ------------------------------------------------------------------------------------ load

export interface LoadModel {
  stepMinutes: number;
  weights: Float64Array;
  bias: number;
  /** Base temperature (°C) below which heating degrees count, and above which cooling degrees do. */
  heatBaseC: number;
  coolBaseC: number;
  /** False when the history was shorter than 8 days: the week-ago lag is then yesterday's. */
  weekly: boolean;
}

/** Features of slot `i` of `load` (in W) with optional temperature (°C) at that slot. */
export function loadFeatures(
  timeMs: number,
  stepMinutes: number,
  lagDayW: number,
  lagWeekW: number,
  temperatureC: number | null,
  out: Float64Array = new Float64Array(loadFeatureCount(stepMinutes)),
): Float64Array {
  const perDay = slotsPerDay(stepMinutes);
  out.fill(0);
  const date = new Date(timeMs);
  const slot = Math.floor((date.getUTCHours() * 60 + date.getUTCMinutes()) / stepMinutes);
  const weekend = date.getUTCDay() === 0 || date.getUTCDay() === 6 ? 1 : 0;
  out[weekend * perDay + slot] = 1;
  const doy = (timeMs - Date.UTC(date.getUTCFullYear(), 0, 1)) / DAY_MS;
  let k = 2 * perDay;
  out[k++] = Math.sin((2 * Math.PI * doy) / 365.25);
  out[k++] = Math.cos((2 * Math.PI * doy) / 365.25);
  out[k++] = temperatureC === null ? 0 : Math.max(0, 15 - temperatureC);
  out[k++] = temperatureC === null ? 0 : Math.max(0, temperatureC - 22);
  out[k++] = lagDayW / 1000;
  out[k++] = lagWeekW / 1000;
  return out;
}

export function loadFeatureCount(stepMinutes: number): number {
  return 2 * slotsPerDay(stepMinutes) + 6;
}

/** Ridge solve (XᵀX + αI)β = Xᵀy by Cholesky; the intercept is the mean. */
function ridge(
  x: Float64Array,
  y: Float64Array,
  n: number,
  p: number,
  alpha: number,
): { w: Float64Array; b: number } {
  const mx = new Float64Array(p);
  let my = 0;
  for (let i = 0; i < n; i++) {
    my += y[i]!;
    for (let j = 0; j < p; j++) mx[j] = mx[j]! + x[i * p + j]!;
  }
  my /= n;
  for (let j = 0; j < p; j++) mx[j] = mx[j]! / n;
  const a = new Float64Array(p * p);
  const c = new Float64Array(p);
  for (let i = 0; i < n; i++) {
    const yi = y[i]! - my;
    for (let j = 0; j < p; j++) {
      const xj = x[i * p + j]! - mx[j]!;
      c[j] = c[j]! + xj * yi;
      for (let k = 0; k <= j; k++) a[j * p + k] = a[j * p + k]! + xj * (x[i * p + k]! - mx[k]!);
    }
  }
  for (let j = 0; j < p; j++) a[j * p + j] = a[j * p + j]! + alpha;
  // Cholesky in place (lower triangle).
  for (let j = 0; j < p; j++) {
    let d = a[j * p + j]!;
    for (let k = 0; k < j; k++) d -= a[j * p + k]! ** 2;
    const l = Math.sqrt(Math.max(d, 1e-12));
    a[j * p + j] = l;
    for (let i = j + 1; i < p; i++) {
      let s = a[i * p + j]!;
      for (let k = 0; k < j; k++) s -= a[i * p + k]! * a[j * p + k]!;
      a[i * p + j] = s / l;
    }
  }
  const w = Float64Array.from(c);
  for (let i = 0; i < p; i++) {
    let s = w[i]!;
    for (let k = 0; k < i; k++) s -= a[i * p + k]! * w[k]!;
    w[i] = s / a[i * p + i]!;
  }
  for (let i = p - 1; i >= 0; i--) {
    let s = w[i]!;
    for (let k = i + 1; k < p; k++) s -= a[k * p + i]! * w[k]!;
    w[i] = s / a[i * p + i]!;
  }
  let b = my;
  for (let j = 0; j < p; j++) b -= w[j]! * mx[j]!;
  return { w, b };
}

/**
 * Fits the load model on at least 2 days of history (W), better 8 or more (the week-ago lag);
 * `temperatureC` aligned with it, optional.
 */
export function fitLoadModel(
  load: Series,
  temperatureC: ArrayLike<number> | null = null,
  alpha = 1,
): LoadModel {
  checkSeries(load, 'load', 2);
  if (temperatureC && temperatureC.length !== load.values.length)
    throw new InputError(
      'temperatureC',
      `${temperatureC.length} values`,
      `${load.values.length} values, one per load slot`,
    );
  const perDay = slotsPerDay(load.stepMinutes);
  const p = loadFeatureCount(load.stepMinutes);
  const weekly = load.values.length >= 8 * perDay;
  const lagWeek = (weekly ? 7 : 1) * perDay;
  const first = lagWeek;
  const n = load.values.length - first;
  const x = new Float64Array(n * p);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = first + i;
    loadFeatures(
      load.startMs + t * load.stepMinutes * 60_000,
      load.stepMinutes,
      load.values[t - perDay]!,
      load.values[t - lagWeek]!,
      temperatureC ? temperatureC[t]! : null,
      x.subarray(i * p, (i + 1) * p),
    );
    y[i] = load.values[t]!;
  }
  const { w, b } = ridge(x, y, n, p, alpha);
  return { stepMinutes: load.stepMinutes, weights: w, bias: b, heatBaseC: 15, coolBaseC: 22, weekly };
}

/** The next day's load (W) after the history, slot by slot; `temperatureC` is the next day's forecast. */
export function forecastLoad(
  model: LoadModel,
  history: Series,
  temperatureC: ArrayLike<number> | null = null,
): Float64Array {
  const perDay = slotsPerDay(model.stepMinutes);
  checkSeries(history, 'history', model.weekly ? 7 : 1);
  const n = history.values.length;
  const lagWeek = (model.weekly ? 7 : 1) * perDay;
  const out = new Float64Array(perDay);
  const f = new Float64Array(model.weights.length);
  for (let s = 0; s < perDay; s++) {
    const t = n + s;
    loadFeatures(
      history.startMs + t * model.stepMinutes * 60_000,
      model.stepMinutes,
      history.values[t - perDay]!,
      history.values[t - lagWeek]!,
      temperatureC ? temperatureC[s]! : null,
      f,
    );
    out[s] = Math.max(0, linear(model.weights, model.bias, f));
  }
  return out;
}

function linear(w: Float64Array, b: number, x: ArrayLike<number>): number {
  let s = b;
  for (let j = 0; j < w.length; j++) s += w[j]! * x[j]!;
  return s;
}

// ------------------------------------------------------------------------------------ PV

export interface Site {
  latitudeDeg: number;
  longitudeDeg: number;
}

/** Sine of the sun's elevation at a UTC time and site (NOAA-style approximations, ±0.5°). */
export function sunElevationSin(timeMs: number, site: Site): number {
  const date = new Date(timeMs);
  const doy = (timeMs - Date.UTC(date.getUTCFullYear(), 0, 1)) / DAY_MS;
  const g = (2 * Math.PI * doy) / 365;
  const decl =
    0.006918 -
    0.399912 * Math.cos(g) +
    0.070257 * Math.sin(g) -
    0.006758 * Math.cos(2 * g) +
    0.000907 * Math.sin(2 * g);
  const eqTimeMin =
    229.18 *
    (0.000075 +
      0.001868 * Math.cos(g) -
      0.032077 * Math.sin(g) -
      0.014615 * Math.cos(2 * g) -
      0.040849 * Math.sin(2 * g));
  const minutes = date.getUTCHours() * 60 + date.getUTCMinutes() + date.getUTCSeconds() / 60;
  const solarMin = minutes + eqTimeMin + 4 * site.longitudeDeg;
  const hourAngle = ((solarMin / 4 - 180) * Math.PI) / 180;
  const lat = (site.latitudeDeg * Math.PI) / 180;
  return Math.sin(lat) * Math.sin(decl) + Math.cos(lat) * Math.cos(decl) * Math.cos(hourAngle);
}

/** Clear-sky global horizontal irradiance (W/m²), Haurwitz, averaged over the slot starting at `timeMs`. */
export function clearSkyGhi(timeMs: number, stepMinutes: number, site: Site): number {
  const samples = 6;
  let sum = 0;
  for (let k = 0; k < samples; k++) {
    const s = sunElevationSin(timeMs + ((k + 0.5) / samples) * stepMinutes * 60_000, site);
    if (s > 0.01) sum += 1098 * s * Math.exp(-0.057 / s);
  }
  return sum / samples;
}

export interface PvModel {
  stepMinutes: number;
  site: Site;
  /** W of PV output per W/m² of clear-sky GHI, fitted on the recent history. */
  wattsPerIrradiance: number;
}

/** Fits the PV scale on the history (W) by least squares through the origin on the clear-sky shape. */
export function fitPvModel(pv: Series, site: Site, recentDays = 14): PvModel {
  checkSeries(pv, 'pv', 1);
  const perDay = slotsPerDay(pv.stepMinutes);
  const from = Math.max(0, pv.values.length - recentDays * perDay);
  let num = 0;
  let den = 0;
  for (let i = from; i < pv.values.length; i++) {
    const cs = clearSkyGhi(pv.startMs + i * pv.stepMinutes * 60_000, pv.stepMinutes, site);
    num += cs * pv.values[i]!;
    den += cs * cs;
  }
  return { stepMinutes: pv.stepMinutes, site, wattsPerIrradiance: den > 0 ? num / den : 0 };
}

/** PV output (W) per slot of the day starting at `dayStartMs`; `cloudCover` 0..1 per slot, optional. */
export function forecastPv(
  model: PvModel,
  dayStartMs: number,
  cloudCover: ArrayLike<number> | null = null,
): Float64Array {
  const perDay = slotsPerDay(model.stepMinutes);
  const out = new Float64Array(perDay);
  for (let s = 0; s < perDay; s++) {
    const cs = clearSkyGhi(dayStartMs + s * model.stepMinutes * 60_000, model.stepMinutes, model.site);
    const c = cloudCover ? Math.min(1, Math.max(0, cloudCover[s]!)) : 0;
    out[s] = model.wattsPerIrradiance * cs * (1 - 0.75 * Math.pow(c, 3.4));
  }
  return out;
}

// ------------------------------------------------------------------------------------ ONNX

/**
 * A linear model y = x·w + b as ONNX (double): input `features` [N, p], output `forecast` [N, 1].
 * The load model exports its weights; the PV model exports [wattsPerIrradiance] on the feature
 * clearSkyGhi·(1 − 0.75·cloud^3.4).
 */
export function exportLinearOnnx(weights: Float64Array, bias: number, name: string): Uint8Array {
  const DOUBLE = onnx.TensorProto.DataType.DOUBLE;
  const tensor = (tname: string, data: Float64Array, dims: number[]): onnx.ITensorProto => ({
    name: tname,
    dims,
    dataType: DOUBLE,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
  const p = weights.length;
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'hepek forecast',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name,
      node: [
        { opType: 'MatMul', input: ['features', 'w'], output: ['xw'], name: 'matmul' },
        { opType: 'Add', input: ['xw', 'b'], output: ['forecast'], name: 'add' },
      ],
      initializer: [tensor('w', Float64Array.from(weights), [p, 1]), tensor('b', Float64Array.of(bias), [1])],
      input: [
        {
          name: 'features',
          type: { tensorType: { elemType: DOUBLE, shape: { dim: [{ dimParam: 'N' }, { dimValue: p }] } } },
        },
      ],
      output: [
        {
          name: 'forecast',
          type: { tensorType: { elemType: DOUBLE, shape: { dim: [{ dimParam: 'N' }, { dimValue: 1 }] } } },
        },
      ],
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}
