/**
 * A meter read over Modbus: polls a register map on an interval and turns it into
 * `MeterReading`s (gateway/context.ts) with per-phase values. A device that stops answering is a
 * status (`status().available === false`, with the reason), never an exception out of the poll
 * loop; the next poll tries again, so the meter is back as soon as the device answers.
 */
import type { MeterReading, MeterSource } from '../../context';
import { DeviceUnavailableError } from '../../errors';
import { systemClock, type Clock } from '../../devices/clock';
import { Listeners } from '../../devices/listeners';
import type { ModbusLink, ModbusLinkStatus } from './link';
import { SUNSPEC_END, SUNSPEC_INVERTER_MODELS, SUNSPEC_MARKER } from './maps';
import { decodeRegisters, planReads, wordsFrom, type RegisterMap, type RegisterWords } from './registers';

export interface PhaseValues {
  /** Line-to-neutral voltage, V. */
  voltageV: number | null;
  /** Current, A. */
  currentA: number | null;
  /** Active power, W (positive importing on a grid meter; null when the device does not say). */
  powerW: number | null;
}

/** A MeterReading plus what a Modbus meter also knows. */
export interface ModbusReading extends MeterReading {
  /** L1, L2, L3. */
  phases: [PhaseValues, PhaseValues, PhaseValues];
  /** Grid frequency, Hz, or null. */
  frequencyHz: number | null;
  /** Device model, e.g. `Eastron SDM630`. */
  model: string;
  /** Every decoded register, by name, in the unit its map declares. */
  registers: Record<string, number | null>;
}

/**
 * `grid`: the meter at the grid connection (import/export counters, power + importing).
 * `pv`: an inverter read as a generation meter — its lifetime production is `exportWh`, its output
 * is `pvW` and `powerW = −pvW`.
 */
export type MeterUsage = 'grid' | 'pv';

export interface ModbusMeterOptions {
  map: RegisterMap;
  usage: MeterUsage;
  /** Poll interval, ms. */
  intervalMs: number;
  /** SunSpec: the base address where 'SunS' sits (40000 on most devices); null for fixed maps. */
  sunspecBase: number | null;
  clock?: Clock;
  /** Called when the device goes away or comes back, and when a listener throws. */
  log?: (text: string) => void;
}

function orZero(value: number | null | undefined): number {
  return value ?? 0;
}

/** Builds the reading from decoded registers; pure. */
export function toReading(
  values: Record<string, number | null>,
  model: string,
  usage: MeterUsage,
  timestamp: string,
): ModbusReading {
  const phase = (n: 1 | 2 | 3): PhaseValues => ({
    voltageV: values[`l${n}VoltageV`] ?? null,
    currentA: values[`l${n}CurrentA`] ?? null,
    powerW: values[`l${n}PowerW`] ?? null,
  });
  const base = {
    timestamp,
    phases: [phase(1), phase(2), phase(3)] as [PhaseValues, PhaseValues, PhaseValues],
    frequencyHz: values.frequencyHz ?? null,
    model,
    registers: values,
  };
  if (usage === 'pv') {
    const pvW = Math.max(0, orZero(values.powerW));
    return { ...base, importWh: 0, exportWh: orZero(values.energyWh), powerW: -pvW, loadW: 0, pvW };
  }
  return {
    ...base,
    importWh: orZero(values.importWh),
    exportWh: orZero(values.exportWh),
    powerW: orZero(values.powerW),
    loadW: 0,
    pvW: 0,
  };
}

export class ModbusMeter implements MeterSource {
  private newest: ModbusReading | null = null;
  private readonly readings: Listeners<ModbusReading>;
  private readonly statuses: Listeners<ModbusLinkStatus>;
  private readonly clock: Clock;
  private readonly log: (text: string) => void;
  private modelBase: number | null = null;
  private timer: unknown = null;
  private running = false;
  private readonly unsubscribe: () => void;

  constructor(
    readonly link: ModbusLink,
    readonly options: ModbusMeterOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? ((text) => console.warn(text));
    this.readings = new Listeners((err) => this.log(`modbus meter listener: ${(err as Error).message}`));
    this.statuses = new Listeners((err) => this.log(`modbus status listener: ${(err as Error).message}`));
    this.unsubscribe = link.onAvailability((available) => {
      const status = this.status();
      this.log(
        available
          ? `${this.kind}: answering again`
          : `${this.kind}: not answering; readings pause until it does (${status.lastError ?? ''})`,
      );
      this.statuses.emit(status);
    });
  }

  get kind(): string {
    return `modbus ${this.options.map.model}`;
  }

  latest(): ModbusReading | null {
    return this.newest;
  }

  subscribe(listener: (reading: MeterReading) => void): () => void {
    return this.readings.add(listener);
  }

  /** Whether the device answers, and why not. */
  status(): ModbusLinkStatus {
    return this.link.status();
  }

  onStatus(listener: (status: ModbusLinkStatus) => void): () => void {
    return this.statuses.add(listener);
  }

  /** Finds the inverter model in the SunSpec chain (once). */
  private async sunspecModelBase(base: number): Promise<number> {
    if (this.modelBase !== null) return this.modelBase;
    const marker = await this.link.readRegisters(3, base, 2);
    if (marker[0] !== SUNSPEC_MARKER[0] || marker[1] !== SUNSPEC_MARKER[1])
      throw new DeviceUnavailableError(
        this.link.name,
        `no SunSpec marker 'SunS' at register ${base} (read ${JSON.stringify(marker)}); check options.sunspecBase`,
      );
    let at = base + 2;
    for (let hops = 0; hops < 64; hops++) {
      const [id, length] = await this.link.readRegisters(3, at, 2);
      if (id === SUNSPEC_END || id === undefined || length === undefined) break;
      if ((SUNSPEC_INVERTER_MODELS as readonly number[]).includes(id)) {
        this.modelBase = at;
        return at;
      }
      at += 2 + length;
    }
    throw new DeviceUnavailableError(
      this.link.name,
      `has no SunSpec inverter model (${SUNSPEC_INVERTER_MODELS.join(', ')}) in its model chain`,
    );
  }

  /** Reads the device once and publishes the reading; rejects with DeviceUnavailableError. */
  async readOnce(): Promise<ModbusReading> {
    const { map, sunspecBase, usage } = this.options;
    const base = sunspecBase === null ? 0 : await this.sunspecModelBase(sunspecBase);
    const words: RegisterWords = new Map();
    for (const plan of planReads(map, base)) {
      wordsFrom(plan, await this.link.readRegisters(plan.fc, plan.address, plan.count), words);
    }
    const reading = toReading(
      decodeRegisters(map, words, base),
      map.model,
      usage,
      new Date(this.clock.now()).toISOString(),
    );
    this.newest = reading;
    this.readings.emit(reading);
    return reading;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = (): void => {
      if (!this.running) return;
      // Failures are already a status (link.onAvailability); the loop only goes on.
      this.readOnce()
        .catch(() => undefined)
        .finally(() => {
          if (this.running) this.timer = this.clock.schedule(loop, this.options.intervalMs);
        });
    };
    loop();
  }

  /** Stops polling; the connection stays open for `start()` again. */
  pause(): void {
    this.running = false;
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.timer = null;
  }

  stop(): void | Promise<void> {
    this.pause();
  }

  /** Stops polling and closes the connection for good. */
  async close(): Promise<void> {
    this.pause();
    this.unsubscribe();
    await this.link.close();
  }
}
