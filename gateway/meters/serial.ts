/**
 * A serial port that stays open: `serialport` 13 underneath, reopened after it is lost (a USB P1
 * cable pulled, a pty whose other end went away) with a fixed back-off, reporting each state as
 * a clear, recoverable status instead of throwing. Used by the DSMR meter; anything that reads a
 * byte stream from a port can use it.
 */
import { existsSync } from 'node:fs';
import { ConfigError, DeviceUnavailableError } from '../errors';

export type Parity = 'none' | 'even' | 'odd' | 'mark' | 'space';

export interface SerialOptions {
  /** Device path, e.g. `/dev/ttyUSB0`. */
  path: string;
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: Parity;
  stopBits: 1 | 1.5 | 2;
}

export type LinkState = 'connecting' | 'open' | 'lost' | 'closed';

export interface LinkStatus {
  state: LinkState;
  /** Why the port is not open (lost / connecting after a failure); undefined when open. */
  error?: DeviceUnavailableError;
}

/** The part of a `serialport` SerialPort the link uses (a test may hand in another). */
export interface PortLike {
  open(callback: (err: Error | null) => void): void;
  close(callback?: (err: Error | null) => void): void;
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'close', listener: (err?: Error | null) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  removeAllListeners(): this;
  readonly isOpen: boolean;
}

export interface SerialLinkDeps {
  /** Builds a closed port; default: serialport's SerialPort with autoOpen false. */
  createPort?: (options: SerialOptions) => PortLike;
  /** Wait before reopening a lost port, ms. */
  retryMs?: number;
  /**
   * How often an open port's device path is checked, ms: a read blocked on a hung-up pty or a
   * pulled USB adapter does not always end in an error, but the path goes away (udev, socat).
   */
  watchMs?: number;
  /** Whether a device path exists; default fs.existsSync. */
  exists?: (path: string) => boolean;
}

function defaultCreatePort(options: SerialOptions): PortLike {
  // Loaded on first use: the native binding is only needed when a serial meter is configured.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SerialPort } = require('serialport') as typeof import('serialport');
  return new SerialPort({ ...options, autoOpen: false }) as unknown as PortLike;
}

export class SerialLink {
  private port: PortLike | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private watch: ReturnType<typeof setInterval> | undefined;
  private readonly exists: (path: string) => boolean;
  readonly watchMs: number;
  private stopped = true;
  private current: LinkStatus = { state: 'closed' };
  private readonly createPort: (options: SerialOptions) => PortLike;
  readonly retryMs: number;

  constructor(
    readonly options: SerialOptions,
    private readonly onData: (chunk: Buffer) => void,
    private readonly onStatus: (status: LinkStatus) => void = () => {},
    deps: SerialLinkDeps = {},
  ) {
    this.createPort = deps.createPort ?? defaultCreatePort;
    this.retryMs = deps.retryMs ?? 2000;
    this.watchMs = deps.watchMs ?? 1000;
    this.exists = deps.exists ?? existsSync;
  }

  status(): LinkStatus {
    return this.current;
  }

  /** Opens the port now and keeps it open until `stop()`. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.unwatch();
    const port = this.port;
    this.port = null;
    if (port) {
      port.removeAllListeners();
      port.on('error', () => {});
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    }
    this.set({ state: 'closed' });
  }

  private set(status: LinkStatus): void {
    this.current = status;
    this.onStatus(status);
  }

  private describe(): string {
    const o = this.options;
    const parity = o.parity === 'none' ? 'N' : o.parity[0]!.toUpperCase();
    return `serial port ${o.path} (${o.baudRate} ${o.dataBits}${parity}${o.stopBits})`;
  }

  private open(): void {
    if (this.stopped) return;
    this.set({ state: 'connecting', error: this.current.error });
    let port: PortLike;
    try {
      port = this.createPort(this.options);
    } catch (err) {
      // serialport validates its options synchronously; settings parsing catches these first.
      this.lost(err as Error);
      return;
    }
    this.port = port;
    port.on('data', (chunk) => this.onData(chunk));
    port.on('error', (err) => this.lost(err));
    port.on('close', (err) =>
      this.lost(new Error(err ? `the port closed (${err.message})` : 'the port closed')),
    );
    port.open((err) => {
      if (this.port !== port) return;
      if (err) this.lost(err);
      else {
        this.set({ state: 'open' });
        this.watchPath(port);
      }
    });
  }

  /** While `port` is open, a device path that existed and then vanished means the port is lost. */
  private watchPath(port: PortLike): void {
    this.unwatch();
    const { path } = this.options;
    if (!this.exists(path)) return; // not a file-system device (or a test double)
    this.watch = setInterval(() => {
      if (this.port !== port) return this.unwatch();
      if (!this.exists(path)) this.lost(new Error(`${path} went away`));
    }, this.watchMs);
    this.watch.unref?.();
  }

