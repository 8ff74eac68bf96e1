/**
 * The house as a first-order RC thermal model with an AC / heat pump, pure and deterministic.
 *
 *     C · dT/dt = (T_out − T) / R + Q_solar + Q_hvac
 *
 * - `T` indoor air temperature, °C; `T_out` outdoor temperature, °C.
 * - `R` envelope thermal resistance, °C/W (= K/W; 1/R is the UA value in W/K).
 * - `C` heat capacity of the indoor air, furniture and inner walls, **J/°C** (1 kWh/°C = 3.6e6 J/°C;
 *   `kWhPerC()` converts). The time constant is `τ = R · C` seconds.
 * - `Q_solar = solarIrradianceWPerM2 × solarApertureM2`, W (the effective glazing area).
 * - `Q_hvac = ± COP × electric power`, W: + heating, − cooling.
 *
 * Inputs are held constant over a step and the ODE is solved exactly (no Euler error):
 * `T(t+dt) = T_eq + (T − T_eq)·e^(−dt/τ)` with `T_eq = T_out + R·(Q_solar + Q_hvac)`. The step
 * also reports the heat that crossed the envelope, computed from the exact mean temperature, so
 * `C·ΔT = envelope + solar + hvac` holds to rounding — the energy balance the tests check.
 */
import { ConfigError } from '../errors';

export interface ThermalOptions {
  /** Envelope resistance, °C/W. */
  resistanceCPerW: number;
  /** Heat capacity, J/°C. */
  capacitanceJPerC: number;
  /** Effective solar aperture (glazing area × transmittance), m²; 0 = no solar gain. */
  solarApertureM2: number;
  /** Indoor temperature at construction, °C. */
  initialIndoorC: number;
}

export interface HeatPumpOptions {
  /** Electric power while the compressor runs at full power, W. */
  ratedElectricW: number;
  /** Heat delivered per unit of electric energy while heating (COP), > 0. */
  copHeat: number;
  /** Heat removed per unit of electric energy while cooling (EER as a ratio), > 0. */
  copCool: number;
}

/** 1/R = 150 W/K and C = 10 kWh/K: τ ≈ 67 h, a well-insulated single-family house. */
export const THERMAL_DEFAULTS: Readonly<ThermalOptions> = Object.freeze({
  resistanceCPerW: 1 / 150,
  capacitanceJPerC: 10 * 3.6e6,
  solarApertureM2: 4,
  initialIndoorC: 21,
});

export const HEAT_PUMP_DEFAULTS: Readonly<HeatPumpOptions> = Object.freeze({
  ratedElectricW: 1500,
  copHeat: 3.5,
  copCool: 3,
});

/** kWh/°C → J/°C. */
export function kWhPerC(kWh: number): number {
  return kWh * 3.6e6;
}

export type HvacAction = 'off' | 'heat' | 'cool';

export interface ThermalInputs {
  /** Outdoor temperature over the step, °C. */
  outdoorC: number;
  /** Solar irradiance on the glazing over the step, W/m² (default 0). */
  solarWPerM2?: number;
  /** What the AC / heat pump does over the step (default 'off'). */
  hvac?: HvacAction;
  /** Its electric power over the step, W (default: rated power while heating or cooling). */
  hvacElectricW?: number;
}

export interface ThermalStep {
  /** Indoor temperature at the end of the step, °C. */
  indoorC: number;
  /** Exact time-average of the indoor temperature over the step, °C. */
  meanIndoorC: number;
  /** Heat that entered through the envelope, Wh (negative = lost to outdoors). */
  envelopeWh: number;
  /** Solar heat gain, Wh (≥ 0). */
  solarWh: number;
  /** Heat the AC / heat pump added (+ heating) or removed (− cooling), Wh. */
  hvacHeatWh: number;
  /** Electric energy the AC / heat pump used, Wh (≥ 0). */
  hvacElectricWh: number;
}

const SECONDS_PER_HOUR = 3600;

