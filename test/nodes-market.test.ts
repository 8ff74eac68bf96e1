/**
 * hepek-list-offer and hepek-market-buy: their pure logic (forecast → offers, price limit and window
 * → takes) and the nodes through node-red-node-test-helper against a real EnergyMarket on the
 * in-process chain, and the example flows market-seller.json and market-buyer.json deployed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type Wallet, parseUnits } from 'ethers';
import { registerGateway } from '../gateway/context';
import { MarketAgent } from '../gateway/market/agent';
import { MarketClient, type OfferView } from '../gateway/market/client';
import type { GatewayMarket } from '../gateway/market';
import hepekConfig from '../nodes/hepek-config/hepek-config';
import hepekListOffer from '../nodes/hepek-list-offer/hepek-list-offer';
import hepekMarketBuy from '../nodes/hepek-market-buy/hepek-market-buy';
import hepekPriceForecast from '../nodes/hepek-price-forecast/hepek-price-forecast';
import { normaliseListOfferDef, parseListMessage } from '../nodes/hepek-list-offer/logic';
import { buyCriteria, normaliseMarketBuyDef, selectTakes } from '../nodes/hepek-market-buy/logic';
import { DEV_CHAIN_ID } from './helpers/chain';
import { fakeGateway } from './helpers/fake-gateway';
import { now } from './helpers/ledger';
import { HOUR, marketFixture, type MarketFixture } from './helpers/market';
import {
  AT,
  CATCH,
  CAUGHT,
  CONFIG,
  OUT,
  TAB,
  coreNode,
  helper,
  loggedErrors,
  nextMessage,
} from './helpers/node-red';

const ERGON = 10n ** 18n;
const NODES = [hepekConfig, hepekListOffer, hepekMarketBuy];

function node(id: string, type: string, extra: Record<string, unknown> = {}) {
  return { id, type, z: 'f1', ...AT, config: 'cfg', configVersion: 1, ...extra, wires: [['out']] };
}

/** The gateway handle the nodes use, as `device` on the fixture's chain. */
function marketAs(m: MarketFixture, device: Wallet, deviceId: string): GatewayMarket {
  const client = new MarketClient({
    chainId: DEV_CHAIN_ID,
    market: m.addresses.EnergyMarket!,
    token: m.addresses.ErgonToken!,
    relayer: m.relayer,
  });
  const agent = new MarketAgent({
    client,
    readings: m.addresses.MeterReadings!,
    device,
    deviceId,
    counters: () => null,
    relayer: m.relayer,
  });
  return { client, device, deviceId, agent, stop() {} };
}

// --------------------------------------------------------------------------------------- logic

const logic = suite('market node logic');
const offerSettings = normaliseListOfferDef({
  priceScale: '0.001',
  minPriceErgonPerKWh: '0.05',
  sharePercent: '80',
  minWh: '100',
});

logic(
  'a forecast becomes one offer per slot: the share of its surplus, priced from the forecast hour',
  () => {
    const day = Date.UTC(2026, 11, 8) / 1000;
    const values = Array.from({ length: 24 }, (_, h) => (h >= 10 && h < 13 ? 1000 : h === 14 ? 100 : 0));
    const p50 = Array.from({ length: 24 }, (_, h) => (h === 11 ? 20 : 120));
    const cmd = parseListMessage(
      {
        payload: {
          surplus: { startMs: day * 1000, stepMinutes: 60, values },
          prices: { date: '2026-12-08', p50 },
        },
      },
      offerSettings,
      {
        nowS: BigInt(day) - 86400n,
        toleranceS: 900n,
        ownWindows: [{ start: BigInt(day) + 12n * 3600n, end: BigInt(day) + 13n * 3600n }],
      },
    );
    assert.is(cmd.kind, 'list');
    if (cmd.kind !== 'list') return;
    assert.equal(
      cmd.offers.map((o) => [Number(o.deliveryStart - BigInt(day)) / 3600, o.wattHours, o.pricePerKWh]),
      [
        [10, 800n, parseUnits('0.12', 18)],
        [11, 800n, parseUnits('0.05', 18)], // 20 EUR/MWh × 0.001 = 0.02, below the floor
      ],
    );
    assert.equal(cmd.skipped, ['slot 12: overlaps a live offer of this device']); // slot 14: 80 Wh < minWh
  },
);

