/**
 * A thermostat / AC / heat pump with its compressor protected: whatever a rule or a node asks, the
 * output stays on for at least `minOnMs` after starting and off for at least `minOffMs` after
 * stopping. A switch asked for too early is not refused: it waits (`state().pending`) and happens
 * when the minimum time is up, unless an opposite command cancels it first — so a rule that
 * toggles every tick leaves the compressor alone instead of short-cycling it. The gateway's start
 * counts as a switch: a compressor that a restart just stopped is not restarted at once.
 *
 * Setpoint and mode are applied at once; only the on/off transition is timed. Time comes from an
 * injected clock.
 */
import { InputError } from '../errors';
import {
  THERMOSTAT_MODES,
  type ThermostatCommand,
  type ThermostatDevice,
  type ThermostatDriver,
  type ThermostatMode,
  type ThermostatSettings,
  type ThermostatState,
} from './api';
import { systemClock, type Clock } from './clock';
import { checkOrdered, type ConfigReader } from './config';
import { Listeners } from './listeners';

export interface ThermostatGuardConfig {
  /** Shortest run of the compressor, ms (default 3 min). */
  minOnMs: number;
  /** Shortest pause of the compressor, ms (default 5 min). */
  minOffMs: number;
  /** Lowest setpoint accepted, °C. */
  minSetpointC: number;
  /** Highest setpoint accepted, °C. */
  maxSetpointC: number;
  /** Setpoint at start, °C. */
  setpointC: number;
  /** Mode at start. */
  mode: ThermostatMode;
}

export const THERMOSTAT_GUARD_DEFAULTS: Readonly<ThermostatGuardConfig> = Object.freeze({
  minOnMs: 180_000,
  minOffMs: 300_000,
  minSetpointC: 5,
  maxSetpointC: 35,
  setpointC: 21,
  mode: 'auto',
});

const MS = { min: 0, max: 86_400_000, integer: true, allowed: 'an integer from 0 to 86400000 ms' };
const CELSIUS = { min: -20, max: 60, allowed: 'a temperature from -20 to 60 °C' };

/** Reads the guard part of a thermostat's options (the rest belongs to its transport). */
export function readGuardConfig(r: ConfigReader): ThermostatGuardConfig {
  const d = THERMOSTAT_GUARD_DEFAULTS;
  const config: ThermostatGuardConfig = {
    minOnMs: r.number('minOnMs', d.minOnMs, MS),
    minOffMs: r.number('minOffMs', d.minOffMs, MS),
    minSetpointC: r.number('minSetpointC', d.minSetpointC, CELSIUS),
    maxSetpointC: r.number('maxSetpointC', d.maxSetpointC, CELSIUS),
    setpointC: r.number('setpointC', d.setpointC, CELSIUS),
    mode: r.oneOf('mode', d.mode, THERMOSTAT_MODES),
  };
  checkOrdered(config.minSetpointC, config.maxSetpointC, r.field('minSetpointC'), r.field('maxSetpointC'));
  checkOrdered(config.minSetpointC, config.setpointC, r.field('minSetpointC'), r.field('setpointC'));
  checkOrdered(config.setpointC, config.maxSetpointC, r.field('setpointC'), r.field('maxSetpointC'));
  return config;
}

/** Checks a command against the configured ranges; an InputError names `msg.payload.<field>`. */
export function checkThermostatCommand(command: ThermostatCommand, config: ThermostatGuardConfig): void {
  if (command.on !== undefined && typeof command.on !== 'boolean')
    throw new InputError('msg.payload.on', command.on, 'true or false');
  if (command.mode !== undefined && !THERMOSTAT_MODES.includes(command.mode))
    throw new InputError('msg.payload.mode', command.mode, `one of ${THERMOSTAT_MODES.join(', ')}`);
  if (command.setpointC !== undefined) {
    const t = command.setpointC;
    if (typeof t !== 'number' || !Number.isFinite(t) || t < config.minSetpointC || t > config.maxSetpointC)
      throw new InputError(
        'msg.payload.setpointC',
        t,
        `a temperature from ${config.minSetpointC} to ${config.maxSetpointC} °C`,
      );
  }
}

export class GuardedThermostat implements ThermostatDevice {
  private settings: ThermostatSettings;
  private changedAt: number;
  private reason = 'initial';
  /** When the output last switched (or the gateway started), ms. */
  private lastSwitchAt: number;
  private pending: { on: boolean; at: number; reason: string; timer: unknown } | null = null;
  private available: boolean;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners: Listeners<ThermostatState>;
  private readonly unsubscribe: Array<() => void>;
  private closed = false;
  /** Switches actually made (for tests and the status page). */
  switches = 0;

