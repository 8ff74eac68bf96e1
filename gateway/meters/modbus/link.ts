/**
 * One Modbus device on TCP or RTU (serial), through `modbus-serial`: every request has a timeout
 * and is retried; a device that does not answer becomes `available: false` and the request fails
 * with a DeviceUnavailableError naming the device, the registers and the cause — never a crash —
 * and the next request reconnects, so the device is back as soon as it answers again.
 */
import ModbusRTU from 'modbus-serial';
import { ConfigError, DeviceUnavailableError } from '../../errors';
import { systemClock, type Clock } from '../../devices/clock';
import { type ConfigReader } from '../../devices/config';
import { AvailabilityState } from '../../devices/listeners';

export type ModbusTransport =
  | { kind: 'tcp'; host: string; port: number }
  | {
      kind: 'rtu';
      path: string;
      baudRate: number;
      parity: 'none' | 'even' | 'odd';
      dataBits: 7 | 8;
      stopBits: 1 | 2;
    };

export interface ModbusLinkConfig {
  transport: ModbusTransport;
  /** Modbus unit (slave) id, 0 to 247 (TCP gateways often ignore it; 1 is common). */
  unitId: number;
  /** Time one request may take, ms. */
  timeoutMs: number;
  /** Extra attempts after a failed request. */
  retries: number;
  /** Pause before each retry, ms. */
  retryDelayMs: number;
}

/** Reads `host`/`port` (TCP) or `path`/`baudRate`/… (RTU) and the request options. */
export function readModbusLinkConfig(
  r: ConfigReader,
  defaults: { unitId: number; baudRate: number },
): ModbusLinkConfig {
  const host = r.string('host', null);
  const serialPath = r.string('path', null);
  const port = r.number('port', 502, {
    min: 1,
    max: 65535,
    integer: true,
    allowed: 'a TCP port from 1 to 65535',
  });
  const baudRate = r.oneOf(
    'baudRate',
    defaults.baudRate,
    [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200],
  );
  const parity = r.oneOf('parity', 'none', ['none', 'even', 'odd'] as const);
  const dataBits = r.oneOf('dataBits', 8, [7, 8] as const);
  const stopBits = r.oneOf('stopBits', 1, [1, 2] as const);
  if ((host === null) === (serialPath === null))
    throw new ConfigError(
      r.field('host'),
      host ?? undefined,
      `either host (Modbus TCP) or path (Modbus RTU serial port, e.g. /dev/ttyUSB0), not ${host === null ? 'neither' : 'both'}`,
    );
  const transport: ModbusTransport =
    host !== null
      ? { kind: 'tcp', host, port }
      : { kind: 'rtu', path: serialPath as string, baudRate, parity, dataBits, stopBits };
  return {
    transport,
    unitId: r.number('unitId', defaults.unitId, {
      min: 0,
      max: 247,
      integer: true,
      allowed: 'a unit id from 0 to 247',
    }),
    timeoutMs: r.number('timeoutMs', 1000, {
      min: 50,
      max: 60000,
      integer: true,
      allowed: 'an integer from 50 to 60000 ms',
    }),
    retries: r.number('retries', 2, { min: 0, max: 10, integer: true, allowed: 'an integer from 0 to 10' }),
    retryDelayMs: r.number('retryDelayMs', 200, {
      min: 0,
      max: 60000,
      integer: true,
      allowed: 'an integer from 0 to 60000 ms',
    }),
  };
}

export function describeTransport(t: ModbusTransport): string {
  return t.kind === 'tcp' ? `modbus tcp ${t.host}:${t.port}` : `modbus rtu ${t.path}`;
}

interface ModbusError extends Error {
  modbusCode?: number;
  errno?: string;
}

/** modbus-serial rejects with plain objects for some failures (PortNotOpenError); keep their message and codes. */
function asError(err: unknown): ModbusError {
  if (err instanceof Error) return err;
  const record = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  const error = new Error(typeof record.message === 'string' ? record.message : String(err)) as ModbusError;
  if (typeof record.modbusCode === 'number') error.modbusCode = record.modbusCode;
  if (typeof record.errno === 'string') error.errno = record.errno;
  return error;
}

export interface ModbusLinkStatus {
  available: boolean;
  /** The last failure's message, or null after a success. */
  lastError: string | null;
  /** Failed requests in a row (after their retries). */
  consecutiveFailures: number;
}

