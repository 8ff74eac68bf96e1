/**
 * Channel conservation over random operation sequences (fast-check, fixed seed): two payers and one
 * hub open, top up, close, exit and withdraw in any order, with the clock moving between steps.
 * After every step:
 *  - the contract holds exactly the sum of the live deposits (as the model and channelOf say);
 *  - no ERGON appears or disappears (payers + hub + contract = what was minted);
 *  - an operation the model calls invalid reverts and moves nothing;
 * and every channel that ends pays payer + payee exactly its deposit plus top-ups, split as the
 * voucher or the concession says.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Wallet, parseEther } from 'ethers';
import { compact, readChannel, signVoucher } from '../gateway/chain/channels';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import { testKey } from './helpers/chain';
import {
  HOUR,
  balance,
  deployFixture,
  enrol,
  fundDevice,
  latestTime,
  openChannel,
  permitFor,
  setNextTime,
  type Fixture,
} from './helpers/channels';

const UNIT = parseEther('0.01');

type Op =
  | { t: 'open'; who: number; units: number }
  | { t: 'topUp'; who: number; units: number }
  | { t: 'close'; who: number; permille: number }
  | { t: 'exit'; who: number; permille: number }
  | { t: 'withdraw'; who: number }
  | { t: 'wait'; seconds: number };

// Mostly the first payer, so its channel runs through whole lives; the second keeps the contract
// holding someone else's deposit.
const who = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) });
// Weighted so that most sequences reach every state (open → exiting → matured) instead of being
// refused; refusals still happen often enough to be checked.
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('open' as const), who, units: fc.integer({ min: 1, max: 500 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('topUp' as const), who, units: fc.integer({ min: 1, max: 300 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('close' as const),
      who,
      permille: fc.integer({ min: 0, max: 1000 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('exit' as const),
      who,
      permille: fc.integer({ min: 0, max: 1000 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('withdraw' as const), who }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('wait' as const),
      seconds: fc.integer({ min: 60, max: 2 * Number(HOUR) }),
    }),
  },
);

/** How often each kind of operation took effect, over all runs: the property must not pass vacuously. */
const applied: Record<string, number> = {};

interface Model {
  channelId: bigint;
  open: boolean;
  deposit: bigint;
  exitAt: bigint | null;
  conceded: bigint;
}