  constructor(
    readonly driver: ThermostatDriver,
    readonly config: ThermostatGuardConfig = THERMOSTAT_GUARD_DEFAULTS,
    private readonly clock: Clock = systemClock,
    private readonly onError: (err: unknown) => void = (err) => console.error(err),
  ) {
    this.listeners = new Listeners(onError);
    this.settings = { on: false, mode: config.mode, setpointC: config.setpointC };
    this.changedAt = clock.now();
    this.lastSwitchAt = clock.now();
    this.available = driver.available();
    this.unsubscribe = [
      driver.onReport((report) => this.onReport(report)),
      driver.onAvailability((available) => {
        this.available = available;
        this.emit();
      }),
    ];
  }

  get kind(): string {
    return this.driver.kind;
  }

  private onReport(report: Partial<ThermostatSettings>): void {
    const next = { ...this.settings };
    if (typeof report.mode === 'string' && THERMOSTAT_MODES.includes(report.mode)) next.mode = report.mode;
    if (typeof report.setpointC === 'number' && Number.isFinite(report.setpointC))
      next.setpointC = report.setpointC;
    if (typeof report.on === 'boolean' && report.on !== next.on) {
      // The device switched by itself (its remote, its own thermostat): that is a real start or stop.
      next.on = report.on;
      this.lastSwitchAt = this.changedAt = this.clock.now();
      this.reason = 'changed at the device';
      if (this.pending?.on === report.on) this.clearPending();
    }
    this.settings = next;
    this.emit();
  }

  state(): ThermostatState {
    return {
      ...this.settings,
      indoorC: this.driver.indoorC?.() ?? null,
      available: this.available,
      changedAt: new Date(this.changedAt).toISOString(),
      reason: this.reason,
      pending: this.pending ? { on: this.pending.on, at: new Date(this.pending.at).toISOString() } : null,
    };
  }

  subscribe(listener: (state: ThermostatState) => void): () => void {
    return this.listeners.add(listener);
  }

  private emit(): void {
    this.listeners.emit(this.state());
  }

  private clearPending(): void {
    if (this.pending) this.clock.cancel(this.pending.timer);
    this.pending = null;
  }

  /** Earliest time the output may switch away from its current state, ms. */
  nextSwitchAllowedAt(): number {
    return this.lastSwitchAt + (this.settings.on ? this.config.minOnMs : this.config.minOffMs);
  }

  /** Runs writes one after another so a timer and a command never interleave on the device. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  set(command: ThermostatCommand, reason: string): Promise<ThermostatState> {
    checkThermostatCommand(command, this.config);
    return this.serial(async () => {
      const next = { ...this.settings };
      if (command.mode !== undefined) next.mode = command.mode;
      if (command.setpointC !== undefined) next.setpointC = command.setpointC;
      let switchNow = false;
      if (command.on !== undefined) {
        if (command.on === this.settings.on) {
          this.clearPending(); // the opposite of a waiting switch cancels it
        } else if (this.clock.now() >= this.nextSwitchAllowedAt()) {
          next.on = command.on;
          switchNow = true;
          this.clearPending();
        } else {
          this.hold(command.on, reason);
        }
      }
      const changed =
        switchNow || next.mode !== this.settings.mode || next.setpointC !== this.settings.setpointC;
      if (changed) {
        await this.driver.write(next);
        if (switchNow) {
          this.lastSwitchAt = this.changedAt = this.clock.now();
          this.switches++;
        }
        this.settings = next;
        this.reason = reason;
      }
      this.emit();
      return this.state();
    });
  }

  private hold(on: boolean, reason: string): void {
    const at = this.nextSwitchAllowedAt();
    if (this.pending?.on === on) {
      this.pending.reason = reason;
      return;
    }
    this.clearPending();
    const timer = this.clock.schedule(() => {
      if (this.pending?.timer !== timer || this.closed) return;
      this.pending = null;
      this.set({ on }, reason).catch((err: unknown) => this.onError(err));
    }, at - this.clock.now());
    this.pending = { on, at, reason, timer };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearPending();
    for (const undo of this.unsubscribe) undo();
    this.listeners.clear();
    await this.driver.close();
  }
}
