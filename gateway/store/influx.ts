/**
 * The InfluxDB 1.x writer: delivers every journaled reading as a line-protocol point, in batches,
 * with retry and exponential back-off, and loses nothing across an InfluxDB restart or outage.
 *
 * **Queue = the journal.** The writer keeps no queue of its own: it reads from the durable journal
 * at its cursor (`journal.cursor('influx')`) and moves the cursor only after InfluxDB answered
 * 204 to the batch. An InfluxDB restart, a network cut, or a gateway crash only delays points:
 * they stay in the journal until written. The queue is bounded by the journal's `maxBytes`.
 * A crash between the write and the cursor update re-sends a batch, which InfluxDB stores once
 * (same measurement, tags and time).
 *
 * Schema (measurement, tags, fields, types) comes from `measurements.ts`.
 */
import { FieldType, InfluxDB, type IPoint } from 'influx';
import type { InfluxSettings } from '../../settings';
import { ConfigError } from '../errors';
import type { Journal } from './journal';
import { MEASUREMENTS, entryToPoint, type JournalEntry } from './measurements';

export const INFLUX_CURSOR = 'influx';

export interface InfluxWriterOptions {
  url: string;
  database: string;
  username: string | null;
  password: string | null;
  /** Points per write request at most. */
  batchSize: number;
  /** Longest wait before a partial batch is written, ms. */
  flushIntervalMs: number;
  /** First back-off after a failure, ms; doubles per failure up to `maxRetryDelayMs`. */
  minRetryDelayMs: number;
  maxRetryDelayMs: number;
  /** Timeout of one write request, ms. */
  timeoutMs: number;
}

export const INFLUX_DEFAULTS = Object.freeze({
  username: null,
  password: null,
  batchSize: 500,
  flushIntervalMs: 1000,
  minRetryDelayMs: 100,
  maxRetryDelayMs: 30_000,
  timeoutMs: 10_000,
});

export interface InfluxWriterStats {
  /** Points InfluxDB accepted since start. */
  written: number;
  /** Write requests that succeeded / failed since start. */
  batches: number;
  failures: number;
  /** The last journal seq delivered. */
  cursor: number;
  /** Journal records not yet delivered. */
  backlog: number;
  /** Entries that cannot be points (unknown kind, bad timestamp), skipped. */
  skipped: number;
  lastError: string | null;
}

export interface InfluxWriterDeps {
  journal: Journal<JournalEntry>;
  /** The device serial, the `serial` tag. */
  serial: string;
  log?: { info: (m: string) => void; warn: (m: string) => void };
}

const FIELD_TYPES: Record<string, FieldType> = {
  float: FieldType.FLOAT,
  integer: FieldType.INTEGER,
  string: FieldType.STRING,
};