async function run(ops: Op[]): Promise<void> {
  const f: Fixture = await deployFixture();
  try {
    const neighbour = new Wallet(testKey('device-2'), f.chain.provider);
    await enrol(f, deviceIdFromSerial('HEPEK-0002'), neighbour);
    await (await f.token.mint(neighbour.address, parseEther('100'))).wait();
    await fundDevice(f);
    await f.chain.provider.send('hardhat_setBalance', [neighbour.address, '0xde0b6b3a7640000']);
    const payers = [f.device, neighbour];
    const parties = [f.device.address, neighbour.address, f.hub.address, f.deployment.channels];
    const total = parseEther('200');
    const models: Model[] = payers.map(() => ({
      channelId: 0n,
      open: false,
      deposit: 0n,
      exitAt: null,
      conceded: 0n,
    }));
    let now = await latestTime(f);

    const tick = async () => {
      now += 1n;
      await setNextTime(f, now);
    };
    const balances = () => Promise.all(parties.map((p) => balance(f, p)));
    /** Sends an operation the model calls invalid: it must revert and leave every balance as it was. */
    let wasRefused = false;
    const refused = async (label: string, send: () => Promise<unknown>) => {
      wasRefused = true;
      applied[`refused:${label}`] = (applied[`refused:${label}`] ?? 0) + 1;
      const before = await balances();
      let reverted = false;
      try {
        await send();
      } catch {
        reverted = true;
      }
      assert.ok(reverted, `${label} should have been refused`);
      applied.refused = (applied.refused ?? 0) + 1;
      assert.equal(await balances(), before, `${label} moved funds`);
    };
    /** A settled channel: payer and payee together get exactly the deposit, split as expected. */
    const settled = async (i: number, send: () => Promise<unknown>, toPayee: bigint) => {
      const m = models[i];
      const [payerBefore, hubBefore] = [await balance(f, payers[i]), await balance(f, f.hub)];
      await send();
      const payerGot = (await balance(f, payers[i])) - payerBefore;
      const hubGot = (await balance(f, f.hub)) - hubBefore;
      assert.is(hubGot, toPayee, 'payee share');
      assert.is(payerGot + hubGot, m.deposit, 'payer + payee = deposit');
      Object.assign(m, { open: false, deposit: 0n, exitAt: null, conceded: 0n });
    };

    for (const op of ops) {
      if (op.t === 'wait') {
        now += BigInt(op.seconds);
        continue;
      }
      const i = op.who;
      const payer = payers[i];
      const m = models[i];
      const exiting = m.exitAt !== null;
      await tick();
      wasRefused = false;
      switch (op.t) {
        case 'open': {
          const deposit = BigInt(op.units) * UNIT;
          if (m.open) {
            await refused('open over an open channel', () =>
              openChannel(f, { payer: payer.address, deposit }, payer),
            );
            break;
          }
          m.channelId = await openChannel(f, { payer: payer.address, deposit }, payer);
          Object.assign(m, { open: true, deposit, exitAt: null, conceded: 0n });
          break;
        }
        case 'topUp': {
          const amount = BigInt(op.units) * UNIT;
          const send = async () =>
            (
              await f.channels.connect(f.hub).topUp(m.channelId, amount, await permitFor(f, amount, payer))
            ).wait();
          if (!m.open || exiting) {
            await refused('top-up of a closed or exiting channel', send);
            break;
          }
          await send();
          m.deposit += amount;
          break;
        }
        case 'close': {
          const amount = (m.deposit * BigInt(op.permille)) / 1000n;
          const send = async () => {
            const v = compact(
              await signVoucher(payer, f.deployment, { channelId: m.channelId, cumulativeAmount: amount }),
            );
            return (await f.channels.connect(f.hub).close(m.channelId, amount, v.r, v.vs)).wait();
          };
          const valid = m.open && (!exiting || (now < m.exitAt! && amount >= m.conceded));
          if (!valid) {
            await refused('close of a closed channel, after the exit or with a stale voucher', send);
            break;
          }
          await settled(i, send, amount);
          break;
        }
        case 'exit': {
          const conceded = (m.deposit * BigInt(op.permille)) / 1000n;
          const send = async () =>
            (await f.channels.connect(payer).startExit(m.channelId, f.hub.address, conceded)).wait();
          if (!m.open || exiting) {
            await refused('exit of a closed or exiting channel', send);
            break;
          }
          await send();
          Object.assign(m, { exitAt: now + HOUR, conceded });
          break;
        }
        case 'withdraw': {
          const send = async () => (await f.channels.connect(f.relayer).withdraw(m.channelId)).wait();
          if (!m.open || !exiting || now < m.exitAt!) {
            await refused('withdraw before the exit matured', send);
            break;
          }
          await settled(i, send, m.conceded);
          break;
        }
      }
      if (!wasRefused) applied[op.t] = (applied[op.t] ?? 0) + 1;
      // The contract holds exactly the live deposits, and no ERGON was created or destroyed.
      const live = models.reduce((sum, x) => sum + (x.open ? x.deposit : 0n), 0n);
      assert.is(await balance(f, f.deployment.channels), live, 'contract balance = live deposits');
      for (const x of models)
        if (x.channelId !== 0n)
          assert.is((await readChannel(f.channels, x.channelId)).deposit, x.open ? x.deposit : 0n);
      assert.is(
        (await balances()).reduce((a, b) => a + b, 0n),
        total,
        'ERGON conserved',
      );
    }
  } finally {
    await f.chain.close();
  }
}

const conservation = suite('PaymentChannels conservation (fast-check)');

conservation('random open/topUp/close/startExit/withdraw sequences conserve every deposit', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 8, maxLength: 24, size: 'max' }), run),
    // Modest and reproducible: a fixed seed, a few runs (each deploys a fresh chain).
    { numRuns: 12, seed: 20261124, endOnFailure: true },
  );
  for (const kind of ['open', 'topUp', 'close', 'exit', 'withdraw', 'refused'])
    assert.ok((applied[kind] ?? 0) > 0, `no ${kind} happened in any run: ${JSON.stringify(applied)}`);
});

conservation.run();
