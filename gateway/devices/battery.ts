/**
 * A home battery with its limits enforced in the adapter layer: whatever a rule asks, the setpoint
 * written to the device stays within −maxDischargeW … +maxChargeW, charging stops at maxSocPct and
 * discharging stops at minSocPct. Every SoC report re-checks the limits, so a battery charging at
 * 3 kW is stopped by the adapter when it reaches its maximum, and resumes what was asked once the
 * SoC has fallen back below it.
 */
import { InputError } from '../errors';
import type { BatteryCommand, BatteryDevice, BatteryDriver, BatteryLimits, BatteryState } from './api';
import { systemClock, type Clock } from './clock';
import { checkOrdered, type ConfigReader } from './config';
import { Listeners } from './listeners';

export const BATTERY_LIMIT_DEFAULTS: Readonly<BatteryLimits> = Object.freeze({
  maxChargeW: 3000,
  maxDischargeW: 3000,
  minSocPct: 10,
  maxSocPct: 95,
});

const POWER = { min: 1, max: 1_000_000, allowed: 'a power from 1 to 1000000 W' };
const PCT = { min: 0, max: 100, allowed: 'a state of charge from 0 to 100 %' };

export function readBatteryLimits(r: ConfigReader): BatteryLimits {
  const d = BATTERY_LIMIT_DEFAULTS;
  const limits: BatteryLimits = {
    maxChargeW: r.number('maxChargeW', d.maxChargeW, POWER),
    maxDischargeW: r.number('maxDischargeW', d.maxDischargeW, POWER),
    minSocPct: r.number('minSocPct', d.minSocPct, PCT),
    maxSocPct: r.number('maxSocPct', d.maxSocPct, PCT),
  };
  checkOrdered(limits.minSocPct, limits.maxSocPct, r.field('minSocPct'), r.field('maxSocPct'));
  return limits;
}

/** The setpoint allowed for `requestedW` at `socPct` within `limits`, and why it differs. */
export function limitSetpoint(
  requestedW: number,
  socPct: number | null,
  limits: BatteryLimits,
): { setpointW: number; limitedBy: string | null } {
  let setpointW = Math.min(limits.maxChargeW, Math.max(-limits.maxDischargeW, requestedW));
  let limitedBy = setpointW !== requestedW ? (requestedW > 0 ? 'maxChargeW' : 'maxDischargeW') : null;
  if (socPct !== null && setpointW > 0 && socPct >= limits.maxSocPct) {
    setpointW = 0;
    limitedBy = `SoC ${socPct} % at maxSocPct ${limits.maxSocPct} %`;
  } else if (socPct !== null && setpointW < 0 && socPct <= limits.minSocPct) {
    setpointW = 0;
    limitedBy = `SoC ${socPct} % at minSocPct ${limits.minSocPct} %`;
  }
  // -0 would print as 0 but compare oddly in JSON consumers.
  return { setpointW: setpointW === 0 ? 0 : setpointW, limitedBy };
}

export function checkBatteryCommand(command: BatteryCommand): void {
  const power = command.powerW;
  if (power !== undefined && (typeof power !== 'number' || !Number.isFinite(power)))
    throw new InputError('msg.payload.powerW', power, 'a number of W: positive charges, negative discharges');
  for (const key of ['minSocPct', 'maxSocPct'] as const) {
    const v = command[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100))
      throw new InputError(`msg.payload.${key}`, v, 'a state of charge from 0 to 100 %');
  }
}

export class LimitedBattery implements BatteryDevice {
  private current: BatteryState;
  private readonly listeners: Listeners<BatteryState>;
  private readonly unsubscribe: Array<() => void>;
  private queue: Promise<unknown> = Promise.resolve();
  /** The reason of the last command, without what the limits added to it. */
  private askedReason = 'initial';

  constructor(
    readonly driver: BatteryDriver,
    limits: BatteryLimits = BATTERY_LIMIT_DEFAULTS,
    private readonly clock: Clock = systemClock,
    private readonly onError: (err: unknown) => void = (err) => console.error(err),
  ) {
    this.listeners = new Listeners(onError);
    this.current = {
      socPct: null,
      powerW: null,
      setpointW: 0,
      requestedW: 0,
      limits: { ...limits },
      available: driver.available(),
      changedAt: new Date(clock.now()).toISOString(),
      reason: 'initial',
    };
    this.unsubscribe = [
      driver.onReport((report) => {
        if (typeof report.socPct === 'number' && Number.isFinite(report.socPct))
          this.current.socPct = report.socPct;
        if (typeof report.powerW === 'number' && Number.isFinite(report.powerW))
          this.current.powerW = report.powerW;
        this.emit();
        // A new SoC may cross a limit: re-apply what was asked.
        this.apply(this.current.requestedW, this.askedReason, false).catch((err: unknown) =>
          this.onError(err),
        );
      }),
      driver.onAvailability((available) => {
        this.current.available = available;
        this.emit();
      }),
    ];
  }

  get kind(): string {
    return this.driver.kind;
  }

  state(): BatteryState {
    return { ...this.current, limits: { ...this.current.limits } };
  }

  subscribe(listener: (state: BatteryState) => void): () => void {
    return this.listeners.add(listener);
  }

  private emit(): void {
    this.listeners.emit(this.state());
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private apply(requestedW: number, reason: string, force: boolean): Promise<BatteryState> {
    return this.serial(async () => {
      const { setpointW, limitedBy } = limitSetpoint(requestedW, this.current.socPct, this.current.limits);
      const changed = setpointW !== this.current.setpointW;
      if (changed || force) await this.driver.writeSetpoint(setpointW);
      this.current.requestedW = requestedW;
      this.askedReason = reason;
      if (changed) {
        this.current.setpointW = setpointW;
        this.current.changedAt = new Date(this.clock.now()).toISOString();
        this.current.reason = limitedBy ? `${reason} (limited by ${limitedBy})` : reason;
      } else if (force) {
        this.current.reason = limitedBy ? `${reason} (limited by ${limitedBy})` : reason;
      }
      if (changed || force) this.emit();
      return this.state();
    });
  }

  async set(command: BatteryCommand, reason: string): Promise<BatteryState> {
    checkBatteryCommand(command);
    const limits = {
      ...this.current.limits,
      ...(command.minSocPct !== undefined ? { minSocPct: command.minSocPct } : {}),
      ...(command.maxSocPct !== undefined ? { maxSocPct: command.maxSocPct } : {}),
    };
    if (limits.minSocPct > limits.maxSocPct)
      throw new InputError(
        'msg.payload.maxSocPct',
        limits.maxSocPct,
        `a state of charge ≥ minSocPct (${limits.minSocPct} %)`,
      );
    this.current.limits = limits;
    return this.apply(command.powerW ?? this.current.requestedW, reason, command.powerW !== undefined);
  }

  async close(): Promise<void> {
    for (const undo of this.unsubscribe) undo();
    this.listeners.clear();
    await this.driver.close();
  }
}
