/**
 * gateway/market: the client (device-signed listing and cancel, a relayed buy with signed terms and a
 * permit from a HEPEK wallet without ETH, open offers, settlement) and the agent that submits the
 * seller's window readings, proves and settles by itself, settles its own buys after the grace
 * period, cancels an expired untaken offer and never reports more export than the rated power allows.
 */
import * as assert from 'uvu/assert';
import { Wallet } from 'ethers';
import { DEV_CHAIN_ID, freshChainSuite, testKey } from './helpers/chain';
import { MODE, RATED_EXPORT_W, now, onboardDevice } from './helpers/ledger';
import {
  GRACE,
  HOUR,
  PRICE,
  TOLERANCE,
  balanceOf,
  feed,
  marketFixture,
  mineAt,
  type MarketFixture,
} from './helpers/market';
import { MarketAgent } from '../gateway/market/agent';
import { MarketClient } from '../gateway/market/client';
import { costOf } from '../gateway/market/sign';
import { rejects } from './helpers/assertions';
import { NO_PERMIT } from '../gateway/chain/channels';
import { deviceIdFromSerial } from '../gateway/chain/ids';

function clientOf(m: MarketFixture): MarketClient {
  return new MarketClient({
    chainId: DEV_CHAIN_ID,
    market: m.addresses.EnergyMarket!,
    token: m.addresses.ErgonToken!,
    relayer: m.relayer,
  });
}

/** A baseline reading (earlier billing), then `wattHours` listed in [start, start + 1 h) two hours ahead. */
async function baselineAndOffer(
  m: MarketFixture,
  c: MarketClient,
  wattHours = 1000n,
): Promise<{ offerId: bigint; start: bigint }> {
  const t0 = (await now(m)) + 10n;
  await feed(m, t0, 0n);
  const start = t0 + 2n * HOUR;
  const offerId = await c.list(m.device, m.deviceId, {
    wattHours,
    pricePerKWh: PRICE,
    deliveryStart: start,
    deliveryEnd: start + HOUR,
  });
  return { offerId, start };
}

/** A meter whose counters the test moves. */
function meter(exportWh = 0) {
  const state = { importWh: 0, exportWh };
  return { state, counters: () => ({ ...state }) };
}

function agentFor(
  m: MarketFixture,
  device: Wallet,
  deviceId: string,
  counters: () => { importWh: number; exportWh: number },
) {
  const lines: string[] = [];
  const agent = new MarketAgent({
    client: clientOf(m),
    readings: m.addresses.MeterReadings!,
    device,
    deviceId,
    counters,
    relayer: m.relayer,
    log: (line) => lines.push(line),
  });
  return { agent, lines };
}

const client = freshChainSuite('market client', 'm', marketFixture);

client(
  'a device-signed listing, open offers, a relayed buy from a wallet without ETH, settlement',
  async ({ m }) => {
    const c = clientOf(m);
    const start = (await now(m)) + 2n * HOUR;
    const offerId = await c.list(m.device, m.deviceId, {
      wattHours: 800n,
      pricePerKWh: PRICE,
      deliveryStart: start,
      deliveryEnd: start + HOUR,
    });
    assert.is(offerId, 1n);
    const open = await c.openOffers();
    assert.equal(
      open.map((o) => [o.offerId, o.availableWh, o.pricePerKWh]),
      [[1, 800, PRICE.toString()]],
    );
    // A buyer's HEPEK wallet with ERGON but no ETH: the relayer pays the gas.
    const buyer = new Wallet(testKey('eth-less-buyer'), m.chain.provider);
    await onboardDevice(m, {
      deviceId: deviceIdFromSerial('HEPEK-ETHLESS'),
      key: buyer,
      member: m.other,
      mode: MODE.consumer,
    });
    await (await m.token.mint(buyer.address, 10n ** 18n)).wait();
    assert.is(await m.chain.provider.getBalance(buyer.address), 0n);
    await rejects(c.buy(buyer, offerId, 100n, PRICE - 1n), /pricePerKWh: .* at most the limit/);
    await rejects(c.buy(buyer, offerId, 801n), /wattHours: 801n is not allowed; expected 1 to 800 Wh/);
    const { escrow } = await c.buy(buyer, offerId, 500n, PRICE);
    assert.is(escrow, costOf(500n, PRICE));
    assert.is((await c.offer(offerId)).availableWh, 300);
    await rejects(c.buy(m.buyers[0]!.key, offerId, 301n), /wattHours/);
    await rejects(c.offer(9n), /offerId: 9n is not allowed; expected an offer id from 1 to 1/);
    // No proof: after the grace period the buyer is refunded in full.
    await mineAt(m, start + HOUR + GRACE + 1n);
    assert.equal(await c.openOffers(), []);
    const settled = await c.settle(offerId);
    assert.equal(settled, [
      { offerId: 1, buyerWallet: buyer.address, deliveredWh: 0, paid: '0', refunded: escrow.toString() },
    ]);
    assert.is(await balanceOf(m, buyer.address), 10n ** 18n);
    await c.cancel(m.device, m.deviceId, offerId);
    assert.is((await c.offer(offerId)).wattHours, 500);
  },
);