export class ModbusLink {
  private client: ModbusRTU | null = null;
  private connecting: Promise<ModbusRTU> | null = null;
  private readonly availability = new AvailabilityState();
  private lastError: string | null = null;
  private failures = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly config: ModbusLinkConfig,
    private readonly clock: Clock = systemClock,
    private readonly createClient: () => ModbusRTU = () => new ModbusRTU(),
  ) {}

  get name(): string {
    return `${describeTransport(this.config.transport)} unit ${this.config.unitId}`;
  }

  status(): ModbusLinkStatus {
    return {
      available: this.availability.get(),
      lastError: this.lastError,
      consecutiveFailures: this.failures,
    };
  }

  available(): boolean {
    return this.availability.get();
  }

  onAvailability(listener: (available: boolean) => void): () => void {
    return this.availability.subscribe(listener);
  }

  private async connect(): Promise<ModbusRTU> {
    if (this.client?.isOpen) return this.client;
    this.connecting ??= (async () => {
      this.drop();
      const client = this.createClient();
      // modbus-serial re-emits socket errors; without a listener an EventEmitter error would throw.
      client.on('error', () => undefined);
      // A device that closes the connection (restart, power cut) gets a fresh one on the next request.
      client.on('close', () => {
        if (this.client === client) this.client = null;
      });
      const t = this.config.transport;
      const opening =
        t.kind === 'tcp'
          ? client.connectTCP(t.host, { port: t.port, timeout: this.config.timeoutMs })
          : client.connectRTUBuffered(t.path, {
              baudRate: t.baudRate,
              parity: t.parity,
              dataBits: t.dataBits,
              stopBits: t.stopBits,
            });
      try {
        await this.withTimeout(opening, 'connect');
      } catch (err) {
        this.release(client);
        // A connect that completes after its timeout must not leave a socket or port open.
        opening.then(
          () => this.release(client),
          () => undefined,
        );
        throw err;
      }
      client.setID(this.config.unitId);
      client.setTimeout(this.config.timeoutMs);
      this.client = client;
      return client;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.schedule(
        () => reject(new Error(`${what} timed out after ${this.config.timeoutMs} ms`)),
        this.config.timeoutMs,
      );
      promise.then(
        (value) => {
          this.clock.cancel(timer);
          resolve(value);
        },
        (err: unknown) => {
          this.clock.cancel(timer);
          reject(asError(err));
        },
      );
    });
  }

  /** Closes the connection so the next request opens a fresh one (no stale answers). */
  private drop(): void {
    const client = this.client;
    this.client = null;
    if (client) this.release(client);
  }

  /**
   * modbus-serial's `destroy` ends a TCP socket but does nothing to a serial port (its RTU port has
   * no destroy), which would keep the port open and the process alive: serial links are closed.
   */
  private release(client: ModbusRTU): void {
    try {
      if (this.config.transport.kind === 'rtu') client.close(() => undefined);
      else client.destroy(() => undefined);
    } catch {
      // already closed
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.schedule(resolve, ms));
  }

  /**
   * Runs one request with the configured retries, one request at a time on the bus. `what`
   * describes it for the error, e.g. `reading 76 input registers at 0`.
   */
  request<T>(what: string, run: (client: ModbusRTU) => Promise<T>): Promise<T> {
    const work = async (): Promise<T> => {
      let last: ModbusError | undefined;
      for (let attempt = 0; attempt <= this.config.retries; attempt++) {
        if (this.closed) break;
        if (attempt > 0 && this.config.retryDelayMs > 0) await this.sleep(this.config.retryDelayMs);
        try {
          const client = await this.connect();
          const result = await this.withTimeout(run(client), what);
          this.failures = 0;
          this.lastError = null;
          this.availability.set(true);
          return result;
        } catch (err) {
          last = asError(err);
          // An exception response is the device answering "no": retrying will not change it.
          if (last.modbusCode !== undefined) {
            this.availability.set(true);
            throw new DeviceUnavailableError(this.name, `refused ${what}: ${last.message}`, { cause: err });
          }
          this.drop();
        }
      }
      this.failures++;
      const attempts = this.config.retries + 1;
      this.lastError = `did not answer ${what} (${attempts} attempt${attempts > 1 ? 's' : ''}, ${this.config.timeoutMs} ms each): ${last?.message ?? 'link closed'}`;
      this.availability.set(false);
      throw new DeviceUnavailableError(this.name, this.lastError, { cause: last });
    };
    const queued = this.queue.then(work, work);
    this.queue = queued.catch(() => undefined);
    return queued;
  }

  async readRegisters(fc: 3 | 4, address: number, length: number): Promise<number[]> {
    const kind = fc === 3 ? 'holding' : 'input';
    return this.request(`reading ${length} ${kind} registers at ${address}`, async (client) => {
      const result =
        fc === 3
          ? await client.readHoldingRegisters(address, length)
          : await client.readInputRegisters(address, length);
      return result.data;
    });
  }

  async writeRegisters(address: number, values: number[]): Promise<void> {
    await this.request(`writing ${values.length} registers at ${address}`, (client) =>
      client.writeRegisters(address, values),
    );
  }

  async readCoil(address: number): Promise<boolean> {
    return this.request(
      `reading coil ${address}`,
      async (client) => (await client.readCoils(address, 1)).data[0] === true,
    );
  }

  async writeCoil(address: number, on: boolean): Promise<void> {
    await this.request(`writing coil ${address}`, (client) => client.writeCoil(address, on));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    this.drop();
  }
}
