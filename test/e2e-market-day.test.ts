/**
 * A market day on the simulator: a prosumer's simulated household (PV on a July day) lists 1000 Wh
 * for 11:00–12:00 in the morning, a consumer's HEPEK wallet (no ETH: relayed buy with signed terms
 * and a permit) takes 600 Wh, and the seller's gateway agent submits the window readings from the
 * household's own counters, proves delivery and settles. Both balances change by exactly the
 * settled amount, and the carbon credits of the 600 Wh go to the buyer.
 */
import * as assert from 'uvu/assert';
import { MarketAgent } from '../gateway/market/agent';
import { MarketClient } from '../gateway/market/client';
import { costOf } from '../gateway/market/sign';
import { SimulatedHome } from '../gateway/sim/home';
import { DEV_CHAIN_ID, freshChainSuite } from './helpers/chain';
import { PRICE, balanceOf, feed, marketFixture, mineAt } from './helpers/market';

const day = freshChainSuite('market day on the simulator', 'm', marketFixture);

day('a prosumer lists, a consumer buys, both balances move by exactly the settled amount', async ({ m }) => {
  const morning = BigInt(Date.UTC(2027, 6, 1, 5) / 1000); // 05:00 UTC, 1 July
  const home = new SimulatedHome(
    { startTime: Number(morning) * 1000, seed: 11, latitudeDeg: 48 },
    { now: () => 0 },
  );
  const counters = () => {
    const r = home.advance(0);
    return { importWh: Math.floor(r.importWh), exportWh: Math.floor(r.exportWh) };
  };
  const client = new MarketClient({
    chainId: DEV_CHAIN_ID,
    market: m.addresses.EnergyMarket!,
    token: m.addresses.ErgonToken!,
    relayer: m.relayer,
  });
  const lines: string[] = [];
  const agent = new MarketAgent({
    client,
    readings: m.addresses.MeterReadings!,
    device: m.device,
    deviceId: m.deviceId,
    counters,
    relayer: m.relayer,
    log: (line) => lines.push(line),
  });

  // 05:00: the household's first signed reading (what billing sends), the listing and the buy.
  await feed(m, morning, BigInt(counters().exportWh));
  const start = morning + 6n * 3600n;
  const offerId = await client.list(m.device, m.deviceId, {
    wattHours: 1000n,
    pricePerKWh: PRICE,
    deliveryStart: start,
    deliveryEnd: start + 3600n,
  });
  const buyer = m.buyers[0]!.key;
  const buyerBefore = await balanceOf(m, buyer.address);
  const sellerBefore = await balanceOf(m, m.device.address);
  const { escrow } = await client.buy(buyer, offerId, 600n, PRICE);
  assert.is(escrow, costOf(600n, PRICE));

  // The day runs in 15-minute ticks on the household's clock; the chain follows it.
  let exportAtStart = -1;
  let exportAtEnd = -1;
  for (let t = morning + 900n; t <= start + 3600n + 3n * 900n; t += 900n) {
    home.advance(900);
    await mineAt(m, t);
    const report = await agent.tick();
    if (report.readings.length > 0 && exportAtStart < 0) exportAtStart = counters().exportWh;
    else if (report.readings.length > 0) exportAtEnd = counters().exportWh;
  }
  assert.ok(exportAtStart >= 0 && exportAtEnd > exportAtStart, lines.join('\n'));
  const exported = exportAtEnd - exportAtStart;
  assert.ok(exported >= 600, `the household exported ${exported} Wh around noon`);
  const offer = await client.offer(offerId);
  assert.is(offer.deliveredWh, 600, 'min(export in the window, Wh taken)');

  const paid = costOf(600n, PRICE);
  assert.is(
    (await balanceOf(m, buyer.address)) - buyerBefore,
    -paid,
    'the buyer paid exactly the settled amount',
  );
  assert.is((await balanceOf(m, m.device.address)) - sellerBefore, paid, 'the seller received it');
  assert.is(await m.readings.carbonOfAccount(buyer.address), 600n * (await m.readings.emissionFactor()));
});

day.run();