logic('a single offer, a cancel, and malformed messages naming the field', () => {
  const market = { nowS: 1_000_000n, toleranceS: 900n, ownWindows: [] };
  const one = parseListMessage(
    {
      payload: {
        wattHours: 500,
        priceErgonPerKWh: 0.3,
        deliveryStart: 1_010_000,
        deliveryEnd: '1970-01-12T18:00:00Z',
      },
    },
    offerSettings,
    market,
  );
  assert.equal(one, {
    kind: 'list',
    offers: [
      {
        wattHours: 500n,
        pricePerKWh: parseUnits('0.3', 18),
        deliveryStart: 1_010_000n,
        deliveryEnd: 1_015_200n,
        expiry: 1_010_000n,
      },
    ],
    skipped: [],
  });
  assert.equal(parseListMessage({ topic: 'cancel', payload: 7 }, offerSettings, market), {
    kind: 'cancel',
    offerId: 7n,
  });
  assert.throws(
    () => parseListMessage({ topic: 'cancel', payload: 'x' }, offerSettings, market),
    /payload: "x" is not allowed; expected an offer id/,
  );
  assert.throws(
    () => parseListMessage({ payload: { wattHours: 1.5 } }, offerSettings, market),
    /payload\.wattHours: 1\.5 is not allowed/,
  );
  assert.throws(
    () =>
      parseListMessage(
        { payload: { wattHours: 5, deliveryStart: 1, deliveryEnd: 2 } },
        offerSettings,
        market,
      ),
    /payload\.priceErgonPerKWh: undefined is not allowed; expected a price in ERGON per kWh \(or set the node's Price\)/,
  );
  assert.throws(
    () =>
      parseListMessage(
        { payload: { surplus: { startMs: 0, stepMinutes: 7, values: [] } } },
        offerSettings,
        market,
      ),
    /payload\.surplus\.stepMinutes: 7 is not allowed; expected a slot length in minutes that divides 1440/,
  );
  assert.throws(
    () => normaliseListOfferDef({ sharePercent: '150' }),
    /sharePercent: "150" is not allowed; expected a share from 1 to 100 %/,
  );
});

logic(
  'takes: cheapest first inside the window and the limit, never the own wallet, up to the Wh wanted',
  () => {
    const base = { sellerDeviceId: '0x', takenWh: 0, proven: false, deliveredWh: 0, expiry: 0 };
    const offer = (
      offerId: number,
      price: string,
      start: number,
      availableWh: number,
      seller = '0xA',
    ): OfferView => ({
      ...base,
      offerId,
      sellerWallet: seller,
      wattHours: availableWh,
      availableWh,
      pricePerKWh: parseUnits(price, 18).toString(),
      deliveryStart: start,
      deliveryEnd: start + 3600,
    });
    const offers = [
      offer(1, '0.30', 10_000, 500),
      offer(2, '0.10', 20_000, 400),
      offer(3, '0.10', 15_000, 300),
      offer(4, '0.05', 12_000, 900, '0xME'),
      offer(5, '0.01', 200_000, 900),
    ];
    const settings = normaliseMarketBuyDef({ maxPriceErgonPerKWh: '0.2', wattHours: '600', horizonH: '24' });
    const c = buyCriteria({ payload: 'tick' }, settings, 0n);
    assert.equal(
      selectTakes(offers, c, '0xme').map((t) => [Number(t.offerId), Number(t.wattHours)]),
      [
        [3, 300],
        [2, 300],
      ],
    );
    const all = buyCriteria(
      { payload: { maxPriceErgonPerKWh: 0.5, from: 1, to: 30_000 } },
      normaliseMarketBuyDef({}),
      0n,
    );
    assert.equal(
      selectTakes(offers, all, '0xme').map((t) => Number(t.offerId)),
      [3, 2, 1],
    );
    assert.throws(
      () => buyCriteria({}, normaliseMarketBuyDef({}), 0n),
      /payload\.maxPriceErgonPerKWh: undefined is not allowed/,
    );
    assert.throws(
      () => buyCriteria({ payload: { maxPriceErgonPerKWh: 1, from: 10, to: 5 } }, settings, 0n),
      /payload\.to: 5 is not allowed/,
    );
    assert.throws(
      () => normaliseMarketBuyDef({ horizonH: '0' }),
      /horizonH: "0" is not allowed; expected hours from 1 to 168/,
    );
  },
);

logic.run();

// --------------------------------------------------------------------------------------- nodes

interface Ctx {
  m: MarketFixture;
  unregister?: () => void;
}

function nodeSuite(name: string) {
  const s = suite<Ctx>(name, {} as Ctx);
  s.before(() => helper.startServer());
  s.after(() => helper.stopServer());
  s.before.each(async (ctx) => {
    ctx.m = await marketFixture();
  });
  s.after.each(async (ctx) => {
    ctx.unregister?.();
    await helper.unload();
    await ctx.m.chain.close();
  });
  return s;
}

function registerAs(ctx: Ctx, device: Wallet, deviceId: string): GatewayMarket {
  const market = marketAs(ctx.m, device, deviceId);
  ctx.unregister = registerGateway({ ...fakeGateway().context, market });
  return market;
}

const nodes = nodeSuite('hepek-list-offer and hepek-market-buy');

nodes('hepek-list-offer lists a signed offer on chain and cancels its rest', async (ctx) => {
  const { m } = ctx;
  registerAs(ctx, m.device, m.deviceId);
  await helper.load(NODES, [TAB, CONFIG, node('list', 'hepek-list-offer'), OUT]);
  const start = Number(await now(m)) + 7200;
  const out = helper.getNode('out');
  let arrived = nextMessage(out, 10_000);
  helper.getNode('list').receive({
    payload: { wattHours: 700, priceErgonPerKWh: 0.25, deliveryStart: start, deliveryEnd: start + 3600 },
  });
  const listed = (await arrived).payload as OfferView[];
  assert.is(listed.length, 1);
  assert.is(listed[0]!.sellerWallet, m.device.address);
  const onChain = await m.energy.offerOf(1n);
  assert.is(onChain.wattHours, 700n);
  assert.is(onChain.pricePerKWh, parseUnits('0.25', 18));
  arrived = nextMessage(out, 10_000);
  helper.getNode('list').receive({ topic: 'cancel', payload: 1 });
  assert.equal((await arrived).payload, { cancelled: 1 });
  assert.is((await m.energy.offerOf(1n)).wattHours, 0n);
});

nodes('errors go to Catch: a malformed message, and a gateway without a market', async (ctx) => {
  const { m } = ctx;
  registerAs(ctx, m.device, m.deviceId);
  await helper.load(NODES, [TAB, CONFIG, node('list', 'hepek-list-offer'), OUT, CATCH, CAUGHT]);
  const caught = helper.getNode('caught');
  let arrived = nextMessage(caught, 10_000);
  helper.getNode('list').receive({ payload: { wattHours: -1 } });
  assert.match(
    ((await arrived).error as { message: string }).message,
    /payload\.wattHours: -1 is not allowed/,
  );
  ctx.unregister?.();
  ctx.unregister = registerGateway(fakeGateway().context);
  arrived = nextMessage(caught, 10_000);
  helper.getNode('list').receive({ payload: { wattHours: 5 } });
  assert.match(
    ((await arrived).error as { message: string }).message,
    /config: "embedded" is not allowed; expected the embedded gateway/,
  );
});

nodes(
  'hepek-market-buy takes the matching offers with the buyer’s wallet; the escrow is pulled',
  async (ctx) => {
    const { m } = ctx;
    const seller = marketAs(m, m.device, m.deviceId);
    const start = (await now(m)) + 2n * HOUR;
    for (const [k, price] of [
      [0n, '0.30'],
      [1n, '0.15'],
      [2n, '0.10'],
    ] as const)
      await seller.client.list(m.device, m.deviceId, {
        wattHours: 400n,
        pricePerKWh: parseUnits(price, 18),
        deliveryStart: start + k * HOUR,
        deliveryEnd: start + (k + 1n) * HOUR,
      });
    const buyer = m.buyers[0]!;
    registerAs(ctx, buyer.key, buyer.deviceId);
    await helper.load(NODES, [
      TAB,
      CONFIG,
      node('buy', 'hepek-market-buy', { maxPriceErgonPerKWh: '0.2', wattHours: '600' }),
      OUT,
    ]);
    const before = await m.token.balanceOf(buyer.key.address);
    const arrived = nextMessage(helper.getNode('out'), 15_000);
    helper.getNode('buy').receive({ payload: 'tick' });
    const bought = (await arrived).payload as Array<{ offerId: number; wattHours: number; escrow: string }>;
    assert.equal(
      bought.map((b) => [b.offerId, b.wattHours]),
      [
        [3, 400],
        [2, 200],
      ],
    );
    const escrow = (400n * parseUnits('0.10', 18) + 200n * parseUnits('0.15', 18)) / 1000n;
    assert.is(before - (await m.token.balanceOf(buyer.key.address)), escrow);
    assert.is((await m.energy.positionOf(3n, buyer.key.address)).wattHours, 400n);
    assert.is(escrow < ERGON, true);
  },
);

nodes.run();

// --------------------------------------------------------------------------------------- flows

const flows = nodeSuite('example flows: market-seller, market-buyer');
const FLOWS = path.resolve(__dirname, '..', 'flows');
const CORE = [
  coreNode('90-comment.js'),
  coreNode('21-debug.js'),
  coreNode('20-inject.js'),
  coreNode('25-catch.js'),
];
// eslint-disable-next-line @typescript-eslint/no-require-imports
const CHANGE = require('@node-red/nodes/core/function/15-change.js') as unknown;

flows('market-seller.json lists tomorrow’s forecast surplus priced from the price forecast', async (ctx) => {
  const { m } = ctx;
  registerAs(ctx, m.device, m.deviceId);
  const flow = JSON.parse(readFileSync(path.join(FLOWS, 'market-seller.json'), 'utf8')) as {
    id: string;
    type: string;
  }[];
  await helper.load([...CORE, CHANGE, hepekPriceForecast, ...NODES], flow);
  const listed = helper.getNode('ms.listed');
  const arrived = nextMessage(listed, 30_000);
  helper.getNode('ms.daily').receive({});
  const offers = (await arrived).payload as OfferView[];
  assert.ok(offers.length >= 5, `listed ${offers.length} hours`);
  assert.is(await m.energy.offerCount(), BigInt(offers.length));
  for (const o of offers) {
    assert.ok(o.wattHours >= 100);
    assert.ok(BigInt(o.pricePerKWh) >= parseUnits('0.05', 18), 'the floor holds');
    assert.is(o.deliveryEnd - o.deliveryStart, 3600);
  }
  assert.equal(loggedErrors(), []);
});

flows('market-buyer.json buys an offer below its limit', async (ctx) => {
  const { m } = ctx;
  const seller = marketAs(m, m.device, m.deviceId);
  const start = (await now(m)) + 2n * HOUR;
  await seller.client.list(m.device, m.deviceId, {
    wattHours: 800n,
    pricePerKWh: parseUnits('0.12', 18),
    deliveryStart: start,
    deliveryEnd: start + HOUR,
  });
  const buyer = m.buyers[1]!;
  registerAs(ctx, buyer.key, buyer.deviceId);
  const flow = JSON.parse(readFileSync(path.join(FLOWS, 'market-buyer.json'), 'utf8')) as {
    id: string;
    type: string;
  }[];
  await helper.load([...CORE, CHANGE, ...NODES], flow);
  const arrived = nextMessage(helper.getNode('mb.bought'), 15_000);
  helper.getNode('mb.hourly').receive({ payload: Date.now() });
  assert.equal((await arrived).payload, [
    { offerId: 1, wattHours: 800, escrow: ((800n * parseUnits('0.12', 18)) / 1000n).toString() },
  ]);
  assert.equal(loggedErrors(), []);
});

flows.run();
