/**
 * The ledger journal: where this HEPEK's money moved and at what price, for the dashboards. Each
 * ERGON flow (paid through the channel, export rewards, market sales, purchases) is kept as a
 * cumulative total in base units; every movement appends an `ergon` entry carrying all four totals,
 * and prices observed (the tariff in force, a forecast) append `price` entries. The InfluxDB writer
 * reads it at its own cursor like the meter journal (measurements.ts: `hepek_ergon`, `hepek_price`).
 *
 * Appends are serialised, so the totals in consecutive entries never go backwards even when two
 * parts record at once; a restart recovers the totals from the newest `ergon` entry on disk.
 */
import { InputError } from '../errors';
import { Journal, type JournalOptions } from './journal';
import {
  ERGON_FLOWS,
  weiToErgon,
  type ErgonEntry,
  type ErgonFlow,
  type JournalEntry,
  type PriceEntry,
} from './measurements';

/** What other parts of the gateway (the payer, the market, the purchase webhook, nodes) record to. */
export interface LedgerSink {
  /**
   * `flow` moved by `deltaWei` (ERGON base units, ≥ 0) at `at`; `ref` names what moved it, and a
   * `ref` already recorded for the same flow is not counted again (a replay after a restart).
   */
  addErgon(flow: ErgonFlow, deltaWei: bigint, at: Date, ref?: string): Promise<void>;
  /** A price observed for time `at`, ERGON/kWh; at least one of the two. */
  recordPrice(at: Date, prices: { priceErgonPerKWh?: number; forecastErgonPerKWh?: number }): Promise<void>;
  /** The totals so far, as ERGON and as exact base units. */
  totals(): LedgerTotals;
}

export type LedgerTotals = Record<`${ErgonFlow}Ergon`, number> & { wei: Record<ErgonFlow, string> };

function zeroTotals(): Record<ErgonFlow, bigint> {
  return { paid: 0n, reward: 0n, market: 0n, purchased: 0n };
}

function checkTime(at: Date, field: string): string {
  if (!(at instanceof Date) || !Number.isFinite(at.getTime()))
    throw new InputError(field, at, 'a valid Date');
  return at.toISOString();
}

export class LedgerJournal implements LedgerSink {
  private readonly sums: Record<ErgonFlow, bigint>;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<() => void>();

  private constructor(
    readonly journal: Journal<JournalEntry>,
    sums: Record<ErgonFlow, bigint>,
    private readonly refs: Set<string>,
  ) {
    this.sums = sums;
  }

  static async open(options: Partial<JournalOptions> & { dir: string }): Promise<LedgerJournal> {
    const journal = await Journal.open<JournalEntry>(options);
    const sums = zeroTotals();
    // The newest `ergon` entry holds every total; scan what is on disk from the oldest record.
    const first = journal.stats().firstSeq;
    let newest: ErgonEntry | null = null;
    const refs = new Set<string>();
    for (let from = first; from <= journal.lastSeq;) {
      const batch = await journal.read(from, 1000);
      if (batch.length === 0) break;
      for (const record of batch)
        if (record.data?.kind === 'ergon') {
          newest = record.data;
          if (record.data.ref !== undefined) refs.add(`${record.data.flow}:${record.data.ref}`);
        }
      from = batch[batch.length - 1]!.seq + 1;
    }
    if (newest)
      for (const flow of ERGON_FLOWS) {
        const wei = newest.totalsWei?.[flow];
        if (typeof wei === 'string' && /^\d+$/.test(wei)) sums[flow] = BigInt(wei);
      }
    return new LedgerJournal(journal, sums, refs);
  }

  /** Called after each durable append (the InfluxDB writer's `notify`). */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  addErgon(flow: ErgonFlow, deltaWei: bigint, at: Date, ref?: string): Promise<void> {
    if (!ERGON_FLOWS.includes(flow))
      throw new InputError('flow', flow, `one of ${ERGON_FLOWS.map((f) => JSON.stringify(f)).join(', ')}`);
    if (typeof deltaWei !== 'bigint' || deltaWei < 0n)
      throw new InputError('deltaWei', deltaWei, 'a bigint of ERGON base units ≥ 0');
    const timestamp = checkTime(at, 'at');
    if (deltaWei === 0n) return Promise.resolve();
    return this.serialise(async () => {
      const key = ref === undefined ? null : `${flow}:${ref}`;
      if (key !== null && this.refs.has(key)) return;
      const next = { ...this.sums, [flow]: this.sums[flow] + deltaWei };
      const entry: ErgonEntry = {
        kind: 'ergon',
        timestamp,
        flow,
        deltaWei: deltaWei.toString(),
        totalsWei: Object.fromEntries(ERGON_FLOWS.map((f) => [f, next[f].toString()])) as Record<
          ErgonFlow,
          string
        >,
        ...(ref !== undefined ? { ref } : {}),
      };
      await this.journal.append(entry);
      // Only once it is durable: a failed append leaves the totals as they were.
      this.sums[flow] = next[flow];
      if (key !== null) this.refs.add(key);
    });
  }

  recordPrice(at: Date, prices: { priceErgonPerKWh?: number; forecastErgonPerKWh?: number }): Promise<void> {
    const timestamp = checkTime(at, 'at');
    const entry: PriceEntry = { kind: 'price', timestamp };
    for (const key of ['priceErgonPerKWh', 'forecastErgonPerKWh'] as const) {
      const value = prices[key];
      if (value === undefined) continue;
      if (typeof value !== 'number' || !Number.isFinite(value))
        throw new InputError(key, value, 'a finite number of ERGON per kWh');
      entry[key] = value;
    }
    if (entry.priceErgonPerKWh === undefined && entry.forecastErgonPerKWh === undefined)
      throw new InputError('prices', prices, 'at least one of priceErgonPerKWh, forecastErgonPerKWh');
    return this.serialise(() => this.journal.append(entry));
  }

  totals(): LedgerTotals {
    const out = { wei: {} } as LedgerTotals;
    for (const flow of ERGON_FLOWS) {
      out.wei[flow] = this.sums[flow].toString();
      out[`${flow}Ergon`] = weiToErgon(out.wei[flow]);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.tail.catch(() => {});
    await this.journal.close();
  }

  private serialise(step: () => Promise<unknown>): Promise<void> {
    // `tail` never rejects, so each step runs after the previous one settled, whatever its outcome.
    const run = this.tail.then(step);
    this.tail = run.catch(() => {});
    return run.then(() => {
      for (const listener of this.listeners) listener();
    });
  }
}
