/**
 * The simulated home: a load/PV profile, a battery and an RC-modelled house with a heat pump, all
 * behind one grid meter. The embedded default, the tests and the backtest use it.
 *
 *     grid power = load + heat pump + battery − PV      (W; + import, − export)
 *
 * Two ways to drive it:
 * - `advance(dtSeconds)` moves simulated time by hand — no clock, for tests and the backtest.
 * - `start()` runs it on an injected real clock: each tick moves simulated time to
 *   `startTime + (now − realStart) × speed` and emits one reading (`MeterSource`).
 *
 * Time is cut into substeps of at most `maxStepSeconds` (and never across a profile's interval
 * edge). Within a substep every power is constant — load and PV sampled at its midpoint, the
 * battery at its clipped setpoint, the heat pump as the thermostat decided at its start — so the
 * import/export counters are exactly the integral of the grid power the home reports.
 */
import type { MeterReading, MeterSource } from '../context';
import { ReadingFanout } from './fanout';
import { ConfigError } from '../errors';
import { BatteryModel, parseBatteryOptions, type BatteryOptions, type BatteryState } from './battery';
import { HOUSEHOLD_DEFAULTS, parseHouseholdOptions, type HouseholdOptions } from './household';
import {
  OUTDOOR_DEFAULTS,
  loadSeriesFile,
  resolveProfileFile,
  seriesProfile,
  syntheticProfile,
  type OutdoorOptions,
  type PowerProfile,
} from './profile';
import {
  ThermalHouse,
  parseHeatPumpOptions,
  parseThermalOptions,
  parseThermostatOptions,
  type HeatPumpOptions,
  type HvacAction,
  type ThermalOptions,
  type ThermostatOptions,
} from './thermal';

/** A battery setpoint: grid-side W (+ charge, − discharge), or follow the house to zero the grid. */
export type BatterySetpoint = number | 'self-consumption';

export interface HomeOptions extends HouseholdOptions {
  /** The battery, or null for none. */
  battery: BatteryOptions | null;
  /** The house's thermal model, heat pump and thermostat, or null for no heat pump. */
  thermal: { house: ThermalOptions; heatPump: HeatPumpOptions; thermostat: ThermostatOptions } | null;
  /** The synthetic outdoor temperature. */
  outdoor: OutdoorOptions;
  /**
   * A load/PV CSV to replay (emhass columns), `"emhass"` for the emhass series in the shared data
   * folder when it is there (else the synthetic profile), or null for the synthetic profile.
   */
  profileFile: string | null;
  /** Longest substep, simulated seconds. */
  maxStepSeconds: number;
  /** Battery setpoint at start. */
  batterySetpoint: BatterySetpoint;
}

export const HOME_DEFAULTS: Readonly<Omit<HomeOptions, 'startTime'>> = Object.freeze({
  ...HOUSEHOLD_DEFAULTS,
  battery: null,
  thermal: null,
  outdoor: OUTDOOR_DEFAULTS,
  profileFile: null,
  maxStepSeconds: 60,
  batterySetpoint: 0,
});

/** What the constructor takes: every field optional, nested device options partial too. */
export type HomeInit = Partial<Omit<HomeOptions, 'battery' | 'thermal'>> & {
  battery?: Partial<BatteryOptions> | null;
  thermal?: {
    house?: Partial<ThermalOptions>;
    heatPump?: Partial<HeatPumpOptions>;
    thermostat?: Partial<ThermostatOptions>;
  } | null;
};

/** A reading of the whole home: the meter's fields plus what is behind the meter. */
export interface HomeReading extends MeterReading {
  /** Grid-side battery power, W (+ charging, − discharging); 0 without a battery. */
  batteryW: number;
  /** Battery state of charge, %; null without a battery. */
  batterySocPercent: number | null;
  /** Heat pump electric power, W (included in `loadW`). */
  hvacW: number;
  /** What the heat pump does. */
  hvac: HvacAction;
  /** Indoor temperature, °C; null without a thermal model. */
  indoorC: number | null;
  /** Outdoor temperature, °C. */
  outdoorC: number;
}

/** Exact state for persisting across restarts. */
export interface HomeSnapshot {
  simTimeMs: number;
  importWh: number;
  exportWh: number;
  batterySocPercent?: number;
  indoorC?: number;
}