/** One exact step of the RC model from `indoorC`. Pure. `dtSeconds` ≤ 0 changes nothing. */
export function stepThermal(
  house: ThermalOptions,
  pump: HeatPumpOptions,
  indoorC: number,
  dtSeconds: number,
  inputs: ThermalInputs,
): ThermalStep {
  const action = inputs.hvac ?? 'off';
  const electricW =
    action === 'off'
      ? 0
      : Math.min(pump.ratedElectricW, Math.max(0, inputs.hvacElectricW ?? pump.ratedElectricW));
  const hvacW =
    action === 'heat' ? pump.copHeat * electricW : action === 'cool' ? -pump.copCool * electricW : 0;
  const solarW = Math.max(0, inputs.solarWPerM2 ?? 0) * house.solarApertureM2;
  if (!(dtSeconds > 0))
    return { indoorC, meanIndoorC: indoorC, envelopeWh: 0, solarWh: 0, hvacHeatWh: 0, hvacElectricWh: 0 };
  const tau = house.resistanceCPerW * house.capacitanceJPerC;
  const equilibriumC = inputs.outdoorC + house.resistanceCPerW * (solarW + hvacW);
  // 1 − e^(−dt/τ), precise for dt ≪ τ.
  const decayed = -Math.expm1(-dtSeconds / tau);
  const gap = indoorC - equilibriumC;
  const endC = equilibriumC + gap * (1 - decayed);
  const meanC = equilibriumC + (gap * decayed * tau) / dtSeconds;
  const hours = dtSeconds / SECONDS_PER_HOUR;
  return {
    indoorC: endC,
    meanIndoorC: meanC,
    envelopeWh: ((inputs.outdoorC - meanC) / house.resistanceCPerW) * hours,
    solarWh: solarW * hours,
    hvacHeatWh: hvacW * hours,
    hvacElectricWh: electricW * hours,
  };
}

export interface ThermostatOptions {
  /** 'off', 'heat', 'cool' or 'auto' (heats below and cools above the setpoint). */
  mode: ThermostatMode;
  /** Target indoor temperature, °C. */
  setpointC: number;
  /** Width of the on/off band around the setpoint, °C (> 0 avoids chattering). */
  hysteresisC: number;
  /** Shortest run once the compressor starts, s (protects it from short-cycling). */
  minOnSeconds: number;
  /** Shortest pause once the compressor stops, s. */
  minOffSeconds: number;
}

export type ThermostatMode = 'off' | 'heat' | 'cool' | 'auto';

export const THERMOSTAT_DEFAULTS: Readonly<ThermostatOptions> = Object.freeze({
  mode: 'off',
  setpointC: 21,
  hysteresisC: 1,
  minOnSeconds: 300,
  minOffSeconds: 300,
});

/**
 * Bang-bang control with hysteresis and minimum on/off times, pure: decides what the compressor
 * does next from what it does now and how long it has done so.
 *
 * - heat: starts at T ≤ setpoint − h/2, stops at T ≥ setpoint + h/2. cool: mirrored.
 * - auto: heats from T ≤ setpoint − h until T ≥ setpoint; cools from T ≥ setpoint + h until
 *   T ≤ setpoint, so heating and cooling never follow each other without an idle band.
 * - A running compressor keeps running until `minOnSeconds` have passed, and an idle one stays
 *   idle for `minOffSeconds` — except that mode 'off' always stops it at once.
 */
