/**
 * EnergyMarket conservation, as a fast-check property over random list / take / cancel / reading /
 * prove / settle sequences of one seller and three buyers: after everything is settled, the escrow
 * taken in equals what was paid out plus what was refunded (and the market holds nothing), every
 * buyer was paid exactly the cost of the Wh settled to them, no Wh was paid twice (proof intervals
 * are disjoint, each offer pays at most its proven delivery), and every exported Wh earned either the
 * export reward or a buyer's payment — never both — with carbon credits to match.
 */
import fc from 'fast-check';
import * as assert from 'uvu/assert';
import type { LogDescription } from 'ethers';
import { suite } from 'uvu';
import { DEFAULT_EMISSION_FACTOR_MG_PER_WH, DEFAULT_EXPORT_RATE_WEI_PER_WH } from '../gateway/chain/deploy';
import { costOf } from '../gateway/market/sign';
import { RATED_EXPORT_W, now } from './helpers/ledger';
import {
  GRACE,
  HOUR,
  TOLERANCE,
  feed,
  listOffer,
  marketFixture,
  mineAt,
  take,
  terms,
  type MarketFixture,
} from './helpers/market';

const SLOTS = 4;

type Op =
  | { t: 'list'; slot: number; wh: number }
  | { t: 'take'; slot: number; buyer: number; wh: number }
  | { t: 'cancel'; slot: number }
  | { t: 'wait'; seconds: number; permille: number }
  | { t: 'prove'; slot: number }
  | { t: 'settle'; slot: number; buyer: number };

const slot = fc.integer({ min: 0, max: SLOTS - 1 });
const buyer = fc.integer({ min: 0, max: 2 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('list' as const), slot, wh: fc.integer({ min: 1, max: 3000 }) }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('take' as const),
      slot,
      buyer,
      wh: fc.integer({ min: 1, max: 1500 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('cancel' as const), slot }) },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('wait' as const),
      seconds: fc.integer({ min: 300, max: 1800 }),
      permille: fc.integer({ min: 0, max: 1000 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('prove' as const), slot }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('settle' as const), slot, buyer }) },
);

interface ReadingRow {
  seq: bigint;
  ts: bigint;
  exportWh: bigint;
}

/** Runs `send` and swallows a revert: invalid random operations are expected and change nothing. */
async function attempt(send: () => Promise<unknown>): Promise<boolean> {
  try {
    await send();
    return true;
  } catch {
    return false;
  }
}

/** What the runs exercised, so the property cannot pass by only ever refusing operations. */
const seen = { taken: 0, proven: 0, paidSettlements: 0, refunds: 0 };

