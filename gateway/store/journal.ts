/**
 * The durable local journal: an append-only log of what the gateway acknowledges.
 *
 * **Durability contract.** `append(data)` resolves with the record's sequence number only after
 * the bytes are on disk (`fdatasync`, and the folder fsynced when a segment file is created). The
 * runtime acknowledges a reading — publishes it on `hepek/<serial>/meter` with its `seq` — only
 * after that, so a kill -9 or power cut can lose nothing that anybody was told about.
 *
 * **Group commit.** Appends that arrive while a write + fdatasync is in flight queue up and go to
 * disk together in the next one: one fdatasync per batch, never a timer, so a lone reading is as
 * fast as one sync and a burst costs one sync per batch rather than per record.
 *
 * **Format.** Segment files `journal-<first seq, 16 digits>.jsonl`; one record a line:
 * `<crc32 of the JSON, 8 hex> <JSON {"seq":n,"data":…}>\n`. Sequence numbers are consecutive
 * across segments, starting at 1.
 *
 * **Recovery.** `open()` reads every segment back. In the newest segment an invalid tail — a last
 * line without its newline, or lines whose CRC or JSON does not check, up to the end — is a write
 * torn by a crash: it was never synced, so never acknowledged; it is cut off (the file truncated)
 * and reported. Any invalid line followed by a valid one, an invalid line in an older segment, or a
 * gap in the sequence is corruption: `open()` refuses with a StateError naming the file and line.
 *
 * **Failures.** A failed write or sync (a full disk) rejects the appends of that batch — they are
 * not acknowledged — gives their seqs back and truncates the segment to its last durable size, so
 * the journal stays clean and later appends may succeed.
 *
 * **Rotation and retention.** A new segment starts once the current one reaches `segmentBytes`.
 * Consumers (the InfluxDB writer) keep named cursors — the last seq they have delivered. Whole
 * segments every cursor has passed are deleted once the journal exceeds `retainBytes`; past
 * `maxBytes` the oldest segments go even if a cursor still needs them, and the loss is logged and
 * counted (`stats().droppedRecords`), so a long outage cannot fill the disk.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { open, readFile, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { ConfigError, StateError } from '../errors';

export interface JournalOptions {
  /** The journal's folder (created if missing). */
  dir: string;
  /** Start a new segment file once the current one is this large, bytes. */
  segmentBytes: number;
  /** Keep at least this much history even when every consumer has read it, bytes. */
  retainBytes: number;
  /** Hard cap on the journal's size: beyond it the oldest segments are deleted, read or not, bytes. */
  maxBytes: number;
  /** How many of the newest records `read()` serves from memory without touching the disk. */
  cacheRecords: number;
  /** Warnings (dropped segments, truncated tails). */
  log?: (message: string) => void;
}

export const JOURNAL_DEFAULTS = Object.freeze({
  segmentBytes: 4 * 1024 * 1024,
  retainBytes: 16 * 1024 * 1024,
  maxBytes: 256 * 1024 * 1024,
  cacheRecords: 10_000,
});

export interface JournalRecord<T> {
  seq: number;
  data: T;
}

export interface RecoveryReport<T> {
  /** Records found intact. */
  records: number;
  /** The highest sequence number on disk (0 for an empty journal). */
  lastSeq: number;
  /** The newest intact record, or null. */
  last: JournalRecord<T> | null;
  /** Bytes of a torn tail that were cut off (0 after a clean stop). */
  tornBytes: number;
}

export interface JournalStats {
  lastSeq: number;
  /** The oldest sequence number still on disk (lastSeq + 1 when empty). */
  firstSeq: number;
  segments: number;
  bytes: number;
  /** Records deleted by the `maxBytes` cap before every cursor had passed them. */
  droppedRecords: number;
  /** fdatasync calls since open (appends / syncs = the group-commit batch size). */
  syncs: number;
  appends: number;
}