export interface HomeDeps {
  /** The real clock, ms since the epoch (used by `start()` and `step()`). */
  now?: () => number;
  /** Called when a reading listener throws; the home carries on. Default: console.error. */
  onListenerError?: (err: unknown) => void;
  /** A profile to use instead of the one `profileFile` names (tests, the backtest). */
  profile?: PowerProfile;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export class SimulatedHome implements MeterSource {
  readonly kind = 'simulated';
  readonly options: Readonly<HomeOptions>;
  readonly profile: PowerProfile;
  readonly battery: BatteryModel | null;
  readonly thermal: ThermalHouse | null;
  private readonly now: () => number;
  private readonly readings: ReadingFanout<HomeReading>;
  private realStartMs: number;
  private simStartMs: number;
  private simTimeMs: number;
  private importWh: number;
  private exportWh: number;
  private setpoint: BatterySetpoint;
  private readonly sums = { loadWh: 0, pvWh: 0, hvacWh: 0, batteryWh: 0 };
  /** The powers of the last substep, what a reading reports. */
  private powers = { loadW: 0, pvW: 0, hvacW: 0, batteryW: 0, outdoorC: 0, hvac: 'off' as HvacAction };
  private timer: ReturnType<typeof setInterval> | undefined;

  static fromConfig(raw: unknown, deps: HomeDeps = {}, fieldPrefix = ''): SimulatedHome {
    return new SimulatedHome(parseHomeOptions(raw, fieldPrefix), deps);
  }

  /** Options are validated like `fromConfig`'s (a ConfigError names the bad field). */
  constructor(options: HomeInit = {}, deps: HomeDeps = {}) {
    this.options = Object.freeze(parseHomeOptions(options));
    const o = this.options;
    this.now = deps.now ?? Date.now;
    this.readings = new ReadingFanout(
      deps.onListenerError ?? ((err) => console.error('simulated home: a reading listener threw', err)),
    );
    const file = o.profileFile ? resolveProfileFile(o.profileFile) : null;
    this.profile =
      deps.profile ??
      (file
        ? seriesProfile(loadSeriesFile(file, 'profileFile'), file, {
            seed: o.seed,
            latitudeDeg: o.latitudeDeg,
            outdoor: o.outdoor,
          })
        : syntheticProfile(o, o.outdoor));
    this.battery = o.battery ? new BatteryModel(o.battery) : null;
    this.thermal = o.thermal
      ? new ThermalHouse(o.thermal.house, o.thermal.heatPump, o.thermal.thermostat)
      : null;
    this.realStartMs = this.now();
    this.simStartMs = o.startTime ?? this.realStartMs;
    this.simTimeMs = this.simStartMs;
    this.importWh = o.importWh;
    this.exportWh = o.exportWh;
    this.setpoint = o.batterySetpoint;
    this.sample(this.simTimeMs);
  }

  /** Simulated time now, ms since the epoch. */
  get timeMs(): number {
    return this.simTimeMs;
  }

  latest(): HomeReading | null {
    return this.readings.latest();
  }

  subscribe(listener: (reading: HomeReading) => void): () => void {
    return this.readings.subscribe(listener);
  }

  /** The home as it is now (the powers of the last substep), without advancing or emitting. */
  state(): HomeReading {
    return this.reading();
  }

  /** Sets the battery setpoint (grid-side W, + charge) or `self-consumption`. Without a battery: refused. */
  setBatterySetpoint(setpoint: BatterySetpoint): void {
    if (!this.battery)
      throw new ConfigError('battery', null, 'a battery in the home options to set a setpoint');
    if (setpoint !== 'self-consumption' && !Number.isFinite(setpoint))
      throw new ConfigError('batterySetpoint', setpoint, 'a finite number of W or "self-consumption"');
    this.setpoint = setpoint;
  }

  batterySetpoint(): BatterySetpoint {
    return this.setpoint;
  }

  /** Changes the thermostat (mode, setpointC, …). Without a thermal model: refused. */
  setThermostat(patch: Partial<ThermostatOptions>): ThermostatOptions {
    if (!this.thermal) throw new ConfigError('thermal', null, 'a thermal model in the home options');
    return this.thermal.setThermostat(patch);
  }

  batteryState(): BatteryState | null {
    return this.battery ? this.battery.state() : null;
  }

  /**
   * Moves simulated time forward by `dtSeconds` (no clock involved) and returns the state after.
   * Does not emit; `step()` and the timer do.
   */
  advance(dtSeconds: number): HomeReading {
    if (!Number.isFinite(dtSeconds) || dtSeconds < 0)
      throw new ConfigError('dtSeconds', dtSeconds, 'a finite number of seconds ≥ 0');
    this.advanceTo(this.simTimeMs + dtSeconds * 1000);
    return this.reading();
  }

  /** Emits a reading now and then every `intervalMs` of the clock until `stop()`. */
  start(): void {
    if (this.timer) return;
    // Simulated time continues from where it is; real time counts from now.
    this.realStartMs = this.now();
    this.simStartMs = this.simTimeMs;
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

  /** Advances simulated time to the clock's now (× speed), emits one reading and returns it. */
  step(): HomeReading {
    const target = this.simStartMs + (this.now() - this.realStartMs) * this.options.speed;
    // A clock that steps back (NTP) must not run the counters backwards.
    if (target > this.simTimeMs) this.advanceTo(target);
    const reading = this.reading();
    this.readings.publish(reading);
    return reading;
  }

  snapshot(): HomeSnapshot {
    return {
      simTimeMs: this.simTimeMs,
      importWh: this.importWh,
      exportWh: this.exportWh,
      ...(this.battery ? { batterySocPercent: this.battery.state().socPercent } : {}),
      ...(this.thermal ? { indoorC: this.thermal.state().indoorC } : {}),
    };
  }

  /** Exact cumulative counters, Wh (readings floor them to whole Wh like a meter register). */
  counters(): { importWh: number; exportWh: number } {
    return { importWh: this.importWh, exportWh: this.exportWh };
  }

  /**
   * Energy behind the meter since construction, Wh: household load, PV, heat pump electric and
   * battery grid-side (+ net charged). importWh − exportWh grows by exactly
   * loadWh + hvacWh + batteryWh − pvWh.
   */
  energy(): { loadWh: number; pvWh: number; hvacWh: number; batteryWh: number } {
    return { ...this.sums };
  }

  /** Restores persisted state (counters, simulated time, SoC, indoor temperature). */
  restore(snapshot: HomeSnapshot): void {
    for (const key of ['simTimeMs', 'importWh', 'exportWh'] as const)
      if (!Number.isFinite(snapshot[key]))
        throw new ConfigError(`snapshot.${key}`, snapshot[key], 'a finite number');
    this.simTimeMs = snapshot.simTimeMs;
    this.simStartMs = snapshot.simTimeMs;
    this.realStartMs = this.now();
    this.importWh = snapshot.importWh;
    this.exportWh = snapshot.exportWh;
    if (this.battery && snapshot.batterySocPercent !== undefined)
      this.battery.restore(snapshot.batterySocPercent);
    if (this.thermal && snapshot.indoorC !== undefined) this.thermal.restore(snapshot.indoorC);
    this.sample(this.simTimeMs);
  }

  private advanceTo(targetMs: number): void {
    const maxStepMs = this.options.maxStepSeconds * 1000;
    while (this.simTimeMs < targetMs) {
      const edge = this.profile.nextEdgeMs(this.simTimeMs);
      const end = Math.min(targetMs, this.simTimeMs + maxStepMs, edge > this.simTimeMs ? edge : targetMs);
      this.substep(end);
    }
  }

  /** One substep with constant powers; the only place counters change. */
  private substep(endMs: number): void {
    const dtSeconds = (endMs - this.simTimeMs) / 1000;
    const mid = (this.simTimeMs + endMs) / 2;
    const load = this.profile.loadW(mid);
    const pv = this.profile.pvW(mid);
    const outdoor = this.profile.outdoorC(mid);
    let hvacW = 0;
    let hvac: HvacAction = 'off';
    if (this.thermal) {
      const t = this.thermal.step(dtSeconds, outdoor, this.profile.solarWPerM2(mid));
      hvacW = dtSeconds > 0 ? (t.hvacElectricWh * 3600) / dtSeconds : 0;
      hvac = t.hvac;
    }
    let batteryW = 0;
    if (this.battery) {
      const wanted = this.setpoint === 'self-consumption' ? pv - load - hvacW : this.setpoint;
      batteryW = this.battery.step(dtSeconds, wanted).powerW;
    }
    const hours = dtSeconds / 3600;
    this.sums.loadWh += load * hours;
    this.sums.pvWh += pv * hours;
    this.sums.hvacWh += hvacW * hours;
    this.sums.batteryWh += batteryW * hours;
    const gridW = load + hvacW + batteryW - pv;
    const wh = gridW * hours;
    if (wh > 0) this.importWh += wh;
    else this.exportWh -= wh;
    this.simTimeMs = endMs;
    this.powers = { loadW: load, pvW: pv, hvacW, batteryW, outdoorC: outdoor, hvac };
  }

  /** Samples the profile at `t` without advancing (the state before the first substep). */
  private sample(t: number): void {
    this.powers = {
      loadW: this.profile.loadW(t),
      pvW: this.profile.pvW(t),
      hvacW: 0,
      batteryW: 0,
      outdoorC: this.profile.outdoorC(t),
      hvac: 'off',
    };
  }

  private reading(): HomeReading {
    const p = this.powers;
    const load = round1(p.loadW + p.hvacW);
    const pv = round1(p.pvW);
    const batteryW = round1(p.batteryW);
    return {
      timestamp: new Date(this.simTimeMs).toISOString(),
      importWh: Math.floor(this.importWh),
      exportWh: Math.floor(this.exportWh),
      powerW: round1(load + batteryW - pv),
      loadW: load,
      pvW: pv,
      batteryW,
      batterySocPercent: this.battery ? Math.round(this.battery.state().socPercent * 100) / 100 : null,
      hvacW: round1(p.hvacW),
      hvac: p.hvac,
      indoorC: this.thermal ? Math.round(this.thermal.state().indoorC * 100) / 100 : null,
      outdoorC: Math.round(p.outdoorC * 100) / 100,
    };
  }
}

function objectOrNull(raw: unknown, field: string, what: string): Record<string, unknown> | null {
  if (raw === null || raw === false || raw === undefined) return null;
  if (raw === true) return {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(field, raw, `null (none) or an object of ${what} options`);
  return raw as Record<string, unknown>;
}

/**
 * Decodes untyped home options: the household options (household.ts) plus `battery`, `thermal`
 * (`{house, heatPump, thermostat}`), `outdoor`, `profileFile`, `maxStepSeconds`, `batterySetpoint`.
 * `battery: {}` is a battery with default options; `null` (the default) is none.
 */
export function parseHomeOptions(raw: unknown, fieldPrefix = ''): HomeOptions {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(fieldPrefix.replace(/\.$/, '') || 'home', raw, 'an object of home options');
  const { battery, thermal, outdoor, profileFile, maxStepSeconds, batterySetpoint, ...household } =
    raw as Record<string, unknown>;
  const out: HomeOptions = { ...HOME_DEFAULTS, ...parseHouseholdOptions(household, fieldPrefix) };
  const b = objectOrNull(battery, `${fieldPrefix}battery`, 'battery');
  out.battery = b ? parseBatteryOptions(b, `${fieldPrefix}battery.`) : null;
  const t = objectOrNull(thermal, `${fieldPrefix}thermal`, 'thermal');
  if (t) {
    for (const key of Object.keys(t))
      if (!['house', 'heatPump', 'thermostat'].includes(key))
        throw new ConfigError(`${fieldPrefix}thermal.${key}`, t[key], 'one of house, heatPump, thermostat');
    out.thermal = {
      house: parseThermalOptions(t.house, `${fieldPrefix}thermal.house.`),
      heatPump: parseHeatPumpOptions(t.heatPump, `${fieldPrefix}thermal.heatPump.`),
      thermostat: parseThermostatOptions(t.thermostat, `${fieldPrefix}thermal.thermostat.`),
    };
  } else out.thermal = null;
  if (outdoor !== undefined) {
    const o = objectOrNull(outdoor, `${fieldPrefix}outdoor`, 'outdoor temperature') ?? {};
    const parsed: OutdoorOptions = { ...OUTDOOR_DEFAULTS };
    for (const [key, value] of Object.entries(o)) {
      if (!(key in OUTDOOR_DEFAULTS))
        throw new ConfigError(
          `${fieldPrefix}outdoor.${key}`,
          value,
          `one of ${Object.keys(OUTDOOR_DEFAULTS).join(', ')}`,
        );
      if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > 100)
        throw new ConfigError(`${fieldPrefix}outdoor.${key}`, value, 'a number of °C from -100 to 100');
      parsed[key as keyof OutdoorOptions] = value;
    }
    out.outdoor = parsed;
  }
  if (profileFile !== undefined && profileFile !== null) {
    if (typeof profileFile !== 'string' || profileFile === '')
      throw new ConfigError(
        `${fieldPrefix}profileFile`,
        profileFile,
        'null (synthetic) or the path of a load/PV CSV',
      );
    out.profileFile = profileFile;
  }
  if (maxStepSeconds !== undefined) {
    if (typeof maxStepSeconds !== 'number' || !(maxStepSeconds >= 1 && maxStepSeconds <= 3600))
      throw new ConfigError(`${fieldPrefix}maxStepSeconds`, maxStepSeconds, 'seconds from 1 to 3600');
    out.maxStepSeconds = maxStepSeconds;
  }
  if (batterySetpoint !== undefined) {
    if (
      batterySetpoint !== 'self-consumption' &&
      (typeof batterySetpoint !== 'number' || !Number.isFinite(batterySetpoint))
    )
      throw new ConfigError(
        `${fieldPrefix}batterySetpoint`,
        batterySetpoint,
        'a number of W or "self-consumption"',
      );
    out.batterySetpoint = batterySetpoint;
  }
  return out;
}