async function run(m: MarketFixture, ops: Op[]): Promise<void> {
  let t = (await now(m)) + 10n;
  let exportWh = 0n;
  const rows: ReadingRow[] = [];
  /** Moves `t` past the chain's clock (every transaction moves that on by a second or more). */
  const bump = async (by: bigint) => {
    const chainNow = await now(m);
    t = t + by > chainNow ? t + by : chainNow + 1n;
    return t;
  };
  const addReading = async (by: bigint, wh: bigint) => {
    const at = await bump(by);
    const seq = await feed(m, at, wh);
    rows.push({ seq, ts: at, exportWh: wh });
  };
  await addReading(0n, 0n);
  const base = t + 2n * HOUR;
  const startOf = (k: number) => base + BigInt(k) * HOUR;
  const offerIds: (bigint | undefined)[] = Array.from({ length: SLOTS }, () => undefined);
  const allOffers: bigint[] = [];

  const prove = async (k: number) => {
    const id = offerIds[k];
    if (id === undefined) return;
    const start = startOf(k);
    const end = start + HOUR;
    const mark = await m.energy.proofMarkOf(m.deviceId);
    const first =
      mark.endTimestamp !== 0n && mark.endTimestamp > start - TOLERANCE
        ? rows.find((r) => r.seq === mark.endSeq)
        : [...rows].reverse().find((r) => r.ts <= start && r.ts + TOLERANCE >= start);
    const last = rows.find((r) => r.ts >= end && r.ts <= end + TOLERANCE);
    if (!first || !last) return;
    await mineAt(m, await bump(1n));
    await attempt(async () => (await m.energy.proveDelivery(id, first.seq, last.seq)).wait());
  };
  const settleAll = async () => {
    for (const id of allOffers)
      for (const b of await m.energy.buyersOf(id))
        if ((await m.energy.positionOf(id, b)).wattHours > 0n)
          await (await m.energy.connect(m.relayer).settle(id, b)).wait();
  };

  for (const op of ops) {
    switch (op.t) {
      case 'list': {
        if (offerIds[op.slot] !== undefined) break;
        const start = startOf(op.slot);
        await mineAt(m, await bump(1n));
        const listed = await attempt(async () => {
          const id = await listOffer(m, terms(m, start, { wattHours: BigInt(op.wh) }));
          offerIds[op.slot] = id;
          allOffers.push(id);
        });
        if (!listed) offerIds[op.slot] = undefined;
        break;
      }
      case 'take': {
        const id = offerIds[op.slot];
        if (id !== undefined) await attempt(() => take(m, op.buyer, id, BigInt(op.wh)));
        break;
      }
      case 'cancel': {
        const id = offerIds[op.slot];
        if (id !== undefined) await attempt(async () => (await m.energy.cancel(id)).wait());
        break;
      }
      case 'wait': {
        const dt = BigInt(op.seconds);
        const maxWh = (BigInt(RATED_EXPORT_W) * dt) / 3600n;
        exportWh += (maxWh * BigInt(op.permille)) / 1000n;
        await addReading(dt, exportWh);
        break;
      }
      case 'prove':
        await prove(op.slot);
        break;
      case 'settle': {
        const id = offerIds[op.slot];
        const who = m.buyers[op.buyer]!.key.address;
        if (id !== undefined)
          await attempt(async () => (await m.energy.connect(m.relayer).settle(id, who)).wait());
        break;
      }
    }
  }

  // Finish the day: readings every 15 min past the last window, proofs, then past every grace period.
  const lastEnd = startOf(SLOTS - 1) + HOUR;
  while (t < lastEnd + 900n) {
    exportWh += 300n;
    await addReading(900n, exportWh);
  }
  for (let k = 0; k < SLOTS; k++) if (t <= startOf(k) + HOUR + GRACE) await prove(k);
  await mineAt(m, await bump(t > lastEnd + GRACE ? 1n : lastEnd + GRACE + 1n - t));
  await settleAll();
  for (const id of allOffers) {
    const offer = await m.energy.offerOf(id);
    if (offer.takenWh === 0n && offer.wattHours > 0n)
      await (await m.energy.connect(m.relayer).cancel(id)).wait();
  }

  // --- the invariants -----------------------------------------------------------------------------
  const events = await logs(m);
  const sum = (name: string, field: string) =>
    events.filter((e) => e.name === name).reduce((acc, e) => acc + (e.args[field] as bigint), 0n);
  const escrowIn = sum('OfferTaken', 'escrow');
  const paid = sum('OfferSettled', 'paid');
  const refunded = sum('EscrowRefunded', 'amount');
  assert.is(escrowIn, paid + refunded, 'escrow in = paid out + refunded');
  seen.taken += events.filter((e) => e.name === 'OfferTaken').length;
  seen.proven += events.filter((e) => e.name === 'DeliveryProven').length;
  seen.paidSettlements += events.filter(
    (e) => e.name === 'OfferSettled' && (e.args.paid as bigint) > 0n,
  ).length;
  seen.refunds += events.filter((e) => e.name === 'EscrowRefunded').length;
  assert.is(await m.token.balanceOf(m.addresses.EnergyMarket!), 0n, 'the market keeps nothing');
  assert.is(await m.token.balanceOf(m.device.address), paid, 'the seller received exactly the payments');

  let soldWh = 0n;
  for (const id of allOffers) {
    const offer = await m.energy.offerOf(id);
    const settled = events.filter((e) => e.name === 'OfferSettled' && e.args.offerId === id);
    const delivered = settled.reduce((acc, e) => acc + (e.args.deliveredWh as bigint), 0n);
    for (const e of settled) assert.is(e.args.paid, costOf(e.args.deliveredWh as bigint, offer.pricePerKWh));
    assert.ok(delivered <= offer.deliveredWh, `offer ${id} pays at most its proven delivery`);
    assert.ok(offer.deliveredWh <= offer.takenWh, `offer ${id} delivers at most what was taken`);
    if (!offer.proven) assert.is(delivered, 0n, `unproven offer ${id} pays nothing`);
    soldWh += delivered;
  }
  // Proof intervals never overlap, so no exported Wh backs two offers.
  const tsOf = (seq: bigint) => rows.find((r) => r.seq === seq)!.ts;
  const intervals = events
    .filter((e) => e.name === 'DeliveryProven')
    .map((e) => [tsOf(e.args.startSeq as bigint), tsOf(e.args.endSeq as bigint)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (let i = 1; i < intervals.length; i++)
    assert.ok(intervals[i]![0] >= intervals[i - 1]![1], 'proof intervals are disjoint');

  const account = await m.readings.accountOf(m.deviceId);
  const hold = await m.readings.holdOf(m.deviceId);
  assert.is(hold.holds, 0n, 'every hold ended');
  const rate = DEFAULT_EXPORT_RATE_WEI_PER_WH;
  const factor = DEFAULT_EMISSION_FACTOR_MG_PER_WH;
  assert.is(account.accruedWei + soldWh * rate, exportWh * rate, 'each Wh: reward or payment, never both');
  let buyersCarbon = 0n;
  for (const b of m.buyers) buyersCarbon += await m.readings.carbonOfAccount(b.key.address);
  assert.is(buyersCarbon, soldWh * factor, 'the buyers hold the credits of what they paid for');
  assert.is(account.carbonMg + buyersCarbon, exportWh * factor, 'credits counted once');
}

async function logs(m: MarketFixture): Promise<LogDescription[]> {
  const raw = await m.chain.provider.getLogs({ address: m.addresses.EnergyMarket!, fromBlock: 0 });
  return raw.map((log) => m.energy.interface.parseLog(log)).filter((e): e is LogDescription => e !== null);
}

const property = suite('EnergyMarket conservation');

property(
  'random list/take/cancel/prove/settle sequences conserve escrow and never pay a Wh twice',
  async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 10, maxLength: 30, size: 'max' }), async (ops) => {
        const m = await marketFixture();
        try {
          await run(m, ops);
        } finally {
          await m.chain.close();
        }
      }),
      { numRuns: 12, seed: 20261207, endOnFailure: true },
    );
    for (const [what, count] of Object.entries(seen))
      assert.ok(count > 0, `no run had any ${what}: ${JSON.stringify(seen)}`);
  },
);

property.run();