interface Segment {
  firstSeq: number;
  file: string;
  bytes: number;
}

interface Pending {
  seq: number;
  line: string;
  record: JournalRecord<unknown>;
  resolve: (seq: number) => void;
  reject: (err: Error) => void;
}

const SEGMENT_RE = /^journal-(\d{16})\.jsonl$/;

function segmentName(firstSeq: number): string {
  return `journal-${String(firstSeq).padStart(16, '0')}.jsonl`;
}

function encode(record: JournalRecord<unknown>): string {
  const json = JSON.stringify(record);
  const crc = crc32(Buffer.from(json, 'utf8')).toString(16).padStart(8, '0');
  return `${crc} ${json}\n`;
}

/** Decodes one line (without its newline); null if its CRC or JSON does not check. */
function decode(line: string): JournalRecord<unknown> | null {
  if (line.length < 10 || line[8] !== ' ') return null;
  const json = line.slice(9);
  const crc = crc32(Buffer.from(json, 'utf8')).toString(16).padStart(8, '0');
  if (crc !== line.slice(0, 8)) return null;
  try {
    const record = JSON.parse(json) as JournalRecord<unknown>;
    return Number.isSafeInteger(record.seq) && record.seq > 0 && 'data' in record ? record : null;
  } catch {
    return null;
  }
}

