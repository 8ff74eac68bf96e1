/**
 * A home battery as a pure, deterministic model: what the grid side sees for a charge/discharge
 * setpoint, and how the state of charge moves.
 *
 * Conventions (the same as `gateway/context.ts`: power in W, energy in Wh, SoC in %):
 * - `setpointW` and the reported `powerW` are **grid-side (AC) power**: positive = charging (the
 *   battery draws from the house bus), negative = discharging (it feeds the house bus).
 * - Charging stores `powerW × chargeEfficiency`; discharging takes `|powerW| / dischargeEfficiency`
 *   from the cells. The difference is the conversion loss, reported per step.
 * - Power is held constant over a step. If the SoC limit would be crossed, the step's power is
 *   reduced so the limit is reached exactly at the end of the step (never overshot), and the
 *   clipping is reported — so `energyWh`, `storedWh` and `lossWh` always balance exactly.
 */
import { ConfigError } from '../errors';

export interface BatteryOptions {
  /** Usable cell capacity between 0 % and 100 % SoC, Wh. */
  capacityWh: number;
  /** Largest grid-side charging power, W (≥ 0). */
  maxChargeW: number;
  /** Largest grid-side discharging power, W (≥ 0, a magnitude). */
  maxDischargeW: number;
  /** Fraction of the grid-side charging energy that reaches the cells, (0, 1]. */
  chargeEfficiency: number;
  /** Fraction of the energy taken from the cells that reaches the grid side, (0, 1]. */
  dischargeEfficiency: number;
  /** Lowest SoC the battery management allows, %. */
  socMinPercent: number;
  /** Highest SoC the battery management allows, %. */
  socMaxPercent: number;
  /** SoC at construction, % (clamped into [socMinPercent, socMaxPercent]). */
  initialSocPercent: number;
}

export const BATTERY_DEFAULTS: Readonly<BatteryOptions> = Object.freeze({
  capacityWh: 10_000,
  maxChargeW: 5000,
  maxDischargeW: 5000,
  chargeEfficiency: 0.95,
  dischargeEfficiency: 0.95,
  socMinPercent: 10,
  socMaxPercent: 95,
  initialSocPercent: 50,
});

/** Why a step delivered less than its setpoint. */
export type BatteryClip = 'none' | 'charge-power' | 'discharge-power' | 'soc-max' | 'soc-min';

export interface BatteryStep {
  /** Average grid-side power actually drawn (+) or delivered (−) over the step, W. */
  powerW: number;
  /** The setpoint that was asked for, W. */
  requestedW: number;
  /** Why `powerW` differs from `requestedW` ('none' when it does not). */
  clip: BatteryClip;
  /** Grid-side energy over the step, Wh: `powerW × dt` (+ charged, − discharged). */
  energyWh: number;
  /** Change of the energy in the cells, Wh. */
  storedWh: number;
  /** Conversion loss over the step, Wh (≥ 0): `energyWh − storedWh`. */
  lossWh: number;
  /** SoC after the step, %. */
  socPercent: number;
}

export interface BatteryState {
  socPercent: number;
  /** Energy in the cells, Wh (`socPercent × capacityWh / 100`). */
  storedWh: number;
}

const SECONDS_PER_HOUR = 3600;

/**
 * One step of the battery from `storedWh` (cell energy, Wh). Pure: same inputs, same output.
 * `dtSeconds` ≤ 0 changes nothing; a non-finite setpoint is the caller's bug and throws.
 */
export function stepBattery(
  opts: BatteryOptions,
  storedWh: number,
  dtSeconds: number,
  setpointW: number,
): BatteryStep & { cellWh: number } {
  if (!Number.isFinite(setpointW)) throw new ConfigError('setpointW', setpointW, 'a finite number of W');
  const minWh = (opts.socMinPercent / 100) * opts.capacityWh;
  const maxWh = (opts.socMaxPercent / 100) * opts.capacityWh;
  let powerW = setpointW;
  let clip: BatteryClip = 'none';
  if (powerW > opts.maxChargeW) {
    powerW = opts.maxChargeW;
    clip = 'charge-power';
  } else if (powerW < -opts.maxDischargeW) {
    powerW = -opts.maxDischargeW;
    clip = 'discharge-power';
  }
  const hours = dtSeconds / SECONDS_PER_HOUR;
  if (!(hours > 0)) {
    const soc = (storedWh * 100) / opts.capacityWh;
    return {
      powerW: 0,
      requestedW: setpointW,
      clip: 'none',
      energyWh: 0,
      storedWh: 0,
      lossWh: 0,
      socPercent: soc,
      cellWh: storedWh,
    };
  }
  let storedDeltaWh: number;
  if (powerW > 0) {
    const headroomWh = Math.max(0, maxWh - storedWh);
    storedDeltaWh = powerW * opts.chargeEfficiency * hours;
    if (storedDeltaWh >= headroomWh) {
      if (storedDeltaWh > headroomWh) clip = 'soc-max';
      storedDeltaWh = headroomWh;
      powerW = headroomWh > 0 ? headroomWh / (opts.chargeEfficiency * hours) : 0;
    }
  } else if (powerW < 0) {
    const availableWh = Math.max(0, storedWh - minWh);
    const drawWh = (-powerW / opts.dischargeEfficiency) * hours;
    if (drawWh >= availableWh) {
      if (drawWh > availableWh) clip = 'soc-min';
      storedDeltaWh = -availableWh;
      powerW = availableWh > 0 ? -(availableWh * opts.dischargeEfficiency) / hours : 0;
    } else {
      storedDeltaWh = -drawWh;
    }
  } else {
    storedDeltaWh = 0;
  }
  const energyWh = powerW * hours;
  const cellWh = storedWh + storedDeltaWh;
  return {
    powerW,
    requestedW: setpointW,
    clip,
    energyWh,
    storedWh: storedDeltaWh,
    lossWh: energyWh - storedDeltaWh,
    socPercent: (cellWh * 100) / opts.capacityWh,
    cellWh,
  };
}