export function thermostatDecide(
  opts: ThermostatOptions,
  indoorC: number,
  current: HvacAction,
  secondsInCurrent: number,
): HvacAction {
  if (opts.mode === 'off') return 'off';
  const half = opts.hysteresisC / 2;
  let wanted: HvacAction = current;
  if (opts.mode === 'heat' || opts.mode === 'cool') {
    // A mode change away from what runs stops it (still subject to minOn below).
    if (current !== 'off' && current !== opts.mode) wanted = 'off';
    else if (opts.mode === 'heat')
      wanted =
        current === 'heat'
          ? indoorC >= opts.setpointC + half
            ? 'off'
            : 'heat'
          : indoorC <= opts.setpointC - half
            ? 'heat'
            : 'off';
    else
      wanted =
        current === 'cool'
          ? indoorC <= opts.setpointC - half
            ? 'off'
            : 'cool'
          : indoorC >= opts.setpointC + half
            ? 'cool'
            : 'off';
  } else {
    const h = opts.hysteresisC;
    if (current === 'heat') wanted = indoorC >= opts.setpointC ? 'off' : 'heat';
    else if (current === 'cool') wanted = indoorC <= opts.setpointC ? 'off' : 'cool';
    else wanted = indoorC <= opts.setpointC - h ? 'heat' : indoorC >= opts.setpointC + h ? 'cool' : 'off';
  }
  if (wanted === current) return current;
  if (current !== 'off' && secondsInCurrent < opts.minOnSeconds) return current;
  if (current === 'off' && secondsInCurrent < opts.minOffSeconds) return current;
  return wanted;
}

/** A house with its heat pump and thermostat, stateful; `step(dt, outdoorC, solar)` advances it. */
export class ThermalHouse {
  readonly house: Readonly<ThermalOptions>;
  readonly pump: Readonly<HeatPumpOptions>;
  private thermostat: ThermostatOptions;
  private indoorC: number;
  private action: HvacAction = 'off';
  /** Seconds the compressor has been in `action`; starts "long ago" so it may start at once. */
  private secondsInAction = Number.POSITIVE_INFINITY;

  constructor(
    house: Partial<ThermalOptions> = {},
    pump: Partial<HeatPumpOptions> = {},
    thermostat: Partial<ThermostatOptions> = {},
  ) {
    this.house = Object.freeze(parseThermalOptions(house));
    this.pump = Object.freeze(parseHeatPumpOptions(pump));
    this.thermostat = parseThermostatOptions(thermostat);
    this.indoorC = this.house.initialIndoorC;
  }

  state(): { indoorC: number; hvac: HvacAction; thermostat: ThermostatOptions } {
    return { indoorC: this.indoorC, hvac: this.action, thermostat: { ...this.thermostat } };
  }

  /** Changes mode / setpoint / hysteresis / minimum times; validated like the constructor's. */
  setThermostat(patch: Partial<ThermostatOptions>): ThermostatOptions {
    this.thermostat = parseThermostatOptions({ ...this.thermostat, ...patch });
    return { ...this.thermostat };
  }

  /** Sets the indoor temperature directly (restoring persisted state), °C. */
  restore(indoorC: number): void {
    if (!Number.isFinite(indoorC)) throw new ConfigError('indoorC', indoorC, 'a finite temperature in °C');
    this.indoorC = indoorC;
  }

  /**
   * The thermostat decides at the start of the step, then the house evolves exactly for `dtSeconds`.
   * Callers that want the thermostat to react within a long span step in pieces (the home does).
   */
  step(dtSeconds: number, outdoorC: number, solarWPerM2 = 0): ThermalStep & { hvac: HvacAction } {
    const next = thermostatDecide(this.thermostat, this.indoorC, this.action, this.secondsInAction);
    if (next !== this.action) {
      this.action = next;
      this.secondsInAction = 0;
    }
    const result = stepThermal(this.house, this.pump, this.indoorC, dtSeconds, {
      outdoorC,
      solarWPerM2,
      hvac: this.action,
    });
    this.indoorC = result.indoorC;
    if (dtSeconds > 0) this.secondsInAction += dtSeconds;
    return { ...result, hvac: this.action };
  }
}

function checkNumber(
  input: Record<string, unknown>,
  key: string,
  fieldPrefix: string,
  ok: (v: number) => boolean,
  allowed: string,
): number | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value))
    throw new ConfigError(`${fieldPrefix}${key}`, value, allowed);
  return value;
}

function asObject(raw: unknown, fieldPrefix: string, what: string, known: string[]): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(fieldPrefix.replace(/\.$/, '') || what, raw, `an object of ${what} options`);
  const input = raw as Record<string, unknown>;
  for (const key of Object.keys(input))
    if (!known.includes(key))
      throw new ConfigError(`${fieldPrefix}${key}`, input[key], `one of the options ${known.join(', ')}`);
  return input;
}