/** Makes a new directory entry (segment, cursor file) durable. */
function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class Journal<T = unknown> {
  readonly dir: string;
  readonly options: Readonly<Omit<JournalOptions, 'log'>>;
  readonly recovered: RecoveryReport<T>;
  private readonly log: (message: string) => void;
  private readonly segments: Segment[];
  private handle: FileHandle | null = null;
  private seq: number;
  private pending: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private failed: Error | null = null;
  private closed = false;
  private readonly cache: JournalRecord<T>[] = [];
  private readonly cursors: Record<string, number>;
  private counters = { droppedRecords: 0, syncs: 0, appends: 0 };
  private parsed: { file: string; records: JournalRecord<T>[] } | null = null;

  /** Opens (creating if needed) and recovers the journal in `options.dir`. */
  static async open<T = unknown>(options: Partial<JournalOptions> & { dir: string }): Promise<Journal<T>> {
    const opts = parseJournalOptions(options);
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const names = readdirSync(opts.dir)
      .filter((n) => SEGMENT_RE.test(n))
      .sort();
    const segments: Segment[] = [];
    let lastSeq = 0;
    let count = 0;
    let last: JournalRecord<unknown> | null = null;
    let tornBytes = 0;
    const cache: JournalRecord<unknown>[] = [];
    for (let i = 0; i < names.length; i++) {
      const file = path.join(opts.dir, names[i]);
      const firstSeq = Number(SEGMENT_RE.exec(names[i])![1]);
      const newest = i === names.length - 1;
      const buf = await readFile(file);
      let offset = 0;
      let goodEnd = 0;
      let badAt: { line: number; offset: number } | null = null;
      let lineNo = 0;
      while (offset < buf.length) {
        const nl = buf.indexOf(0x0a, offset);
        lineNo++;
        const end = nl < 0 ? buf.length : nl;
        const record = nl < 0 ? null : decode(buf.toString('utf8', offset, end));
        if (record === null) {
          badAt ??= { line: lineNo, offset };
        } else {
          if (badAt)
            throw new StateError(
              file,
              `line ${badAt.line} is corrupt but valid records follow it (line ${lineNo}); this is damage, not a torn write — move the journal aside to start afresh`,
            );
          // The first record of a segment carries the seq in its name; every record follows the last.
          const expected = goodEnd === 0 ? firstSeq : lastSeq + 1;
          if (record.seq !== expected || (count > 0 && record.seq !== lastSeq + 1))
            throw new StateError(
              file,
              `line ${lineNo} has seq ${record.seq}, expected ${count > 0 ? lastSeq + 1 : expected}`,
            );
          lastSeq = record.seq;
          count++;
          last = record;
          cache.push(record);
          if (cache.length > opts.cacheRecords) cache.splice(0, cache.length - opts.cacheRecords);
          goodEnd = end + 1;
        }
        offset = end + 1;
      }
      if (badAt) {
        if (!newest)
          throw new StateError(file, `line ${badAt.line} is corrupt in a segment that is not the newest`);
        tornBytes = buf.length - goodEnd;
        await truncate(file, goodEnd);
        opts.log?.(
          `journal: ${file}: cut a torn tail of ${tornBytes} bytes at line ${badAt.line} (never acknowledged)`,
        );
      }
      // An empty newest segment (a crash right after rotation, or a wholly torn one) is reused.
      segments.push({ firstSeq, file, bytes: goodEnd });
    }
    // Sequence numbers are never reused, even if every record before an empty newest segment is gone.
    if (segments.length) lastSeq = Math.max(lastSeq, segments[segments.length - 1].firstSeq - 1);
    const journal = new Journal<T>(opts, segments, lastSeq, {
      records: count,
      lastSeq,
      last: last as JournalRecord<T> | null,
      tornBytes,
    });
    journal.cache.push(...(cache as JournalRecord<T>[]));
    return journal;
  }

  private constructor(
    opts: JournalOptions,
    segments: Segment[],
    lastSeq: number,
    recovered: RecoveryReport<T>,
  ) {
    this.dir = opts.dir;
    const { log, ...rest } = opts;
    this.options = Object.freeze(rest);
    this.log = log ?? (() => {});
    this.segments = segments;
    this.seq = lastSeq;
    this.recovered = recovered;
    this.cursors = this.readCursors();
  }

  /** The highest sequence number handed out (durable or in flight). */
  get lastSeq(): number {
    return this.seq;
  }

  /**
   * Appends a record; resolves with its seq once it is durable on disk, rejects if the write or
   * sync fails (the record must then not be acknowledged). Records are durable in seq order.
   */
  append(data: T): Promise<number> {
    if (this.closed) return Promise.reject(new StateError(this.dir, 'the journal is closed'));
    if (this.failed)
      return Promise.reject(new StateError(this.dir, `an earlier write failed: ${this.failed.message}`));
    const seq = ++this.seq;
    const record = { seq, data };
    let line: string;
    try {
      line = encode(record);
    } catch (err) {
      this.seq--;
      return Promise.reject(
        new StateError(this.dir, `record is not JSON-serialisable: ${(err as Error).message}`),
      );
    }
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ seq, line, record, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  /** Resolves when everything appended so far is durable. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          const buf = Buffer.from(batch.map((p) => p.line).join(''), 'utf8');
          const handle = await this.currentHandle(batch[0].seq);
          await this.writeAll(handle, buf);
          await handle.datasync();
          this.counters.syncs++;
          this.counters.appends += batch.length;
          this.segments[this.segments.length - 1].bytes += buf.length;
        } catch (err) {
          // Nothing of this batch was acknowledged. Give its seqs back and cut whatever part of it
          // reached the file (a failed fdatasync may leave pages that later look clean), so the
          // next append continues a clean journal — a full disk costs readings, never the journal.
          const wrapped = new StateError(this.dir, `write failed: ${(err as Error).message}`, { cause: err });
          const rejected = [...batch, ...this.pending];
          this.pending = [];
          this.seq = batch[0].seq - 1;
          try {
            await this.rollback();
          } catch (rollbackErr) {
            // Cannot tell what is on disk now: refuse every further append; a restart recovers.
            this.failed = rollbackErr as Error;
            rejected.push(...this.pending);
            this.pending = [];
          }
          for (const p of rejected) p.reject(wrapped);
          continue;
        }
        for (const p of batch) {
          this.cache.push(p.record as JournalRecord<T>);
          p.resolve(p.seq);
        }
        if (this.cache.length > this.options.cacheRecords)
          this.cache.splice(0, this.cache.length - this.options.cacheRecords);
      }
    } finally {
      this.flushing = null;
    }
  }

  private async writeAll(handle: FileHandle, buf: Buffer): Promise<void> {
    let written = 0;
    while (written < buf.length) {
      const { bytesWritten } = await handle.write(buf, written, buf.length - written);
      written += bytesWritten;
    }
  }

  /** Truncates the newest segment back to its last durable size and drops the handle. */
  private async rollback(): Promise<void> {
    if (this.handle) await this.handle.close().catch(() => {});
    this.handle = null;
    const newest = this.segments[this.segments.length - 1];
    if (newest) await truncate(newest.file, newest.bytes);
  }

  /** The open newest segment, rotating first when it is full. */
  private async currentHandle(nextSeq: number): Promise<FileHandle> {
    const newest = this.segments[this.segments.length - 1];
    if (newest && newest.bytes < this.options.segmentBytes) {
      this.handle ??= await open(newest.file, 'a');
      return this.handle;
    }
    if (this.handle) {
      await this.handle.close();
      this.handle = null;
    }
    const file = path.join(this.dir, segmentName(nextSeq));
    this.handle = await open(file, 'a', 0o600);
    fsyncDir(this.dir);
    this.segments.push({ firstSeq: nextSeq, file, bytes: 0 });
    await this.applyRetention();
    return this.handle;
  }

  /** Deletes whole old segments per `retainBytes` / `maxBytes` (never the newest). */
  private async applyRetention(): Promise<void> {
    const names = Object.keys(this.cursors);
    const slowest = names.length ? Math.min(...names.map((n) => this.cursors[n])) : this.seq;
    let total = this.segments.reduce((sum, s) => sum + s.bytes, 0);
    while (this.segments.length > 1) {
      const oldest = this.segments[0];
      const lastInOldest = this.segments[1].firstSeq - 1;
      const consumed = lastInOldest <= slowest;
      if (!(consumed && total > this.options.retainBytes) && !(total > this.options.maxBytes)) break;
      if (!consumed) {
        const lost = lastInOldest - Math.max(slowest, oldest.firstSeq - 1);
        this.counters.droppedRecords += lost;
        this.log(
          `journal: over maxBytes (${this.options.maxBytes}); dropped ${lost} records not yet delivered to ${names.join(', ')} (${path.basename(oldest.file)})`,
        );
      }
      await rm(oldest.file, { force: true });
      if (this.parsed?.file === oldest.file) this.parsed = null;
      total -= oldest.bytes;
      this.segments.shift();
      const cutoff = this.segments[0].firstSeq - 1;
      while (this.cache.length && this.cache[0].seq <= cutoff) this.cache.shift();
    }
  }

  /** Up to `limit` durable records from `fromSeq` on, in order (fewer at the end, or after a drop). */
  async read(fromSeq: number, limit: number): Promise<JournalRecord<T>[]> {
    const durableLast = this.cache.length ? this.cache[this.cache.length - 1].seq : this.recovered.lastSeq;
    if (fromSeq > durableLast || limit <= 0) return [];
    const first = this.segments.length ? this.segments[0].firstSeq : durableLast + 1;
    const from = Math.max(fromSeq, first);
    if (this.cache.length && from >= this.cache[0].seq) {
      const start = from - this.cache[0].seq;
      return this.cache.slice(start, start + limit);
    }
    const out: JournalRecord<T>[] = [];
    for (let i = 0; i < this.segments.length && out.length < limit; i++) {
      const seg = this.segments[i];
      const next = this.segments[i + 1]?.firstSeq ?? Infinity;
      if (next <= from) continue;
      for (const record of await this.segmentRecords(seg, i === this.segments.length - 1)) {
        if (record.seq < from) continue;
        if (record.seq > durableLast || out.length >= limit) break;
        out.push(record);
      }
    }
    return out;
  }

  /**
   * The records of one segment. An older (closed) segment is parsed once and kept until another
   * is read, so a consumer catching up after an outage reads each file once, not once per batch.
   */
  private async segmentRecords(seg: Segment, newest: boolean): Promise<JournalRecord<T>[]> {
    if (!newest && this.parsed?.file === seg.file) return this.parsed.records;
    const text = await readFile(seg.file, 'utf8');
    const records: JournalRecord<T>[] = [];
    for (const line of text.split('\n')) {
      const record = line ? decode(line) : null;
      if (record) records.push(record as JournalRecord<T>);
    }
    if (!newest) this.parsed = { file: seg.file, records };
    return records;
  }

  /** The last seq consumer `name` has delivered (0 = nothing yet). */
  cursor(name: string): number {
    return this.cursors[name] ?? 0;
  }

  /**
   * Records that consumer `name` has delivered everything up to `seq`. Written atomically but not
   * fsynced: after a crash a consumer may deliver a few records twice, which InfluxDB (points keyed
   * by measurement, tags and time) absorbs without duplicates.
   */
  setCursor(name: string, seq: number): void {
    this.cursors[name] = seq;
    this.saveCursors();
  }

  /** Registers a consumer at seq 0 if it is new, so retention waits for it. */
  addConsumer(name: string): number {
    if (!(name in this.cursors)) this.setCursor(name, 0);
    return this.cursors[name];
  }

  private saveCursors(): void {
    const file = path.join(this.dir, 'cursors.json');
    writeFileSync(`${file}.tmp`, `${JSON.stringify(this.cursors)}\n`);
    renameSync(`${file}.tmp`, file);
  }

  /** Forgets a consumer (e.g. InfluxDB was configured once, no longer), so retention stops waiting for it. */
  removeConsumer(name: string): void {
    if (!(name in this.cursors)) return;
    delete this.cursors[name];
    this.saveCursors();
  }

  private readCursors(): Record<string, number> {
    const file = path.join(this.dir, 'cursors.json');
    if (!existsSync(file)) return {};
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
      return Object.fromEntries(Object.entries(parsed).filter(([, v]) => Number.isSafeInteger(v) && v >= 0));
    } catch {
      this.log(`journal: ${file} is not valid JSON; consumers start from the oldest record`);
      return {};
    }
  }

  stats(): JournalStats {
    return {
      lastSeq: this.seq,
      firstSeq: this.segments.length ? this.segments[0].firstSeq : this.seq + 1,
      segments: this.segments.length,
      bytes: this.segments.reduce((sum, s) => sum + s.bytes, 0),
      ...this.counters,
    };
  }

  /** Waits for in-flight appends, then closes the file. Later appends reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.handle) await this.handle.close();
    this.handle = null;
  }
}

/** Total size of the journal's segment files on disk, bytes (for tests and status). */
export async function journalDiskBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of readdirSync(dir))
    if (SEGMENT_RE.test(name)) total += (await stat(path.join(dir, name))).size;
  return total;
}

export function parseJournalOptions(
  raw: Partial<JournalOptions> & { dir: string },
  fieldPrefix = '',
): JournalOptions {
  const out: JournalOptions = { ...JOURNAL_DEFAULTS, ...raw };
  if (typeof out.dir !== 'string' || out.dir === '')
    throw new ConfigError(`${fieldPrefix}dir`, out.dir, 'a folder path');
  for (const key of ['segmentBytes', 'retainBytes', 'maxBytes', 'cacheRecords'] as const) {
    const v = out[key];
    if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(`${fieldPrefix}${key}`, v, 'an integer ≥ 1');
  }
  if (out.maxBytes < out.segmentBytes * 2)
    throw new ConfigError(
      `${fieldPrefix}maxBytes`,
      out.maxBytes,
      `at least twice segmentBytes (${out.segmentBytes * 2})`,
    );
  return out;
}