client('a refused transaction names the contract error', async ({ m }) => {
  const c = clientOf(m);
  const start = (await now(m)) + 60n;
  await rejects(
    c.list(m.device, m.deviceId, {
      wattHours: 1n,
      pricePerKWh: PRICE,
      deliveryStart: start,
      deliveryEnd: start + 60n,
    }),
    /market: "MarketStartTooSoon\(/,
  );
});

client.run();

// -----------------------------------------------------------------------------------------------

const agent = freshChainSuite('market agent', 'm', marketFixture);

agent('the seller’s gateway submits the window readings, proves and settles by itself', async ({ m }) => {
  const c = clientOf(m);
  const seller = meter(0);
  const { agent: a, lines } = agentFor(m, m.device, m.deviceId, seller.counters);
  const { offerId, start } = await baselineAndOffer(m, c);
  await (await m.token.connect(m.buyers[0]!.key).approve(m.addresses.EnergyMarket!, 2n ** 200n)).wait();
  await (
    await m.energy.connect(m.buyers[0]!.key).buy(offerId, 600n, m.buyers[0]!.key.address, PRICE, NO_PERMIT)
  ).wait();

  // Nothing to do before the window's tolerance band.
  await mineAt(m, start - TOLERANCE - 60n);
  assert.equal((await a.tick()).readings, []);
  // Inside the band before the start: the start reading.
  seller.state.exportWh = 100;
  await mineAt(m, start - 300n);
  const first = await a.tick();
  assert.equal(first.readings, [m.seq]);
  // In the window: nothing; after the end: the end reading and the proof in one tick.
  await mineAt(m, start + 1800n);
  assert.equal((await a.tick()).readings, []);
  seller.state.exportWh = 900;
  await mineAt(m, start + HOUR + 30n);
  const second = await a.tick();
  assert.is(second.readings.length, 1);
  assert.equal(second.proven, [offerId]);
  const offer = await c.offer(offerId);
  assert.is(offer.deliveredWh, 600, 'min(800 Wh exported, 600 Wh taken)');
  const sellerBefore = await balanceOf(m, m.device.address);
  const third = await a.tick();
  assert.equal(third.settled, [{ offerId, buyer: m.buyers[0]!.key.address }]);
  assert.is((await balanceOf(m, m.device.address)) - sellerBefore, costOf(600n, PRICE));
  assert.equal(
    await a.tick(),
    { readings: [], proven: [], settled: [], cancelled: [] },
    'nothing left to do',
  );
  assert.ok(
    lines.some((l) => /proved offer 1/.test(l)),
    lines.join('\n'),
  );
});

agent(
  'a buyer’s gateway settles its position after the grace period when the seller never proves',
  async ({ m }) => {
    const c = clientOf(m);
    const start = (await now(m)) + 2n * HOUR;
    const offerId = await c.list(m.device, m.deviceId, {
      wattHours: 1000n,
      pricePerKWh: PRICE,
      deliveryStart: start,
      deliveryEnd: start + HOUR,
    });
    const buyer = m.buyers[1]!;
    await c.buy(buyer.key, offerId, 400n);
    const before = await balanceOf(m, buyer.key.address);
    const { agent: a } = agentFor(m, buyer.key, buyer.deviceId, meter(0).counters);
    await mineAt(m, start + HOUR + 10n);
    assert.equal((await a.tick()).settled, [], 'not before the grace period');
    await mineAt(m, start + HOUR + GRACE + 1n);
    assert.equal((await a.tick()).settled, [{ offerId, buyer: buyer.key.address }]);
    assert.is((await balanceOf(m, buyer.key.address)) - before, costOf(400n, PRICE));
  },
);

