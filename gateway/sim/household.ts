/**
 * The simulated household: a meter that reports what a typical European home with rooftop PV
 * would, on an accelerated clock. Everything here is computed — no profile data files — so the
 * tests, the embedded default and a standalone Node-RED all see the same household for a seed.
 *
 * Simulated time is read in UTC and the house sits on the Greenwich meridian, so solar noon is
 * 12:00 UTC. That keeps the arithmetic obvious; a simulation does not need a time zone.
 */
import { ConfigError } from '../errors';
import type { MeterReading, MeterSource } from '../context';
import { ReadingFanout } from './fanout';

export interface HouseholdOptions {
  /** Yearly household consumption the load profile is scaled to, kWh. */
  annualLoadKWh: number;
  /** PV power at noon on the summer solstice under a clear sky, W. 0 = no PV. */
  pvPeakW: number;
  /** Latitude of the house, degrees (north positive); sets day length and sun height. */
  latitudeDeg: number;
  /** Seed of the deterministic noise; the same seed gives the same household. */
  seed: number;
  /** Relative amplitude of the noise on load and PV, 0..0.5 (0.05 = ±5 %). */
  noiseFraction: number;
  /** Simulated seconds per real second. */
  speed: number;
  /** Real time between readings while started, ms. */
  intervalMs: number;
  /** Simulated time at the first reading, ms since the epoch; undefined = the clock's now. */
  startTime?: number;
  /** Cumulative import counter to start from (persisted across restarts), Wh. */
  importWh: number;
  /** Cumulative export counter to start from, Wh. */
  exportWh: number;
}

export const HOUSEHOLD_DEFAULTS: Readonly<Omit<HouseholdOptions, 'startTime'>> = Object.freeze({
  annualLoadKWh: 3500,
  pvPeakW: 4000,
  latitudeDeg: 52,
  seed: 1,
  noiseFraction: 0.05,
  speed: 60,
  intervalMs: 1000,
  importWh: 0,
  exportWh: 0,
});

/** What `loadW` and `pvW` need; a full `HouseholdOptions` will do. */
export type ProfileOptions = Pick<
  HouseholdOptions,
  'annualLoadKWh' | 'pvPeakW' | 'latitudeDeg' | 'seed' | 'noiseFraction'
>;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const DEG = Math.PI / 180;
/** Noise is drawn once per simulated minute and interpolated between, so power is continuous. */
const NOISE_STEP_MS = 60_000;
/** Longest span integrated with one power sample, simulated ms. */
const INTEGRATION_STEP_MS = 60_000;

/**
 * Relative household load by hour of day (00:00 … 23:00), shaped like the European standard
 * residential profiles: a low night, a breakfast peak around 07:00, a midday plateau and the
 * evening peak around 19:00. Normalised below so its mean is exactly 1.
 */
const LOAD_SHAPE_RAW = [
  0.55, 0.45, 0.4, 0.38, 0.38, 0.45, 0.75, 1.15, 1.2, 1.0, 0.95, 1.0, 1.1, 1.05, 0.95, 0.95, 1.05, 1.3, 1.6,
  1.75, 1.65, 1.4, 1.05, 0.75,
];
const LOAD_SHAPE_MEAN = LOAD_SHAPE_RAW.reduce((sum, x) => sum + x, 0) / LOAD_SHAPE_RAW.length;
const LOAD_SHAPE = LOAD_SHAPE_RAW.map((x) => x / LOAD_SHAPE_MEAN);
/** Winter homes use more (lighting, heating pumps): ±18 % over the year, peak mid-January. */
const SEASONAL_AMPLITUDE = 0.18;

/** Day of the year, 0-based, in UTC (fractional). */
function dayOfYear(simTimeMs: number): number {
  const date = new Date(simTimeMs);
  const yearStart = Date.UTC(date.getUTCFullYear(), 0, 1);
  return (simTimeMs - yearStart) / DAY_MS;
}