  private unwatch(): void {
    if (this.watch) clearInterval(this.watch);
    this.watch = undefined;
  }

  /** The port failed or went away: drop it and try again after `retryMs`. */
  private lost(err: Error): void {
    if (this.stopped || this.timer) return;
    this.unwatch();
    const port = this.port;
    this.port = null;
    if (port) {
      port.removeAllListeners();
      port.on('error', () => {});
      if (port.isOpen) port.close(() => {});
    }
    const error = new DeviceUnavailableError(
      this.describe(),
      `${err.message}; retrying every ${this.retryMs} ms`,
      { cause: err },
    );
    this.set({ state: 'lost', error });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.open();
    }, this.retryMs);
  }
}

/** DSMR 4.x / 5.x: 115200 8N1. DSMR 2.2 / 3.0: 9600 7E1. */
export const SERIAL_PROFILES = {
  dsmr4: { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 },
  dsmr2: { baudRate: 9600, dataBits: 7, parity: 'even', stopBits: 1 },
} as const satisfies Record<string, Omit<SerialOptions, 'path'>>;

export type SerialProfile = keyof typeof SERIAL_PROFILES;

export const BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400] as const;

/** `5`, `"5"` → 5; blank → undefined; anything else is returned as it is for the caller to refuse. */
function coerce(value: unknown): unknown {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === ''))
    return undefined;
  if (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return value;
}

/**
 * Serial settings from untyped config (settings `meter.dsmr`, a node's fields): a profile gives
 * the defaults, each of baudRate / dataBits / parity / stopBits may override it.
 */
export function parseSerialOptions(raw: Record<string, unknown>, prefix = ''): SerialOptions {
  const path = raw.port;
  if (typeof path !== 'string' || path.trim() === '')
    throw new ConfigError(`${prefix}port`, path ?? null, 'the serial device path, e.g. "/dev/ttyUSB0"');
  const profileName = coerce(raw.profile) ?? 'dsmr4';
  if (typeof profileName !== 'string' || !(profileName in SERIAL_PROFILES))
    throw new ConfigError(
      `${prefix}profile`,
      raw.profile,
      '"dsmr4" (DSMR 4.x/5.x: 115200 8N1) or "dsmr2" (DSMR 2.2/3.0: 9600 7E1)',
    );
  const profile = SERIAL_PROFILES[profileName as SerialProfile];
  const baudRate = coerce(raw.baudRate) ?? profile.baudRate;
  if (!(BAUD_RATES as readonly unknown[]).includes(baudRate))
    throw new ConfigError(`${prefix}baudRate`, raw.baudRate, `one of ${BAUD_RATES.join(', ')}`);
  const dataBits = coerce(raw.dataBits) ?? profile.dataBits;
  if (dataBits !== 5 && dataBits !== 6 && dataBits !== 7 && dataBits !== 8)
    throw new ConfigError(`${prefix}dataBits`, raw.dataBits, '5, 6, 7 or 8');
  const parity = coerce(raw.parity) ?? profile.parity;
  if (parity !== 'none' && parity !== 'even' && parity !== 'odd' && parity !== 'mark' && parity !== 'space')
    throw new ConfigError(`${prefix}parity`, raw.parity, '"none", "even", "odd", "mark" or "space"');
  const stopBits = coerce(raw.stopBits) ?? profile.stopBits;
  if (stopBits !== 1 && stopBits !== 1.5 && stopBits !== 2)
    throw new ConfigError(`${prefix}stopBits`, raw.stopBits, '1, 1.5 or 2');
  return { path: path.trim(), baudRate: baudRate as number, dataBits, parity, stopBits };
}
