/**
 * A DSMR P1 meter on a serial port: the port's bytes go through the re-synchronising splitter and
 * the decoder; every accepted telegram becomes a reading, every refused one a problem report, and
 * a lost port a status that clears itself when the port is back.
 */
import type { MeterReading } from '../../context';
import { Listeners } from '../../devices/listeners';
import { ConfigError, type HepekError } from '../../errors';
import type { ManagedMeter, MeterContext } from '../registry';
import {
  parseSerialOptions,
  SerialLink,
  type LinkStatus,
  type PortLike,
  type SerialOptions,
} from '../serial';
import { telegramToReading } from './reading';
import { TelegramStream } from './splitter';
import type { DsmrTelegram } from './types';

export interface DsmrMeterOptions {
  serial: SerialOptions;
  /** Wait before reopening a lost port, ms. */
  retryMs: number;
}

export interface DsmrMeterDeps extends MeterContext {
  createPort?: (options: SerialOptions) => PortLike;
}

export interface DsmrMeterStats {
  telegrams: number;
  refused: number;
  skippedBytes: number;
}

/** Decodes untyped `meter.dsmr` settings or node fields; every refusal names its field. */
export function parseDsmrMeterOptions(raw: unknown, prefix = ''): DsmrMeterOptions {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError(prefix.replace(/\.$/, '') || 'dsmr', raw, 'an object with at least a port');
  const record = raw as Record<string, unknown>;
  const serial = parseSerialOptions(record, prefix);
  let retryMs = record.retryMs;
  if (typeof retryMs === 'string' && retryMs.trim() !== '') retryMs = Number(retryMs);
  if (retryMs === undefined || retryMs === null || retryMs === '') retryMs = 2000;
  if (typeof retryMs !== 'number' || !Number.isInteger(retryMs) || retryMs < 10 || retryMs > 600_000)
    throw new ConfigError(`${prefix}retryMs`, record.retryMs, 'an integer number of ms from 10 to 600000');
  return { serial, retryMs };
}

export class DsmrSerialMeter implements ManagedMeter {
  readonly kind = 'dsmr';
  private readonly stream = new TelegramStream();
  private readonly link: SerialLink;
  private readonly now: () => number;
  private readonly readings: Listeners<MeterReading>;
  private readonly telegrams: Listeners<DsmrTelegram>;
  private readonly problems: Listeners<HepekError>;
  private readonly statuses: Listeners<LinkStatus>;
  private last: MeterReading | null = null;
  readonly stats: DsmrMeterStats = { telegrams: 0, refused: 0, skippedBytes: 0 };

  static fromConfig(raw: unknown, ctx: DsmrMeterDeps = {}): DsmrSerialMeter {
    return new DsmrSerialMeter(parseDsmrMeterOptions(raw, ctx.fieldPrefix ?? ''), ctx);
  }

  constructor(
    readonly options: DsmrMeterOptions,
    deps: DsmrMeterDeps = {},
  ) {
    this.now = deps.now ?? Date.now;
    const onError =
      deps.onListenerError ?? ((err: unknown) => console.error('dsmr meter: a listener threw', err));
    this.readings = new Listeners(onError);
    this.telegrams = new Listeners(onError);
    this.problems = new Listeners(onError);
    this.statuses = new Listeners(onError);
    this.link = new SerialLink(
      options.serial,
      (chunk) => this.receive(chunk),
      (status) => {
        // Bytes from before a reconnect cannot complete a telegram after it.
        if (status.state !== 'open') this.stream.reset();
        this.statuses.emit(status);
      },
      { retryMs: options.retryMs, createPort: deps.createPort },
    );
  }

  latest(): MeterReading | null {
    return this.last;
  }

  subscribe(listener: (reading: MeterReading) => void): () => void {
    return this.readings.add(listener);
  }

  /** Every accepted telegram with all its values (M-Bus, phases, ...). */
  subscribeTelegrams(listener: (telegram: DsmrTelegram) => void): () => void {
    return this.telegrams.add(listener);
  }

  /** Every refused telegram (TelegramError: bad CRC, truncated, ...). */
  subscribeProblems(listener: (err: HepekError) => void): () => void {
    return this.problems.add(listener);
  }

  /** Port states: connecting, open, lost (with a DeviceUnavailableError), closed. */
  subscribeStatus(listener: (status: LinkStatus) => void): () => void {
    return this.statuses.add(listener);
  }

  linkStatus(): LinkStatus {
    return this.link.status();
  }

  start(): void {
    this.link.start();
  }

  async stop(): Promise<void> {
    await this.link.stop();
  }

  /** Bytes as they come from the port (public so a test or a raw feed can inject them). */
  receive(chunk: Uint8Array): void {
    for (const result of this.stream.push(chunk)) {
      if (!result.ok) {
        this.stats.refused++;
        this.problems.emit(result.error);
        continue;
      }
      this.stats.telegrams++;
      this.telegrams.emit(result.telegram);
      const reading = telegramToReading(result.telegram, this.now());
      if (reading) {
        this.last = reading;
        this.readings.emit(reading);
      }
    }
    this.stats.skippedBytes = this.stream.splitter.stats.skippedBytes;
  }
}
