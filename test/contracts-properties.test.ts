/**
 * Invariants over random operation sequences (fast-check), each run on a fresh snapshot of one
 * deployed ledger so a run costs a revert, not a redeployment:
 * - ERGON supply = minted − burned, and equals the sum of balances;
 * - rewards never exceed rated power × time, and no exported Wh is rewarded twice (or both rewarded
 *   and sold); the contract accepts exactly the readings a reference model of DESIGN.md §2 accepts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Wallet, id, toBeHex } from 'ethers';
import { DEFAULT_EMISSION_FACTOR_MG_PER_WH, DEFAULT_EXPORT_RATE_WEI_PER_WH } from '../gateway/chain/deploy';
import { signReceipt } from '../gateway/chain/eip712';
import { DEV_CHAIN_ID, testKey } from './helpers/chain';
import {
  RATED_EXPORT_W,
  ledgerFixture,
  now,
  onboardDevice,
  reading,
  sign,
  type Ledger,
} from './helpers/ledger';

const RUNS = 50;
const SEED = 20261124;

const s = suite<{ l: Ledger; snapshot: string }>('ledger invariants', {} as never);

s.before(async (ctx) => {
  ctx.l = await ledgerFixture();
  await onboardDevice(ctx.l);
});

s.after(async (ctx) => {
  await ctx.l.chain.close();
});

/** Runs `body` on the chain state as it was before the first run. */
async function fresh<T>(l: Ledger, snapshot: { id: string | null }, body: () => Promise<T>): Promise<T> {
  if (snapshot.id !== null) await l.chain.provider.send('evm_revert', [snapshot.id]);
  snapshot.id = (await l.chain.provider.send('evm_snapshot', [])) as string;
  return body();
}

/** Sends a transaction; a revert is part of a random sequence, so it only reports false. */
async function tries(send: () => Promise<{ wait(): Promise<unknown> }>): Promise<boolean> {
  try {
    await (await send()).wait();
    return true;
  } catch {
    return false;
  }
}

type TokenOp =
  | { kind: 'buy'; to: number; amount: bigint }
  | { kind: 'transfer'; from: number; to: number; amount: bigint }
  | { kind: 'burn'; from: number; amount: bigint };

const holder = fc.integer({ min: 0, max: 2 });
const amount = fc.bigInt({ min: 0n, max: 1000n });
const tokenOp: fc.Arbitrary<TokenOp> = fc.oneof(
  fc.record({ kind: fc.constant('buy' as const), to: holder, amount }),
  fc.record({ kind: fc.constant('transfer' as const), from: holder, to: holder, amount }),
  fc.record({ kind: fc.constant('burn' as const), from: holder, amount }),
);

s('ERGON supply = minted − burned = sum of balances', async ({ l }) => {
  const holders = [l.member, l.other, l.relayer];
  const snapshot = { id: null as string | null };
  let payment = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(tokenOp, { minLength: 1, maxLength: 6 }), (ops) =>
      fresh(l, snapshot, async () => {
        let minted = 0n;
        let burned = 0n;
        for (const op of ops) {
          if (op.kind === 'buy') {
            const receipt = {
              paymentId: id(`pay-${payment++}`),
              hepekWallet: holders[op.to]!.address,
              amount: op.amount,
            };
            const signature = await signReceipt(
              l.operator,
              { chainId: DEV_CHAIN_ID, verifyingContract: l.addresses.Purchase! },
              receipt,
            );
            if (
              await tries(() =>
                l.purchase.redeem(receipt.paymentId, receipt.hepekWallet, receipt.amount, signature),
              )
            )
              minted += op.amount;
          } else if (op.kind === 'transfer') {
            await tries(() =>
              l.token.connect(holders[op.from]!).transfer(holders[op.to]!.address, op.amount),
            );
          } else if (await tries(() => l.token.connect(holders[op.from]!).burn(op.amount))) {
            burned += op.amount;
          }
        }
        const supply = await l.token.totalSupply();
        assert.is(supply, minted - burned);
        let sum = 0n;
        for (const h of holders) sum += await l.token.balanceOf(h.address);
        assert.is(sum, supply);
      }),
    ),
    { numRuns: RUNS, seed: SEED },
  );
});

interface Point {
  seq: bigint;
  t: bigint;
  imp: bigint;
  exp: bigint;
}

