/**
 * The hub's durable books: the newest voucher per channel, closed channels, the answers to relayed
 * opens and top-ups (so a resent request id gets the same answer after a restart) and the readings
 * waiting to be relayed. Every change goes through the journal (gateway/store/journal.ts: fdatasync
 * before the promise resolves, group commit, torn-tail recovery), so the hub acks a voucher only
 * once it would survive a kill -9.
 *
 * Compaction: every `snapshotEvery` records the whole state is written to `snapshot.json` (temp
 * file, fsync, rename, fsync of the folder) and the journal cursor `hub-snapshot` moves past it,
 * which lets the journal's retention delete the segments the snapshot covers. Recovery = snapshot,
 * then every journal record after its seq.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StateError } from '../errors';
import { Journal } from '../store/journal';
import type { Ack } from './protocol';
import type { HeldVoucher } from './verify';

/** A held voucher as stored (amounts as decimal strings). */
export interface StoredVoucher extends Omit<HeldVoucher, 'cumulativeAmount'> {
  channelId: string;
  cumulativeAmount: string;
}

/** A reading waiting to be relayed: the wire message as received. */
export interface StoredReading {
  serial: string;
  id: string;
  message: object;
}

type HubRecord =
  | { t: 'voucher'; v: StoredVoucher }
  | { t: 'closed'; channelId: string }
  | { t: 'ack'; serial: string; ack: Ack }
  | { t: 'reading'; r: StoredReading }
  | { t: 'reading-done'; id: string; serial: string; ack: Ack };

interface Snapshot {
  seq: number;
  vouchers: StoredVoucher[];
  closed: string[];
  acks: Array<{ serial: string; ack: Ack }>;
  readings: StoredReading[];
}

const CURSOR = 'hub-snapshot';
/** Remembered request answers (opens, top-ups, readings): enough for any resend window. */
const MAX_ACKS = 50_000;

export class HubStore {
  readonly vouchers = new Map<string, StoredVoucher>();
  readonly closed = new Set<string>();
  /** `${serial} ${id}` → the answer already given. */
  readonly acks = new Map<string, Ack>();
  /** Readings not yet settled on chain, in arrival order, by `${serial} ${id}`. */
  readonly readings = new Map<string, StoredReading>();
  private sinceSnapshot = 0;
  private snapshotting: Promise<void> | null = null;

  private constructor(
    private readonly journal: Journal<HubRecord>,
    readonly dir: string,
    private readonly snapshotEvery: number,
  ) {}

  static async open(dir: string, options: { snapshotEvery?: number; log?: (line: string) => void } = {}) {
    const journal = await Journal.open<HubRecord>({
      dir: path.join(dir, 'journal'),
      // Nothing is lost to the size cap before a snapshot covers it: snapshots come far sooner.
      maxBytes: 1024 * 1024 * 1024,
      log: options.log,
    });
    journal.addConsumer(CURSOR);
    const store = new HubStore(journal, dir, options.snapshotEvery ?? 20_000);
    const file = path.join(dir, 'snapshot.json');
    let from = 1;
    if (existsSync(file)) {
      let snap: Snapshot;
      try {
        snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
      } catch (err) {
        throw new StateError(file, 'is not valid JSON; move it aside only if the journal is complete', {
          cause: err,
        });
      }
      for (const v of snap.vouchers) store.vouchers.set(v.channelId, v);
      for (const c of snap.closed) store.closed.add(c);
      for (const a of snap.acks) store.acks.set(`${a.serial} ${a.ack.id}`, a.ack);
      for (const r of snap.readings) store.readings.set(`${r.serial} ${r.id}`, r);
      from = snap.seq + 1;
    }
    for (;;) {
      const records = await journal.read(from, 5000);
      if (records.length === 0) break;
      for (const rec of records) store.apply(rec.data);
      from = records[records.length - 1]!.seq + 1;
    }
    return store;
  }

  private apply(rec: HubRecord): void {
    switch (rec.t) {
      case 'voucher': {
        const old = this.vouchers.get(rec.v.channelId);
        if (!old || BigInt(old.cumulativeAmount) <= BigInt(rec.v.cumulativeAmount))
          this.vouchers.set(rec.v.channelId, rec.v);
        break;
      }
      case 'closed':
        this.vouchers.delete(rec.channelId);
        this.closed.add(rec.channelId);
        break;
      case 'ack':
        this.remember(rec.serial, rec.ack);
        break;
      case 'reading':
        this.readings.set(`${rec.r.serial} ${rec.r.id}`, rec.r);
        break;
      case 'reading-done':
        this.readings.delete(`${rec.serial} ${rec.id}`);
        this.remember(rec.serial, rec.ack);
        break;
    }
  }

  private remember(serial: string, ack: Ack): void {
    const key = `${serial} ${ack.id}`;
    this.acks.delete(key);
    this.acks.set(key, ack);
    if (this.acks.size > MAX_ACKS) this.acks.delete(this.acks.keys().next().value!);
  }

  /** Applies a change in memory once it is durable; resolves after fdatasync. */
  private async write(rec: HubRecord): Promise<void> {
    await this.journal.append(rec);
    this.apply(rec);
    if (++this.sinceSnapshot >= this.snapshotEvery && !this.snapshotting) {
      this.sinceSnapshot = 0;
      this.snapshotting = this.snapshot().finally(() => (this.snapshotting = null));
    }
  }

  saveVoucher(v: StoredVoucher): Promise<void> {
    return this.write({ t: 'voucher', v });
  }
  markClosed(channelId: bigint): Promise<void> {
    return this.write({ t: 'closed', channelId: channelId.toString() });
  }
  saveAck(serial: string, ack: Ack): Promise<void> {
    return this.write({ t: 'ack', serial, ack });
  }
  queueReading(r: StoredReading): Promise<void> {
    return this.write({ t: 'reading', r });
  }
  settleReading(serial: string, ack: Ack): Promise<void> {
    return this.write({ t: 'reading-done', serial, id: ack.id, ack });
  }

  /** Writes the whole state atomically and lets the journal drop what it covers. */
  async snapshot(): Promise<void> {
    await this.journal.flush();
    const seq = this.journal.lastSeq;
    const snap: Snapshot = {
      seq,
      vouchers: [...this.vouchers.values()],
      closed: [...this.closed],
      acks: [...this.acks].map(([key, ack]) => ({ serial: key.slice(0, key.indexOf(' ')), ack })),
      readings: [...this.readings.values()],
    };
    const file = path.join(this.dir, 'snapshot.json');
    writeFileSync(`${file}.tmp`, JSON.stringify(snap));
    const fd = openSync(`${file}.tmp`, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(`${file}.tmp`, file);
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    this.journal.setCursor(CURSOR, seq);
  }

  async close(): Promise<void> {
    await this.snapshotting;
    await this.journal.close();
  }
}