/** Settings (schema-validated; optional keys defaulted) → writer options; a bad URL names the field. */
export function parseInfluxSettings(raw: InfluxSettings, fieldPrefix = 'influx.'): InfluxWriterOptions {
  let url: URL;
  try {
    url = new URL(raw.url);
  } catch (err) {
    throw new ConfigError(`${fieldPrefix}url`, raw.url, 'an http:// or https:// URL', { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(`${fieldPrefix}url`, raw.url, 'an http:// or https:// URL');
  if (typeof raw.database !== 'string' || raw.database === '')
    throw new ConfigError(`${fieldPrefix}database`, raw.database, 'a database name');
  const out: InfluxWriterOptions = { ...INFLUX_DEFAULTS, url: raw.url, database: raw.database };
  for (const key of ['username', 'password'] as const)
    if (raw[key] !== undefined) out[key] = raw[key] ?? null;
  for (const key of ['batchSize', 'flushIntervalMs', 'maxRetryDelayMs', 'timeoutMs'] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1)
      throw new ConfigError(`${fieldPrefix}${key}`, value, 'a positive integer');
    out[key] = value;
  }
  out.minRetryDelayMs = Math.min(out.minRetryDelayMs, out.maxRetryDelayMs);
  return out;
}

export class InfluxWriter {
  readonly options: Readonly<InfluxWriterOptions>;
  private readonly client: InfluxDB;
  private readonly journal: Journal<JournalEntry>;
  private readonly serial: string;
  private readonly log: { info: (m: string) => void; warn: (m: string) => void };
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | null = null;
  private stopped = false;
  private databaseReady = false;
  private retryDelayMs = 0;
  private readonly counters = { written: 0, batches: 0, failures: 0, skipped: 0 };
  private lastError: string | null = null;
  private drainedWaiters: Array<() => void> = [];

  constructor(options: InfluxWriterOptions, deps: InfluxWriterDeps) {
    this.options = Object.freeze({ ...options });
    this.journal = deps.journal;
    this.serial = deps.serial;
    this.log = deps.log ?? { info: () => {}, warn: (m) => console.warn(m) };
    const url = new URL(options.url);
    this.client = new InfluxDB({
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      protocol: url.protocol === 'https:' ? 'https' : 'http',
      database: options.database,
      ...(options.username !== null ? { username: options.username } : {}),
      ...(options.password !== null ? { password: options.password } : {}),
      // Retries and back-off are ours (they must survive long outages); the pool tries once.
      pool: { maxRetries: 0, requestTimeout: options.timeoutMs },
      schema: MEASUREMENTS.map((m) => ({
        measurement: m.name,
        tags: m.tags.map((t) => t.name),
        fields: Object.fromEntries(m.fields.map((f) => [f.name, FIELD_TYPES[f.type]])),
      })),
    });
    this.journal.addConsumer(INFLUX_CURSOR);
  }

  /** Starts the flush loop: every `flushIntervalMs`, or at once when `notify()` sees a full batch. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Called after each journal append: a full batch is written without waiting for the interval. */
  notify(): void {
    if (this.stopped || this.running || this.retryDelayMs > 0) return;
    if (this.backlog() >= this.options.batchSize) this.schedule(0);
  }

  backlog(): number {
    return Math.max(0, this.journal.lastSeq - this.journal.cursor(INFLUX_CURSOR));
  }

  stats(): InfluxWriterStats {
    return {
      ...this.counters,
      cursor: this.journal.cursor(INFLUX_CURSOR),
      backlog: this.backlog(),
      lastError: this.lastError,
    };
  }

  /**
   * Writes everything journaled so far; resolves when the backlog is empty. Rejects with the
   * error of the first failed attempt (the loop itself retries; this is for tests and `flushNow`).
   */
  async drainOnce(): Promise<void> {
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
    await this.running;
  }

  /** Resolves once a write leaves nothing behind in the journal (now, if nothing is pending). */
  whenDrained(): Promise<void> {
    if (this.backlog() === 0 && !this.running) return Promise.resolve();
    return new Promise((resolve) => this.drainedWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) await this.running.catch(() => {});
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drainOnce().then(
        () => {
          if (this.retryDelayMs > 0) this.log.info(`influx: ${this.options.url} is writable again`);
          this.retryDelayMs = 0;
          if (this.backlog() === 0) for (const resolve of this.drainedWaiters.splice(0)) resolve();
          this.schedule(this.options.flushIntervalMs);
        },
        (err: Error) => {
          this.counters.failures++;
          const first = this.retryDelayMs === 0;
          this.retryDelayMs = first
            ? this.options.minRetryDelayMs
            : Math.min(this.options.maxRetryDelayMs, this.retryDelayMs * 2);
          this.lastError = err.message;
          if (first || this.retryDelayMs === this.options.maxRetryDelayMs)
            this.log.warn(
              `influx: ${this.options.url}: ${err.message}; ${this.backlog()} points wait in the journal, retrying in ${this.retryDelayMs} ms`,
            );
          this.schedule(this.retryDelayMs);
        },
      );
    }, delayMs);
  }

  private async drain(): Promise<void> {
    if (!this.databaseReady) {
      try {
        await this.client.createDatabase(this.options.database);
      } catch (err) {
        // A user without admin rights may not CREATE DATABASE but may write to an existing one.
        if (!/authori[sz]|403|401/i.test((err as Error).message)) throw err;
        this.log.info(
          `influx: may not create ${this.options.database} (${(err as Error).message}); writing anyway`,
        );
      }
      this.databaseReady = true;
    }
    for (;;) {
      const from = this.journal.cursor(INFLUX_CURSOR) + 1;
      const records = await this.journal.read(from, this.options.batchSize);
      if (records.length === 0) return;
      const points: IPoint[] = [];
      for (const r of records) {
        const point = entryToPoint(r.data, r.seq, this.serial);
        if (point) points.push(point);
        else this.counters.skipped++;
      }
      if (points.length > 0) await this.client.writePoints(points, { precision: 'ms' });
      this.counters.written += points.length;
      this.counters.batches++;
      this.journal.setCursor(INFLUX_CURSOR, records[records.length - 1].seq);
      if (this.stopped) return;
    }
  }
}
