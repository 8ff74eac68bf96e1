/**
 * A day of the P2P market on the simulator: a prosumer's gateway (the simulated household with PV,
 * its clock the chain's) lists 80 % of the forecast surplus of two midday hours at breakfast, a
 * consumer's gateway buys all of the first and part of the second with its HEPEK wallet, and then the day runs in 5-minute
 * steps with both gateways' market agents ticking: the seller's submits the window readings, proves
 * and settles. Both balances change by exactly the settled amounts, the market keeps nothing, and
 * the sold Wh earn no export reward while every other exported Wh does.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseUnits, type LogDescription } from 'ethers';
import { DEFAULT_EMISSION_FACTOR_MG_PER_WH, DEFAULT_EXPORT_RATE_WEI_PER_WH } from '../gateway/chain/deploy';
import { MarketAgent } from '../gateway/market/agent';
import { MarketClient } from '../gateway/market/client';
import { SimulatedHousehold, integrateGrid, HOUSEHOLD_DEFAULTS } from '../gateway/sim/household';
import { normaliseListOfferDef, parseListMessage } from '../nodes/hepek-list-offer/logic';
import { buyCriteria, normaliseMarketBuyDef, selectTakes } from '../nodes/hepek-market-buy/logic';
import { DEV_CHAIN_ID } from './helpers/chain';
import { now } from './helpers/ledger';
import { HOUR, TOLERANCE, feed, marketFixture, mineAt, type MarketFixture } from './helpers/market';

const day = suite<{ m: MarketFixture }>('e2e: a market day on the simulator');

day.before.each(async (ctx) => {
  ctx.m = await marketFixture();
});
day.after.each(async (ctx) => {
  await ctx.m.chain.close();
});

function clientOf(m: MarketFixture): MarketClient {
  return new MarketClient({
    chainId: DEV_CHAIN_ID,
    market: m.addresses.EnergyMarket!,
    token: m.addresses.ErgonToken!,
    relayer: m.relayer,
  });
}

day(
  'a prosumer lists, a consumer buys; both balances change by exactly the settled amounts',
  async ({ m }) => {
    // The next June 21 at midnight UTC: a long sunny day for the simulated PV.
    const chainNow = Number(await now(m));
    let year = new Date(chainNow * 1000).getUTCFullYear();
    while (Date.UTC(year, 5, 21) / 1000 <= chainNow + 60) year++;
    const midnight = BigInt(Date.UTC(year, 5, 21) / 1000);
    let t = midnight;
    await mineAt(m, t);

    // The prosumer's meter runs on the chain's clock (speed 1): what it counts is what the chain sees.
    const household = new SimulatedHousehold(
      { startTime: Number(t) * 1000, speed: 1 },
      { now: () => Number(t) * 1000 },
    );
    const client = clientOf(m);
    const seller = new MarketAgent({
      client,
      readings: m.addresses.MeterReadings!,
      device: m.device,
      deviceId: m.deviceId,
      counters: () => household.step(),
      relayer: m.relayer,
    });
    const consumer = m.buyers[0]!;
    const buyer = new MarketAgent({
      client,
      readings: m.addresses.MeterReadings!,
      device: consumer.key,
      deviceId: consumer.deviceId,
      counters: () => null,
      relayer: m.relayer,
    });
    // The seller's last billing reading of the night is its baseline.
    await feed(m, t + 60n, BigInt(household.step().exportWh));
    const baselineExportWh = (await m.readings.latestOf(m.deviceId)).exportWh;

    // 06:00: the day's surplus per hour from the household's model as the forecast; list 11–12 and 13–14 h.
    t = midnight + 6n * HOUR;
    await mineAt(m, t);
    const values = Array.from({ length: 24 }, (_, h) =>
      h === 11 || h === 13
        ? integrateGrid(
            Number(midnight + BigInt(h) * HOUR) * 1000,
            Number(midnight + BigInt(h + 1) * HOUR) * 1000,
            HOUSEHOLD_DEFAULTS,
          ).exportWh
        : 0,
    );
    const command = parseListMessage(
      { payload: { surplus: { startMs: Number(midnight) * 1000, stepMinutes: 60, values } } },
      normaliseListOfferDef({ priceErgonPerKWh: '0.22', sharePercent: '80', minWh: '100' }),
      { nowS: await client.chainNow(), toleranceS: TOLERANCE, ownWindows: [] },
    );
    assert.is(command.kind, 'list');
    if (command.kind !== 'list') return;
    assert.is(command.offers.length, 2, 'two sunny hours to sell');
    for (const offer of command.offers) await client.list(m.device, m.deviceId, offer);

    // 07:00: the consumer takes all of the first hour and 500 Wh of the second, at ≤ 0.25 ERGON/kWh.
    t = midnight + 7n * HOUR;
    await mineAt(m, t);
    const open = await client.openOffers();
    const criteria = buyCriteria(
      { payload: { wattHours: open[0]!.availableWh + 500 } },
      normaliseMarketBuyDef({ maxPriceErgonPerKWh: '0.25', horizonH: '12' }),
      await client.chainNow(),
    );
    const takes = selectTakes(open, criteria, consumer.key.address);
    assert.ok(takes.length === 2, `takes ${JSON.stringify(takes.map((x) => x.wattHours.toString()))}`);
    const sellerBefore = await m.token.balanceOf(m.device.address);
    const consumerBefore = await m.token.balanceOf(consumer.key.address);
    for (const take of takes)
      await client.buy(consumer.key, take.offerId, take.wattHours, criteria.maxPricePerKWh);

    // The day runs: every 5 minutes both gateways look at the chain.
    for (t = midnight + 7n * HOUR + 300n; t <= midnight + 16n * HOUR; t += 300n) {
      await mineAt(m, t);
      await seller.tick();
      await buyer.tick();
    }

    const logs = await m.chain.provider.getLogs({ address: m.addresses.EnergyMarket!, fromBlock: 0 });
    const events = logs
      .map((l) => m.energy.interface.parseLog(l))
      .filter((e): e is LogDescription => e !== null);
    const settled = events.filter((e) => e.name === 'OfferSettled');
    assert.is(settled.length, 2, 'both offers settled by the seller’s gateway');
    assert.is(events.filter((e) => e.name === 'DeliveryProven').length, 2);
    const paid = settled.reduce((a, e) => a + (e.args.paid as bigint), 0n);
    const soldWh = settled.reduce((a, e) => a + (e.args.deliveredWh as bigint), 0n);
    assert.ok(paid > 0n);
    assert.is(
      soldWh,
      takes.reduce((a, x) => a + x.wattHours, 0n),
      'the sunny hours delivered everything taken',
    );
    assert.is(
      (await m.token.balanceOf(m.device.address)) - sellerBefore,
      paid,
      'the seller got exactly the payments',
    );
    assert.is(
      consumerBefore - (await m.token.balanceOf(consumer.key.address)),
      paid,
      'the consumer paid exactly that',
    );
    assert.is(await m.token.balanceOf(m.addresses.EnergyMarket!), 0n);
    assert.is(paid, (soldWh * parseUnits('0.22', 18)) / 1000n);

    // Reward and credits: every exported Wh once — the sold ones paid by the consumer, the rest rewarded.
    const exportedWh = (await m.readings.latestOf(m.deviceId)).exportWh - baselineExportWh;
    const account = await m.readings.accountOf(m.deviceId);
    assert.is(account.accruedWei, (exportedWh - soldWh) * DEFAULT_EXPORT_RATE_WEI_PER_WH);
    assert.is(
      await m.readings.carbonOfAccount(consumer.key.address),
      soldWh * DEFAULT_EMISSION_FACTOR_MG_PER_WH,
    );
    assert.is((await m.readings.holdOf(m.deviceId)).holds, 0n);
  },
);

day.run();
