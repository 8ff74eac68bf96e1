/**
 * Devices switched or set over Modbus (TCP or RTU), on the same link as the Modbus meters:
 *
 * - `ModbusSwitch`: one coil (FC5 write, FC1 read back); for contactors on a Modbus relay module.
 * - `ModbusBattery`: a battery inverter with a signed setpoint register (W × scale, FC16) and a
 *   state-of-charge register (% × scale), read every `pollMs`.
 *
 * Both poll, so a change made at the device and a device that stops answering show up within one
 * poll; a failing poll is an availability change, never an exception.
 */
import { DeviceUnavailableError } from '../errors';
import { readModbusLinkConfig, type ModbusLink, type ModbusLinkConfig } from '../meters/modbus/link';
import type { BatteryDriver, SwitchDriver } from './api';
import { systemClock, type Clock } from './clock';
import { type ConfigReader } from './config';
import { Listeners } from './listeners';

const ADDRESS = { min: 0, max: 65535, integer: true, allowed: 'a register address from 0 to 65535' };
const POLL = { min: 100, max: 3_600_000, integer: true, allowed: 'an integer from 100 to 3600000 ms' };

/** Polls `read` every `pollMs` until stopped; a failure is left to the link's availability. */
class Poller {
  private timer: unknown = null;
  private running = false;

  constructor(
    private readonly clock: Clock,
    private readonly pollMs: number,
    private readonly read: () => Promise<void>,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = (): void => {
      if (!this.running) return;
      this.read()
        .catch(() => undefined)
        .finally(() => {
          if (this.running) this.timer = this.clock.schedule(loop, this.pollMs);
        });
    };
    loop();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) this.clock.cancel(this.timer);
  }
}

// ---------------------------------------------------------------------------------------------

export interface ModbusSwitchConfig {
  link: ModbusLinkConfig;
  /** Coil address (0-based). */
  coil: number;
  pollMs: number;
}

export function readModbusSwitchConfig(r: ConfigReader): ModbusSwitchConfig {
  return {
    link: readModbusLinkConfig(r, { unitId: 1, baudRate: 9600 }),
    coil: r.number('coil', 0, { ...ADDRESS, allowed: 'a coil address from 0 to 65535' }),
    pollMs: r.number('pollMs', 5000, POLL),
  };
}

export class ModbusSwitch implements SwitchDriver {
  readonly kind = 'modbus';
  private state: boolean | null = null;
  private readonly reports: Listeners<boolean>;
  private readonly poller: Poller;

  constructor(
    readonly link: ModbusLink,
    readonly config: Pick<ModbusSwitchConfig, 'coil' | 'pollMs'>,
    clock: Clock = systemClock,
    onListenerError?: (err: unknown) => void,
  ) {
    this.reports = new Listeners(onListenerError);
    this.poller = new Poller(clock, config.pollMs, async () => this.report(await link.readCoil(config.coil)));
    this.poller.start();
  }

  private report(on: boolean): void {
    const changed = on !== this.state;
    this.state = on;
    if (changed) this.reports.emit(on);
  }

  reported(): boolean | null {
    return this.state;
  }

  available(): boolean {
    return this.link.available();
  }

  onAvailability(listener: (available: boolean) => void): () => void {
    return this.link.onAvailability(listener);
  }

  onReport(listener: (on: boolean) => void): () => void {
    return this.reports.add(listener);
  }

  async switchTo(on: boolean): Promise<void> {
    await this.link.writeCoil(this.config.coil, on);
    const confirmed = await this.link.readCoil(this.config.coil);
    this.report(confirmed);
    if (confirmed !== on)
      throw new DeviceUnavailableError(
        this.link.name,
        `coil ${this.config.coil} reads ${confirmed ? 'on' : 'off'} after writing ${on ? 'on' : 'off'}`,
      );
  }

  async close(): Promise<void> {
    this.poller.stop();
    await this.link.close();
  }
}

// ---------------------------------------------------------------------------------------------

export interface ModbusBatteryConfig {
  link: ModbusLinkConfig;
  /** Holding register of the signed setpoint (int16): + charge, − discharge. */
  setpointRegister: number;
  /** W per register unit of the setpoint (10 = the register counts tens of W). */
  setpointScale: number;
  /** Register of the state of charge (uint16). */
  socRegister: number;
  socFc: 3 | 4;
  /** % per register unit of the SoC (0.1 = tenths of a %). */
  socScale: number;
  /** Register of the measured power (int16, + charging), or null when the device has none. */
  powerRegister: number | null;
  pollMs: number;
}

export function readModbusBatteryConfig(r: ConfigReader): ModbusBatteryConfig {
  const link = readModbusLinkConfig(r, { unitId: 1, baudRate: 9600 });
  const setpointRegister = r.requiredNumber('setpointRegister', ADDRESS);
  const socRegister = r.requiredNumber('socRegister', ADDRESS);
  const config: ModbusBatteryConfig = {
    link,
    setpointRegister,
    setpointScale: r.number('setpointScale', 1, {
      min: 0.001,
      max: 1000,
      allowed: 'a number from 0.001 to 1000',
    }),
    socRegister,
    socFc: r.oneOf('socFc', 3, [3, 4] as const),
    socScale: r.number('socScale', 1, { min: 0.001, max: 1000, allowed: 'a number from 0.001 to 1000' }),
    powerRegister: r.optionalNumber('powerRegister', ADDRESS),
    pollMs: r.number('pollMs', 5000, POLL),
  };
  return config;
}

export class ModbusBattery implements BatteryDriver {
  readonly kind = 'modbus';
  private readonly reports: Listeners<{ socPct?: number; powerW?: number }>;
  private readonly poller: Poller;

  constructor(
    readonly link: ModbusLink,
    readonly config: Omit<ModbusBatteryConfig, 'link'>,
    clock: Clock = systemClock,
    onListenerError?: (err: unknown) => void,
  ) {
    this.reports = new Listeners(onListenerError);
    this.poller = new Poller(clock, config.pollMs, () => this.poll());
    this.poller.start();
  }

  private async poll(): Promise<void> {
    const [soc] = await this.link.readRegisters(this.config.socFc, this.config.socRegister, 1);
    let powerW: number | undefined;
    if (this.config.powerRegister !== null) {
      const [raw] = await this.link.readRegisters(3, this.config.powerRegister, 1);
      powerW = (((raw ?? 0) << 16) >> 16) * this.config.setpointScale;
    }
    this.reports.emit({ socPct: (soc ?? 0) * this.config.socScale, powerW });
  }

  available(): boolean {
    return this.link.available();
  }

  onAvailability(listener: (available: boolean) => void): () => void {
    return this.link.onAvailability(listener);
  }

  onReport(listener: (report: { socPct?: number; powerW?: number }) => void): () => void {
    return this.reports.add(listener);
  }

  async writeSetpoint(powerW: number): Promise<void> {
    const units = Math.round(powerW / this.config.setpointScale);
    if (units < -0x8000 || units > 0x7fff)
      throw new DeviceUnavailableError(
        this.link.name,
        `setpoint ${powerW} W does not fit the int16 register at scale ${this.config.setpointScale} W`,
      );
    await this.link.writeRegisters(this.config.setpointRegister, [units & 0xffff]);
  }

  async close(): Promise<void> {
    this.poller.stop();
    await this.link.close();
  }
}