agent(
  'after a restart mid-window the agent finds its start reading on chain and still proves',
  async ({ m }) => {
    const c = clientOf(m);
    const seller = meter(0);
    const { offerId, start } = await baselineAndOffer(m, c);
    await c.buy(m.buyers[0]!.key, offerId, 500n);
    const before = agentFor(m, m.device, m.deviceId, seller.counters);
    seller.state.exportWh = 100;
    await mineAt(m, start - 300n);
    const [startSeq] = (await before.agent.tick()).readings;
    assert.ok(startSeq !== undefined, 'the start reading');

    // The gateway restarts in the window: a new agent with no memory of the offer.
    const after = agentFor(m, m.device, m.deviceId, seller.counters);
    await mineAt(m, start + 1200n);
    assert.equal((await after.agent.tick()).readings, [], 'no second start reading');
    seller.state.exportWh = 700;
    await mineAt(m, start + HOUR + 20n);
    const report = await after.agent.tick();
    assert.equal(report.proven, [offerId], after.lines.join('\n'));
    assert.ok(
      after.lines.some((l) => l.includes(`readings ${startSeq}..`)),
      after.lines.join('\n'),
    );
    assert.is((await c.offer(offerId)).deliveredWh, 500);
  },
);

agent('a reading the payer already sent in a band serves as the window reading', async ({ m }) => {
  const c = clientOf(m);
  const seller = meter(0);
  const { agent: a } = agentFor(m, m.device, m.deviceId, seller.counters);
  const { offerId, start } = await baselineAndOffer(m, c);
  await c.buy(m.buyers[0]!.key, offerId, 300n);
  // The payer's billing readings land in both bands (fed as the hub relays them).
  const startSeq = await feed(m, start - 120n, 50n);
  await mineAt(m, start - 60n);
  assert.equal((await a.tick()).readings, [], 'the payer’s reading is the start reading');
  const endSeq = await feed(m, start + HOUR + 10n, 600n);
  await mineAt(m, start + HOUR + 30n);
  const report = await a.tick();
  assert.equal(report.readings, [], 'and the end reading');
  assert.equal(report.proven, [offerId]);
  const proof = await m.energy.queryFilter(m.energy.filters.DeliveryProven(offerId));
  assert.is(proof[0]!.args.deliveredWh, 300n);
  assert.equal(
    [proof[0]!.args.startSeq, proof[0]!.args.endSeq],
    [startSeq, endSeq],
    'proved with the payer’s readings',
  );
});

agent('an expired untaken offer is cancelled, ending its export hold', async ({ m }) => {
  const c = clientOf(m);
  const start = (await now(m)) + 2n * HOUR;
  const offerId = await c.list(m.device, m.deviceId, {
    wattHours: 500n,
    pricePerKWh: PRICE,
    deliveryStart: start,
    deliveryEnd: start + HOUR,
  });
  const { agent: a } = agentFor(m, m.device, m.deviceId, meter(0).counters);
  assert.equal((await a.tick()).cancelled, []);
  await mineAt(m, start);
  assert.equal((await a.tick()).cancelled, [offerId]);
  assert.is((await m.readings.holdOf(m.deviceId)).holds, 0n);
});

agent('a reading never claims more export than the rated power allows since the last one', async ({ m }) => {
  const c = clientOf(m);
  const { offerId, start } = await baselineAndOffer(m, c, 500n);
  await c.buy(m.buyers[0]!.key, offerId, 500n);
  // An accelerated simulator is far ahead of the chain clock.
  const fast = meter(1_000_000);
  const { agent: a } = agentFor(m, m.device, m.deviceId, fast.counters);
  await mineAt(m, start - 60n);
  const [seq] = (await a.tick()).readings;
  const cp = await m.readings.checkpointOf(m.deviceId, seq!);
  // Since the baseline reading, which baselineAndOffer takes two hours before the window.
  const elapsed = BigInt(cp.timestamp) - (start - 2n * HOUR);
  assert.is(cp.exportWh, (BigInt(RATED_EXPORT_W) * elapsed) / 3600n);
});

agent.run();
