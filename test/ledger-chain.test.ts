/**
 * The ledger's on-chain flows against the real contracts: a claimed export reward and a settled
 * market sale of this device's offer are recorded once each (also when read again after a
 * restart), a sale of another device's offer and a refund are not, and the first start begins at
 * the chain's head.
 */
import * as assert from 'uvu/assert';
import path from 'node:path';
import { costOf } from '../gateway/market/sign';
import { LedgerJournal } from '../gateway/store/ledger';
import { watchLedgerFlows } from '../gateway/store/ledger-chain';
import { freshChainSuite } from './helpers/chain';
import { removeDir, tempDir } from './helpers/gateway';
import { setNextTimestamp } from './helpers/ledger';
import {
  HOUR,
  PRICE,
  feed,
  listOffer,
  marketFixture,
  take,
  terms,
  type MarketFixture,
} from './helpers/market';

const s = freshChainSuite('ledger flows from chain events', 'm', marketFixture);
let dir = '';
s.before.each(() => {
  dir = tempDir('ledger-chain');
});
s.after.each(() => removeDir(dir));

function watcher(m: MarketFixture, ledger: LedgerJournal) {
  return watchLedgerFlows({
    provider: m.chain.provider,
    deviceId: m.deviceId,
    meterReadings: m.addresses.MeterReadings!,
    energyMarket: m.addresses.EnergyMarket!,
    ledger,
    cursorFile: path.join(dir, 'cursor.json'),
    chunkBlocks: 3,
  });
}

s('a settled sale of our offer and a claimed reward are recorded once each', async ({ m }) => {
  let ledger = await LedgerJournal.open({ dir: path.join(dir, 'ledger') });
  let w = watcher(m, ledger);
  await w.poll();
  const head = await m.chain.provider.getBlockNumber();
  assert.is(w.lastBlock, head, 'the first start begins at the head');

  // 1000 Wh offered; buyer 0 takes 400 Wh; 1300 Wh exported in and around the window.
  const t0 = (await m.chain.provider.getBlock('latest'))!.timestamp + 10;
  await feed(m, BigInt(t0), 0n);
  const start = BigInt(t0) + 2n * HOUR;
  const offerId = await listOffer(m, terms(m, start));
  await take(m, 0, offerId, 400n);
  const startSeq = await feed(m, start, 0n);
  let endSeq = startSeq;
  for (let q = 1n; q <= 4n; q++) endSeq = await feed(m, start + q * 900n, q * 200n);
  await feed(m, start + HOUR + 900n, 1300n);
  await setNextTimestamp(m, start + HOUR + 901n);
  await (await m.energy.proveDelivery(offerId, startSeq, endSeq)).wait();
  await (await m.energy.settle(offerId, m.buyers[0]!.key.address)).wait();
  const account = await m.readings.accountOf(m.deviceId);
  await (await m.readings.connect(m.member).claimRewards(m.deviceId)).wait();

  await w.poll();
  const paid = costOf(400n, PRICE);
  assert.equal(
    [ledger.totals().wei.market, ledger.totals().wei.reward],
    [paid.toString(), account.accruedWei.toString()],
  );
  await ledger.close();

  // A restart that lost its cursor reads the same blocks again: nothing is counted twice.
  removeDir(path.join(dir, 'cursor.json'));
  ledger = await LedgerJournal.open({ dir: path.join(dir, 'ledger') });
  w = watchLedgerFlows({
    provider: m.chain.provider,
    deviceId: m.deviceId,
    meterReadings: m.addresses.MeterReadings!,
    energyMarket: m.addresses.EnergyMarket!,
    ledger,
    cursorFile: path.join(dir, 'cursor.json'),
  });
  await import('node:fs').then((fs) =>
    fs.writeFileSync(path.join(dir, 'cursor.json'), JSON.stringify({ block: head })),
  );
  await w.poll();
  assert.is(ledger.totals().wei.market, paid.toString());
  assert.is(ledger.totals().wei.reward, account.accruedWei.toString());
  const entries = (await ledger.journal.read(1, 100)).map((r) => r.data);
  assert.equal(
    entries.map((e) => (e.kind === 'ergon' ? e.flow : e.kind)),
    ['market', 'reward'],
  );
  await ledger.close();
});

s('another device’s sale is not ours; an RPC error leaves the cursor where it was', async ({ m }) => {
  const ledger = await LedgerJournal.open({ dir: path.join(dir, 'ledger') });
  const w = watchLedgerFlows({
    provider: m.chain.provider,
    deviceId: m.buyers[1]!.deviceId,
    energyMarket: m.addresses.EnergyMarket!,
    ledger,
    cursorFile: path.join(dir, 'cursor.json'),
  });
  await w.poll();
  const before = w.lastBlock;
  const t0 = (await m.chain.provider.getBlock('latest'))!.timestamp + 10;
  await feed(m, BigInt(t0), 0n);
  const start = BigInt(t0) + 2n * HOUR;
  const offerId = await listOffer(m, terms(m, start));
  await take(m, 0, offerId, 400n);
  const startSeq = await feed(m, start, 0n);
  const endSeq = await feed(m, start + HOUR, 800n);
  await setNextTimestamp(m, start + HOUR + 10n);
  await (await m.energy.proveDelivery(offerId, startSeq, endSeq)).wait();
  await (await m.energy.settle(offerId, m.buyers[0]!.key.address)).wait();
  await w.poll();
  assert.ok(w.lastBlock > before);
  assert.is(ledger.totals().wei.market, '0', "a sale of the seller's offer is not buyer 1's");

  const down = watchLedgerFlows({
    provider: {
      getBlockNumber: () => Promise.reject(new Error('connect ECONNREFUSED')),
    } as never,
    deviceId: m.deviceId,
    ledger,
    cursorFile: path.join(dir, 'cursor.json'),
  });
  let failed = false;
  await down.poll().catch(() => (failed = true));
  assert.ok(failed, 'the outage is reported to the caller');
  assert.is(down.lastBlock, w.lastBlock, 'the cursor stays');
  await ledger.close();
});

s.run();