function hourOfDay(simTimeMs: number): number {
  return (((simTimeMs % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
}

/** A 32-bit integer hash (splitmix32-style finaliser) of the seed and a key → [0, 1). */
function hash01(seed: number, key: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(key | 0, 0x85ebca77)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 4_294_967_296;
}

/**
 * Deterministic value noise in [-1, 1]: a seeded pseudo-random value per simulated minute (a
 * counter-based PRNG, so any time can be evaluated without replaying the sequence), interpolated
 * linearly. `channel` separates load noise from PV noise.
 */
export function noise(simTimeMs: number, seed: number, channel: number): number {
  const position = simTimeMs / NOISE_STEP_MS;
  const index = Math.floor(position);
  const frac = position - index;
  const key = (index % 0x7fffffff) * 2 + channel;
  const a = hash01(seed, key) * 2 - 1;
  const b = hash01(seed, key + 2) * 2 - 1;
  return a + (b - a) * frac;
}

/** Household consumption at a simulated time, W. */
export function loadW(simTimeMs: number, opts: ProfileOptions): number {
  const hour = hourOfDay(simTimeMs);
  const i = Math.floor(hour);
  const frac = hour - i;
  const shape = LOAD_SHAPE[i] + (LOAD_SHAPE[(i + 1) % 24] - LOAD_SHAPE[i]) * frac;
  const season = 1 + SEASONAL_AMPLITUDE * Math.cos((2 * Math.PI * (dayOfYear(simTimeMs) - 15)) / 365.25);
  const meanW = (opts.annualLoadKWh * 1000) / (365.25 * 24);
  const jitter = 1 + opts.noiseFraction * noise(simTimeMs, opts.seed, 0);
  return Math.max(0, meanW * shape * season * jitter);
}

/** Sine of the sun's elevation (negative below the horizon) at a latitude and simulated time. */
export function sunElevationSin(simTimeMs: number, latitudeDeg: number): number {
  // Cooper's declination; hour angle from solar time = UTC on the Greenwich meridian.
  const declination = 23.44 * DEG * Math.sin((2 * Math.PI * (284 + dayOfYear(simTimeMs) + 1)) / 365);
  const hourAngle = (hourOfDay(simTimeMs) - 12) * 15 * DEG;
  const lat = latitudeDeg * DEG;
  return Math.sin(lat) * Math.sin(declination) + Math.cos(lat) * Math.cos(declination) * Math.cos(hourAngle);
}

/**
 * PV production at a simulated time, W: a clear-sky bell that follows the sun's elevation between
 * sunrise and sunset, scaled so a clear solstice noon gives `pvPeakW`.
 */
export function pvW(simTimeMs: number, opts: ProfileOptions): number {
  if (opts.pvPeakW === 0) return 0;
  const elevation = sunElevationSin(simTimeMs, opts.latitudeDeg);
  if (elevation <= 0) return 0;
  // The highest sun of the year, at the summer solstice noon of this hemisphere.
  const noonAtSolstice = Math.cos(Math.max(0, Math.abs(opts.latitudeDeg) - 23.44) * DEG);
  // Exponent > 1: low sun passes through more air mass, so the bell is narrower than sin(h).
  const clearSky = Math.pow(Math.min(1, elevation / noonAtSolstice), 1.2);
  const jitter = 1 + opts.noiseFraction * 0.5 * noise(simTimeMs, opts.seed, 1);
  return Math.max(0, opts.pvPeakW * clearSky * jitter);
}

export interface EnergyTotals {
  importWh: number;
  exportWh: number;
}

/**
 * Grid import and export between two simulated times, Wh: the integrals of max(load − pv, 0) and
 * max(pv − load, 0), by the midpoint rule on steps of at most `maxStepMs`.
 */
export function integrateGrid(
  fromMs: number,
  toMs: number,
  opts: ProfileOptions,
  maxStepMs = INTEGRATION_STEP_MS,
): EnergyTotals {
  const totals = { importWh: 0, exportWh: 0 };
  if (!(toMs > fromMs)) return totals;
  const steps = Math.ceil((toMs - fromMs) / maxStepMs);
  const stepMs = (toMs - fromMs) / steps;
  for (let k = 0; k < steps; k++) {
    const mid = fromMs + (k + 0.5) * stepMs;
    const netW = loadW(mid, opts) - pvW(mid, opts);
    const wh = (netW * stepMs) / HOUR_MS;
    if (wh > 0) totals.importWh += wh;
    else totals.exportWh -= wh;
  }
  return totals;
}

/** Exact counters and simulated time, for persisting across restarts. */
export interface HouseholdSnapshot {
  simTimeMs: number;
  importWh: number;
  exportWh: number;
}

export interface HouseholdDeps {
  /** The real clock, ms since the epoch. */
  now?: () => number;
  /** Called when a reading listener throws; the simulator carries on. Default: console.error. */
  onListenerError?: (err: unknown) => void;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export class SimulatedHousehold implements MeterSource {
  readonly kind = 'simulated';
  readonly options: Readonly<HouseholdOptions>;
  private readonly now: () => number;
  private readonly readings: ReadingFanout<MeterReading>;
  private readonly realStartMs: number;
  private readonly simStartMs: number;
  private simTimeMs: number;
  private importWh: number;
  private exportWh: number;
  private timer: ReturnType<typeof setInterval> | undefined;

  /** Decodes untyped options (settings, a node's config) and builds the household. */
  static fromConfig(raw: unknown, deps: HouseholdDeps = {}, fieldPrefix = ''): SimulatedHousehold {
    return new SimulatedHousehold(parseHouseholdOptions(raw, fieldPrefix), deps);
  }

  constructor(options: Partial<HouseholdOptions> = {}, deps: HouseholdDeps = {}) {
    this.options = Object.freeze({ ...HOUSEHOLD_DEFAULTS, ...options });
    this.now = deps.now ?? Date.now;
    this.readings = new ReadingFanout(
      deps.onListenerError ?? ((err) => console.error('simulated household: a reading listener threw', err)),
    );
    this.realStartMs = this.now();
    this.simStartMs = this.options.startTime ?? this.realStartMs;
    this.simTimeMs = this.simStartMs;
    this.importWh = this.options.importWh;
    this.exportWh = this.options.exportWh;
  }

  latest(): MeterReading | null {
    return this.readings.latest();
  }

  subscribe(listener: (reading: MeterReading) => void): () => void {
    return this.readings.subscribe(listener);
  }

  /** Emits a reading now and then every `intervalMs` until `stop()`. Calling it twice is harmless. */
  start(): void {
    if (this.timer) return;
    this.step();
    this.timer = setInterval(() => this.step(), this.options.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Advances simulated time to the clock's now, integrates the counters and emits one reading. */
  step(): MeterReading {
    const target = this.simStartMs + (this.now() - this.realStartMs) * this.options.speed;
    // A clock that steps back (NTP) must not run the counters backwards.
    if (target > this.simTimeMs) {
      const delta = integrateGrid(this.simTimeMs, target, this.options);
      this.importWh += delta.importWh;
      this.exportWh += delta.exportWh;
      this.simTimeMs = target;
    }
    const load = round1(loadW(this.simTimeMs, this.options));
    const pv = round1(pvW(this.simTimeMs, this.options));
    const reading: MeterReading = {
      timestamp: new Date(this.simTimeMs).toISOString(),
      // Meter registers count whole Wh; the exact values live on in snapshot().
      importWh: Math.floor(this.importWh),
      exportWh: Math.floor(this.exportWh),
      powerW: round1(load - pv),
      loadW: load,
      pvW: pv,
    };
    this.readings.publish(reading);
    return reading;
  }

  snapshot(): HouseholdSnapshot {
    return { simTimeMs: this.simTimeMs, importWh: this.importWh, exportWh: this.exportWh };
  }
}

interface NumberRule {
  min: number;
  max: number;
  integer?: boolean;
  /** Whether `min` itself is allowed. */
  minInclusive?: boolean;
  allowed: string;
}

const RULES: Record<Exclude<keyof HouseholdOptions, 'startTime'>, NumberRule> = {
  annualLoadKWh: { min: 0, max: 1e6, minInclusive: false, allowed: 'a number of kWh > 0 and ≤ 1000000' },
  pvPeakW: { min: 0, max: 1e7, allowed: 'a number of W from 0 to 10000000' },
  latitudeDeg: { min: -90, max: 90, allowed: 'degrees from -90 to 90' },
  seed: { min: -(2 ** 31), max: 2 ** 32 - 1, integer: true, allowed: 'a 32-bit integer' },
  noiseFraction: { min: 0, max: 0.5, allowed: 'a fraction from 0 to 0.5' },
  speed: {
    min: 0,
    max: 1e6,
    minInclusive: false,
    allowed: 'simulated seconds per real second, > 0 and ≤ 1000000',
  },
  intervalMs: {
    min: 10,
    max: 3_600_000,
    integer: true,
    allowed: 'an integer number of ms from 10 to 3600000',
  },
  importWh: { min: 0, max: Number.MAX_SAFE_INTEGER, allowed: 'a number of Wh ≥ 0' },
  exportWh: { min: 0, max: Number.MAX_SAFE_INTEGER, allowed: 'a number of Wh ≥ 0' },
};

/**
 * Decodes untyped household options: every field optional (defaults above), numbers must be
 * finite and in range, `startTime` is ms since the epoch or an ISO 8601 string, unknown keys are
 * refused (a typo would otherwise silently fall back to a default).
 */
export function parseHouseholdOptions(raw: unknown, fieldPrefix = ''): HouseholdOptions {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(
      fieldPrefix.replace(/\.$/, '') || 'simulator',
      raw,
      'an object of simulator options',
    );
  }
  const input = raw as Record<string, unknown>;
  const out: HouseholdOptions = { ...HOUSEHOLD_DEFAULTS };
  const known = new Set<string>([...Object.keys(RULES), 'startTime']);
  for (const key of Object.keys(input)) {
    if (!known.has(key)) {
      throw new ConfigError(
        `${fieldPrefix}${key}`,
        input[key],
        `one of the options ${[...known].join(', ')}`,
      );
    }
  }
  for (const [key, rule] of Object.entries(RULES) as [keyof typeof RULES, NumberRule][]) {
    const value = input[key];
    if (value === undefined) continue;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (rule.minInclusive === false ? value > rule.min : value >= rule.min) &&
      value <= rule.max &&
      (!rule.integer || Number.isInteger(value));
    if (!ok) throw new ConfigError(`${fieldPrefix}${key}`, value, rule.allowed);
    out[key] = value as number;
  }
  if (input.startTime !== undefined) {
    const value = input.startTime;
    const ms = typeof value === 'string' ? Date.parse(value) : typeof value === 'number' ? value : NaN;
    if (!Number.isFinite(ms)) {
      throw new ConfigError(
        `${fieldPrefix}startTime`,
        value,
        'ms since the epoch or an ISO 8601 date-time (e.g. "2025-06-21T12:00:00Z")',
      );
    }
    out.startTime = ms;
  }
  return out;
}