export function parseThermalOptions(raw: unknown, fieldPrefix = ''): ThermalOptions {
  const input = asObject(raw, fieldPrefix, 'thermal', Object.keys(THERMAL_DEFAULTS));
  const out: ThermalOptions = { ...THERMAL_DEFAULTS };
  const positive = (v: number) => v > 0 && v <= 1e12;
  out.resistanceCPerW =
    checkNumber(input, 'resistanceCPerW', fieldPrefix, positive, 'a resistance in °C/W > 0') ??
    out.resistanceCPerW;
  out.capacitanceJPerC =
    checkNumber(input, 'capacitanceJPerC', fieldPrefix, positive, 'a heat capacity in J/°C > 0') ??
    out.capacitanceJPerC;
  out.solarApertureM2 =
    checkNumber(
      input,
      'solarApertureM2',
      fieldPrefix,
      (v) => v >= 0 && v <= 1e4,
      'an area in m² from 0 to 10000',
    ) ?? out.solarApertureM2;
  out.initialIndoorC =
    checkNumber(
      input,
      'initialIndoorC',
      fieldPrefix,
      (v) => v >= -50 && v <= 80,
      'a temperature in °C from -50 to 80',
    ) ?? out.initialIndoorC;
  return out;
}

export function parseHeatPumpOptions(raw: unknown, fieldPrefix = ''): HeatPumpOptions {
  const input = asObject(raw, fieldPrefix, 'heat pump', Object.keys(HEAT_PUMP_DEFAULTS));
  const out: HeatPumpOptions = { ...HEAT_PUMP_DEFAULTS };
  out.ratedElectricW =
    checkNumber(
      input,
      'ratedElectricW',
      fieldPrefix,
      (v) => v >= 0 && v <= 1e6,
      'a number of W from 0 to 1000000',
    ) ?? out.ratedElectricW;
  out.copHeat =
    checkNumber(input, 'copHeat', fieldPrefix, (v) => v > 0 && v <= 20, 'a COP > 0 and ≤ 20') ?? out.copHeat;
  out.copCool =
    checkNumber(input, 'copCool', fieldPrefix, (v) => v > 0 && v <= 20, 'a COP > 0 and ≤ 20') ?? out.copCool;
  return out;
}

const MODES: readonly ThermostatMode[] = ['off', 'heat', 'cool', 'auto'];

export function parseThermostatOptions(raw: unknown, fieldPrefix = ''): ThermostatOptions {
  const input = asObject(raw, fieldPrefix, 'thermostat', Object.keys(THERMOSTAT_DEFAULTS));
  const out: ThermostatOptions = { ...THERMOSTAT_DEFAULTS };
  if (input.mode !== undefined) {
    if (!MODES.includes(input.mode as ThermostatMode))
      throw new ConfigError(`${fieldPrefix}mode`, input.mode, `one of ${MODES.join(', ')}`);
    out.mode = input.mode as ThermostatMode;
  }
  out.setpointC =
    checkNumber(
      input,
      'setpointC',
      fieldPrefix,
      (v) => v >= 5 && v <= 35,
      'a temperature in °C from 5 to 35',
    ) ?? out.setpointC;
  out.hysteresisC =
    checkNumber(input, 'hysteresisC', fieldPrefix, (v) => v >= 0 && v <= 10, 'a band in °C from 0 to 10') ??
    out.hysteresisC;
  out.minOnSeconds =
    checkNumber(
      input,
      'minOnSeconds',
      fieldPrefix,
      (v) => v >= 0 && v <= 86_400,
      'seconds from 0 to 86400',
    ) ?? out.minOnSeconds;
  out.minOffSeconds =
    checkNumber(
      input,
      'minOffSeconds',
      fieldPrefix,
      (v) => v >= 0 && v <= 86_400,
      'seconds from 0 to 86400',
    ) ?? out.minOffSeconds;
  return out;
}