interface Step {
  dt: number;
  dSeq: number;
  dImport: number;
  /** Export delta as a share of what the rated power allows in dt, in % (above 100 is too much). */
  exportPct: number;
  forged: boolean;
}

const step: fc.Arbitrary<Step> = fc.record({
  dt: fc.integer({ min: 0, max: 1800 }),
  dSeq: fc.integer({ min: -1, max: 3 }),
  dImport: fc.integer({ min: -5, max: 200 }),
  exportPct: fc.integer({ min: 0, max: 120 }),
  forged: fc.integer({ min: 0, max: 9 }).map((x) => x === 0),
});

s(
  'rewards never exceed rated power × time; no Wh is rewarded twice or both rewarded and sold',
  async ({ l }) => {
    const snapshot = { id: null as string | null };
    const forger = new Wallet(testKey('forger'));
    const RATE = DEFAULT_EXPORT_RATE_WEI_PER_WH;
    const FACTOR = DEFAULT_EMISSION_FACTOR_MG_PER_WH;
    const buyer = l.other.address;
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 12 }),
        fc.bigInt({ min: 0n, max: 3000n }),
        (steps, soldWh) =>
          fresh(l, snapshot, async () => {
            if (soldWh > 0n)
              await (await l.readings.connect(l.market).markSold(l.deviceId, soldWh, buyer)).wait();
            const t0 = (await now(l)) + 5n;
            // The reference model: the last accepted reading, as DESIGN.md §2 states the rules.
            let last = null as Point | null;
            let first = null as Point | null;
            let cursor = { seq: 10n, t: t0, imp: 1000n, exp: 1000n };
            const entries = [];
            const expected: boolean[] = [];
            for (const st of steps) {
              const t = cursor.t + BigInt(st.dt);
              const maxWh = (BigInt(RATED_EXPORT_W) * BigInt(st.dt)) / 3600n;
              const exp = cursor.exp + (maxWh * BigInt(st.exportPct)) / 100n + (st.exportPct > 100 ? 1n : 0n);
              const next = {
                seq: cursor.seq + BigInt(st.dSeq),
                t,
                imp: cursor.imp + BigInt(st.dImport),
                exp,
              };
              if (next.seq < 0n || next.imp < 0n) continue;
              entries.push(
                await sign(
                  l,
                  reading(l, { seq: next.seq, timestamp: next.t, importWh: next.imp, exportWh: next.exp }),
                  st.forged ? forger : l.device,
                ),
              );
              let ok = !st.forged;
              if (ok && last !== null) {
                ok =
                  next.seq > last.seq &&
                  next.t > last.t &&
                  next.imp >= last.imp &&
                  next.exp >= last.exp &&
                  (next.exp - last.exp) * 3600n <= BigInt(RATED_EXPORT_W) * (next.t - last.t);
              }
              expected.push(ok);
              if (ok) {
                last = next;
                if (first === null) first = next as Point;
              }
              cursor = next;
            }
            if (entries.length === 0) return;
            await l.chain.provider.send('evm_setNextBlockTimestamp', [
              toBeHex(cursor.t > t0 ? cursor.t : t0),
            ]);
            const receipt = (await (await l.readings.connect(l.relayer).submitReadings(entries)).wait())!;
            const accepted = receipt.logs.map(
              (log) => l.readings.interface.parseLog(log)!.name === 'ReadingAccepted',
            );
            assert.equal(accepted, expected, 'the contract accepts exactly what the model accepts');

            const account = await l.readings.accountOf(l.deviceId);
            const exported = last && first ? last.exp - first.exp : 0n;
            const rewardedWh = account.accruedWei / RATE;
            const soldSettledWh = (await l.readings.carbonOfAccount(buyer)) / FACTOR;
            assert.is(account.accruedWei % RATE, 0n);
            assert.is(rewardedWh + soldSettledWh, exported, 'every exported Wh is rewarded or sold, once');
            assert.is(soldSettledWh, exported < soldWh ? exported : soldWh, 'sold Wh settle first');
            assert.is(account.carbonMg, rewardedWh * FACTOR);
            if (last && first)
              assert.ok(
                rewardedWh * 3600n <= BigInt(RATED_EXPORT_W) * (last.t - first.t),
                'within rated power × time',
              );
          }),
      ),
      { numRuns: RUNS, seed: SEED },
    );
  },
);

s.run();
