/**
 * The ledger journal behind the Grafana "ERGON flows" and "Price vs forecast" panels: cumulative
 * totals per flow that survive a restart, a ref counted once, refusals that name the field, and
 * the InfluxDB points the writer builds from its entries.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseEther } from 'ethers';
import { InputError } from '../gateway/errors';
import { LedgerJournal } from '../gateway/store/ledger';
import { entryToPoint, weiToErgon, type JournalEntry } from '../gateway/store/measurements';
import { removeDir, tempDir } from './helpers/gateway';

const s = suite<{ dir: string }>('ledger journal');
s.before.each((ctx) => {
  ctx.dir = tempDir('ledger');
});
s.after.each((ctx) => removeDir(ctx.dir));

const T0 = new Date('2026-07-01T10:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

s('totals accumulate per flow, survive a reopen, and a ref is counted once', async ({ dir }) => {
  let ledger = await LedgerJournal.open({ dir });
  await ledger.addErgon('paid', parseEther('0.25'), at(15), 'voucher-1-1');
  await ledger.addErgon('paid', parseEther('0.5'), at(30), 'voucher-1-2');
  await ledger.addErgon('purchased', parseEther('25.5'), at(31), 'pay_001');
  await ledger.addErgon('purchased', parseEther('25.5'), at(32), 'pay_001');
  await ledger.recordPrice(at(30), { priceErgonPerKWh: 0.31, forecastErgonPerKWh: 0.29 });
  await ledger.addErgon('reward', 1n, at(45));
  assert.equal(ledger.totals(), {
    paidErgon: 0.75,
    rewardErgon: 1e-18,
    marketErgon: 0,
    purchasedErgon: 25.5,
    wei: {
      paid: parseEther('0.75').toString(),
      reward: '1',
      market: '0',
      purchased: parseEther('25.5').toString(),
    },
  });
  await ledger.close();

  ledger = await LedgerJournal.open({ dir });
  assert.is(ledger.totals().wei.paid, parseEther('0.75').toString(), 'totals come back from disk');
  await ledger.addErgon('purchased', parseEther('25.5'), at(60), 'pay_001');
  await ledger.addErgon('paid', parseEther('0.75'), at(60), 'voucher-1-2');
  assert.is(ledger.totals().purchasedErgon, 25.5, 'a payment id seen before a restart is not counted again');
  assert.is(ledger.totals().paidErgon, 0.75);
  await ledger.addErgon('market', parseEther('1.2'), at(61), 'offer-7');
  const records = await ledger.journal.read(1, 100);
  assert.equal(
    records.map((r) => r.data.kind),
    ['ergon', 'ergon', 'ergon', 'price', 'ergon', 'ergon'],
  );
  await ledger.close();
});

s('concurrent records are serialised: totals in consecutive entries never go backwards', async ({ dir }) => {
  const ledger = await LedgerJournal.open({ dir });
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      ledger.addErgon(i % 2 ? 'paid' : 'reward', BigInt(i + 1), at(i), `r${i}`),
    ),
  );
  const records = await ledger.journal.read(1, 100);
  assert.is(records.length, 50);
  let previous = { paid: 0n, reward: 0n };
  for (const r of records) {
    if (r.data.kind !== 'ergon') throw new Error('not an ergon entry');
    const now = { paid: BigInt(r.data.totalsWei.paid), reward: BigInt(r.data.totalsWei.reward) };
    assert.ok(now.paid >= previous.paid && now.reward >= previous.reward, `seq ${r.seq}`);
    assert.is(
      now.paid + now.reward - previous.paid - previous.reward,
      BigInt(r.data.deltaWei),
      'each entry moves the totals by its delta',
    );
    previous = now;
  }
  assert.is(previous.paid + previous.reward, BigInt((50 * 51) / 2));
  await ledger.close();
});

s('bad input is refused naming the field and the value, and records nothing', async ({ dir }) => {
  const ledger = await LedgerJournal.open({ dir });
  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      assert.instance(err, InputError);
      return (err as Error).message;
    }
    return 'accepted';
  };
  assert.match(
    refusal(() => ledger.addErgon('tip' as never, 1n, T0)),
    'flow: "tip" is not allowed; expected one of "paid", "reward", "market", "purchased"',
  );
  assert.match(
    refusal(() => ledger.addErgon('paid', -1n, T0)),
    /deltaWei: .*-1.* a bigint of ERGON base units ≥ 0/,
  );
  assert.match(
    refusal(() => ledger.addErgon('paid', 1n, new Date('nope'))),
    /at: .* a valid Date/,
  );
  assert.match(
    refusal(() => ledger.recordPrice(T0, { priceErgonPerKWh: Number.NaN })),
    /priceErgonPerKWh: NaN is not allowed; expected a finite number/,
  );
  assert.match(
    refusal(() => ledger.recordPrice(T0, {})),
    /prices: \{\} .* at least one of/,
  );
  assert.is(ledger.journal.lastSeq, 0);
  await ledger.close();
});

s('entries become hepek_ergon and hepek_price points in ERGON', () => {
  const ergon: JournalEntry = {
    kind: 'ergon',
    timestamp: '2026-07-01T10:15:00.000Z',
    flow: 'paid',
    deltaWei: '250000000000000000',
    totalsWei: { paid: '1250000000000000000', reward: '0', market: '3', purchased: '25500000000000000000' },
  };
  assert.equal(entryToPoint(ergon, 7, 'HPK-1'), {
    measurement: 'hepek_ergon',
    tags: { serial: 'HPK-1' },
    fields: { paidErgon: 1.25, rewardErgon: 0, marketErgon: 3e-18, purchasedErgon: 25.5 },
    timestamp: new Date('2026-07-01T10:15:00.000Z'),
  });
  assert.equal(
    entryToPoint({ kind: 'price', timestamp: '2026-07-01T10:00:00Z', forecastErgonPerKWh: 0.29 }, 8, 'HPK-1'),
    {
      measurement: 'hepek_price',
      tags: { serial: 'HPK-1' },
      fields: { forecastErgonPerKWh: 0.29 },
      timestamp: new Date('2026-07-01T10:00:00Z'),
    },
  );
  assert.is(entryToPoint({ kind: 'price', timestamp: '2026-07-01T10:00:00Z' }, 9, 'HPK-1'), null);
  assert.is(entryToPoint({ ...ergon, timestamp: 'yesterday' }, 9, 'HPK-1'), null);
  assert.is(entryToPoint({ ...ergon, totalsWei: { ...ergon.totalsWei, paid: '-1' } }, 9, 'HPK-1'), null);
  assert.is(weiToErgon('123456789000000000000000'), 123456.789);
});

s.run();
