/**
 * Load, PV and outdoor-temperature profiles the simulated home replays. Two kinds:
 *
 * - **synthetic** (the default, no files): the household.ts load and PV shapes, and an outdoor
 *   temperature with a seasonal and a daily wave plus seeded noise. Any time can be evaluated.
 * - **series**: a recorded 30-minute (or any fixed-step) series such as the emhass files in
 *   `../shared/data/load_pv` (`timestamp,P_PV,P_Load,…` in W). Each value is the mean over its
 *   interval, so the profile is piecewise constant and replays exactly the recorded energy. The
 *   series repeats after its last interval; a series of whole days keeps its time of day.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, InputError } from '../errors';
import { packageRoot } from '../paths';
import { loadW, noise, pvW, sunElevationSin, type ProfileOptions } from './household';

export interface PowerProfile {
  /** A short description for logs and state, e.g. `synthetic` or the file name. */
  readonly label: string;
  /** Household consumption at a simulated time, W. */
  loadW(simTimeMs: number): number;
  /** PV production, W. */
  pvW(simTimeMs: number): number;
  /** Outdoor temperature, °C. */
  outdoorC(simTimeMs: number): number;
  /** Solar irradiance on the glazing, W/m² (for the thermal model's solar gain). */
  solarWPerM2(simTimeMs: number): number;
  /**
   * Simulated ms after `simTimeMs` where load or PV may jump (a series' next interval edge), or
   * Infinity for a continuous profile. The home never lets a step straddle one.
   */
  nextEdgeMs(simTimeMs: number): number;
}

export interface OutdoorOptions {
  /** Yearly mean outdoor temperature, °C. */
  meanC: number;
  /** Half the difference between the warmest and coldest day, °C (warmest around 20 July). */
  seasonalAmplitudeC: number;
  /** Half the daily swing, °C (warmest at 15:00, coldest at 03:00). */
  dailyAmplitudeC: number;
  /** Amplitude of the seeded noise, °C. */
  noiseC: number;
}

/** A temperate (central European) climate. */
export const OUTDOOR_DEFAULTS: Readonly<OutdoorOptions> = Object.freeze({
  meanC: 10,
  seasonalAmplitudeC: 9,
  dailyAmplitudeC: 4,
  noiseC: 1,
});

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Clear-sky irradiance with the sun at the zenith, W/m². */
const CLEAR_SKY_WPERM2 = 1000;