/** Running totals since construction, for energy balances and reports. */
export interface BatteryTotals {
  /** Grid-side energy charged, Wh. */
  chargedWh: number;
  /** Grid-side energy discharged, Wh (a magnitude). */
  dischargedWh: number;
  /** Conversion losses, Wh. */
  lossWh: number;
}

/** A battery with state: `step(dtSeconds, setpointW)` advances it. Deterministic, no clock. */
export class BatteryModel {
  readonly options: Readonly<BatteryOptions>;
  private cellWh: number;
  private readonly sums: BatteryTotals = { chargedWh: 0, dischargedWh: 0, lossWh: 0 };

  static fromConfig(raw: unknown, fieldPrefix = ''): BatteryModel {
    return new BatteryModel(parseBatteryOptions(raw, fieldPrefix));
  }

  constructor(options: Partial<BatteryOptions> = {}) {
    this.options = Object.freeze(parseBatteryOptions(options));
    const soc = Math.min(
      this.options.socMaxPercent,
      Math.max(this.options.socMinPercent, this.options.initialSocPercent),
    );
    this.cellWh = (soc / 100) * this.options.capacityWh;
  }

  state(): BatteryState {
    return { socPercent: (this.cellWh * 100) / this.options.capacityWh, storedWh: this.cellWh };
  }

  totals(): BatteryTotals {
    return { ...this.sums };
  }

  /** Sets the SoC directly (restoring persisted state); clamped to the SoC limits. */
  restore(socPercent: number): void {
    const soc = Math.min(this.options.socMaxPercent, Math.max(this.options.socMinPercent, socPercent));
    this.cellWh = (soc / 100) * this.options.capacityWh;
  }

  step(dtSeconds: number, setpointW: number): BatteryStep {
    const { cellWh, ...result } = stepBattery(this.options, this.cellWh, dtSeconds, setpointW);
    this.cellWh = cellWh;
    if (result.energyWh > 0) this.sums.chargedWh += result.energyWh;
    else this.sums.dischargedWh -= result.energyWh;
    this.sums.lossWh += result.lossWh;
    return result;
  }
}

interface Rule {
  ok: (v: number) => boolean;
  allowed: string;
}

const RULES: Record<keyof BatteryOptions, Rule> = {
  capacityWh: { ok: (v) => v > 0 && v <= 1e9, allowed: 'a number of Wh > 0 and ≤ 1000000000' },
  maxChargeW: { ok: (v) => v >= 0 && v <= 1e8, allowed: 'a number of W from 0 to 100000000' },
  maxDischargeW: { ok: (v) => v >= 0 && v <= 1e8, allowed: 'a number of W from 0 to 100000000' },
  chargeEfficiency: { ok: (v) => v > 0 && v <= 1, allowed: 'a fraction > 0 and ≤ 1' },
  dischargeEfficiency: { ok: (v) => v > 0 && v <= 1, allowed: 'a fraction > 0 and ≤ 1' },
  socMinPercent: { ok: (v) => v >= 0 && v <= 100, allowed: 'a percentage from 0 to 100' },
  socMaxPercent: { ok: (v) => v >= 0 && v <= 100, allowed: 'a percentage from 0 to 100' },
  initialSocPercent: { ok: (v) => v >= 0 && v <= 100, allowed: 'a percentage from 0 to 100' },
};

/** Decodes untyped battery options: every field optional (defaults above), unknown keys refused. */
export function parseBatteryOptions(raw: unknown, fieldPrefix = ''): BatteryOptions {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(fieldPrefix.replace(/\.$/, '') || 'battery', raw, 'an object of battery options');
  const input = raw as Record<string, unknown>;
  const out: BatteryOptions = { ...BATTERY_DEFAULTS };
  for (const key of Object.keys(input)) {
    if (!(key in RULES))
      throw new ConfigError(
        `${fieldPrefix}${key}`,
        input[key],
        `one of the options ${Object.keys(RULES).join(', ')}`,
      );
    const value = input[key];
    if (value === undefined) continue;
    const rule = RULES[key as keyof BatteryOptions];
    if (typeof value !== 'number' || !Number.isFinite(value) || !rule.ok(value))
      throw new ConfigError(`${fieldPrefix}${key}`, value, rule.allowed);
    out[key as keyof BatteryOptions] = value;
  }
  if (out.socMinPercent > out.socMaxPercent)
    throw new ConfigError(
      `${fieldPrefix}socMinPercent`,
      out.socMinPercent,
      `a percentage ≤ socMaxPercent (${out.socMaxPercent})`,
    );
  return out;
}