export function outdoorC(simTimeMs: number, opts: OutdoorOptions, seed: number): number {
  const yearStart = Date.UTC(new Date(simTimeMs).getUTCFullYear(), 0, 1);
  const day = (simTimeMs - yearStart) / DAY_MS;
  const hour = (((simTimeMs % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
  return (
    opts.meanC +
    opts.seasonalAmplitudeC * Math.cos((2 * Math.PI * (day - 201)) / 365.25) +
    opts.dailyAmplitudeC * Math.cos((2 * Math.PI * (hour - 15)) / 24) +
    opts.noiseC * noise(simTimeMs / 30, seed, 2)
  );
}

/** Clear-sky irradiance at the house, W/m². */
export function clearSkyWPerM2(simTimeMs: number, latitudeDeg: number): number {
  return Math.max(0, sunElevationSin(simTimeMs, latitudeDeg)) * CLEAR_SKY_WPERM2;
}

export function syntheticProfile(
  opts: ProfileOptions,
  outdoor: OutdoorOptions = OUTDOOR_DEFAULTS,
): PowerProfile {
  return {
    label: 'synthetic',
    loadW: (t) => loadW(t, opts),
    pvW: (t) => pvW(t, opts),
    outdoorC: (t) => outdoorC(t, outdoor, opts.seed),
    solarWPerM2: (t) => clearSkyWPerM2(t, opts.latitudeDeg),
    nextEdgeMs: () => Number.POSITIVE_INFINITY,
  };
}

export interface SeriesData {
  /** Time of the first interval's start, ms since the epoch. */
  startMs: number;
  /** Interval length, ms. */
  stepMs: number;
  loadW: Float64Array;
  pvW: Float64Array;
  /** Outdoor temperature per interval, °C, when the CSV has a `T_out`/`temp_air` column; else null. */
  outdoorC: Float64Array | null;
}

/** Column names accepted for an outdoor temperature in °C (emhass/pvlib call it `temp_air`). */
export const OUTDOOR_COLUMNS = ['T_out', 'temp_air', 'outdoorC'] as const;

/**
 * Parses an emhass-style CSV: a header naming `timestamp`, `P_Load` and `P_PV` (other columns are
 * ignored), then one row per interval with an ISO timestamp and W. Intervals must be evenly
 * spaced. A bad row is an InputError naming the line and column.
 */
export function parseLoadPvCsv(text: string, source = 'profile'): SeriesData {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  if (lines.length < 3) throw new InputError(source, `${lines.length} lines`, 'a header and at least 2 rows');
  const header = lines[0].split(',').map((h) => h.trim());
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new InputError(`${source}: header`, lines[0], `a column named ${name}`);
    return i;
  };
  const [ti, li, pi] = [col('timestamp'), col('P_Load'), col('P_PV')];
  const oi = header.findIndex((h) => (OUTDOOR_COLUMNS as readonly string[]).includes(h));
  const n = lines.length - 1;
  const times = new Float64Array(n);
  const load = new Float64Array(n);
  const pv = new Float64Array(n);
  const outdoor = oi >= 0 ? new Float64Array(n) : null;
  for (let r = 0; r < n; r++) {
    const cells = lines[r + 1].split(',');
    const line = r + 2;
    const t = Date.parse(cells[ti]?.trim().replace(' ', 'T') ?? '');
    if (!Number.isFinite(t))
      throw new InputError(`${source}: line ${line} timestamp`, cells[ti], 'an ISO 8601 date-time');
    const l = Number(cells[li]);
    const p = Number(cells[pi]);
    if (!Number.isFinite(l) || l < 0)
      throw new InputError(`${source}: line ${line} P_Load`, cells[li], 'a number of W ≥ 0');
    if (!Number.isFinite(p) || p < 0)
      throw new InputError(`${source}: line ${line} P_PV`, cells[pi], 'a number of W ≥ 0');
    if (outdoor) {
      const o = Number(cells[oi]);
      if (cells[oi]?.trim() === '' || !Number.isFinite(o) || o < -80 || o > 70)
        throw new InputError(
          `${source}: line ${line} ${header[oi]}`,
          cells[oi],
          'a temperature in °C from -80 to 70',
        );
      outdoor[r] = o;
    }
    times[r] = t;
    load[r] = l;
    pv[r] = p;
  }
  const stepMs = times[1] - times[0];
  if (!(stepMs > 0)) throw new InputError(`${source}: line 3 timestamp`, lines[2], 'a time after line 2');
  for (let r = 1; r < n; r++)
    if (times[r] - times[r - 1] !== stepMs)
      throw new InputError(
        `${source}: line ${r + 2} timestamp`,
        new Date(times[r]).toISOString(),
        `${new Date(times[r - 1] + stepMs).toISOString()} (evenly spaced every ${stepMs / 60_000} min)`,
      );
  return { startMs: times[0], stepMs, loadW: load, pvW: pv, outdoorC: outdoor };
}

/**
 * A recorded series replayed in a loop. The outdoor temperature comes from the series when it has
 * a column for it (piecewise constant like load and PV), else it is synthetic (`outdoor`); the
 * irradiance for the thermal model's solar gain is the clear-sky one at `latitudeDeg`.
 */
export function seriesProfile(
  data: SeriesData,
  label: string,
  opts: { seed: number; latitudeDeg: number; outdoor?: OutdoorOptions },
): PowerProfile {
  const periodMs = data.stepMs * data.loadW.length;
  const index = (t: number) =>
    Math.floor(((((t - data.startMs) % periodMs) + periodMs) % periodMs) / data.stepMs);
  const outdoor = opts.outdoor ?? OUTDOOR_DEFAULTS;
  return {
    label,
    loadW: (t) => data.loadW[index(t)],
    pvW: (t) => data.pvW[index(t)],
    outdoorC: data.outdoorC ? (t) => data.outdoorC![index(t)] : (t) => outdoorC(t, outdoor, opts.seed),
    solarWPerM2: (t) => clearSkyWPerM2(t, opts.latitudeDeg),
    nextEdgeMs: (t) => {
      const offset = (((t - data.startMs) % data.stepMs) + data.stepMs) % data.stepMs;
      return t - offset + data.stepMs;
    },
  };
}

/** The shared data folder: `$HEPEK_DATA`, else `../shared/data` beside the repository. */
export function dataDir(): string {
  return process.env.HEPEK_DATA ?? path.resolve(packageRoot(), '..', 'shared', 'data');
}

/** The emhass load/PV series with P_Load and P_PV (8 days, 30 min), if the data folder has it. */
export function emhassProfilePath(): string | null {
  const file = path.join(dataDir(), 'load_pv', 'opt_res_perfect_optim_cost.csv');
  return existsSync(file) ? file : null;
}

/**
 * The profile file a `profileFile` setting names: `"emhass"` is the emhass series in the shared
 * data folder (null when that folder is absent: the caller falls back to the synthetic profile),
 * anything else a path.
 */
export function resolveProfileFile(profileFile: string): string | null {
  return profileFile === 'emhass' ? emhassProfilePath() : profileFile;
}

/** Loads a CSV profile from a file; a missing or bad file is a ConfigError naming `field`. */
export function loadSeriesFile(file: string, field: string): SeriesData {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(field, file, 'a readable CSV file with timestamp, P_Load and P_PV columns', {
      cause: err,
    });
  }
  return parseLoadPvCsv(text, file);
}
