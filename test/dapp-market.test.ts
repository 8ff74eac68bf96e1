/**
 * The DApp's market on a fresh in-process chain (test/helpers/market.ts): the seller's gateway lists
 * and cancels, a buyer's gateway buys, each only on an EIP-712 approval by the device's owner over
 * exactly the struct the contract gets. Forged, replayed, stale and malformed approvals are refused
 * naming the field and change nothing on chain; the view shows offers, takes and settlements on
 * both sides; the routes need the gateway's own page.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ServerResponse } from 'node:http';
import { parseUnits, Wallet } from 'ethers';
import { domainOf, signStruct, type Offer, type StructName } from '../gateway/chain/typed-data';
import { InputError } from '../gateway/errors';
import { MarketClient, type GatewayMarket } from '../gateway/market';
import type { HttpRequest } from '../gateway/nodered/embedded';
import { API } from '../gateway/web/api';
import { createDappMarket, type DappMarket } from '../gateway/web/market';
import { createDapp } from '../gateway/web/server';
import { DEV_CHAIN_ID } from './helpers/chain';
import { fakeGateway } from './helpers/fake-gateway';
import { now, registerDevice } from './helpers/ledger';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import {
  HOUR,
  PRICE,
  TOLERANCE,
  feed,
  marketFixture,
  mineAt,
  terms as termsOf,
  type MarketFixture,
} from './helpers/market';
import { tempDir } from './helpers/gateway';

interface Ctx {
  m: MarketFixture;
  seller: DappMarket;
  buyer: DappMarket;
  client: MarketClient;
}

function gatewayMarket(client: MarketClient, device: Wallet, deviceId: string): GatewayMarket {
  // The agent is not part of the DApp's market; the view and the actions never touch it.
  return { client, device, deviceId, agent: null as never, stop: () => undefined };
}

const market = suite<Ctx>('DApp market: owner-approved trades');

market.before.each(async (ctx) => {
  ctx.m = await marketFixture();
  const m = ctx.m;
  ctx.client = new MarketClient({
    chainId: DEV_CHAIN_ID,
    market: m.addresses.EnergyMarket!,
    token: m.addresses.ErgonToken,
    relayer: m.relayer,
  });
  const common = { provider: m.chain.provider, chainId: DEV_CHAIN_ID, registry: m.addresses.GatewayRegistry };
  ctx.seller = createDappMarket({
    ...common,
    market: gatewayMarket(ctx.client, m.device, m.deviceId),
    clockRate: () => 1,
  });
  ctx.buyer = createDappMarket({
    ...common,
    market: gatewayMarket(ctx.client, m.buyers[0]!.key, m.buyers[0]!.deviceId),
    clockRate: () => 1,
  });
});

market.after.each(async (ctx) => {
  await ctx.m.chain.close();
});

/** What the page posts: the struct with decimal strings and `signer`'s EIP-712 signature over it. */
async function approval(
  m: MarketFixture,
  signer: Wallet,
  name: StructName,
  value: object,
): Promise<{ body: Record<string, string>; signature: string }> {
  const signature = await signStruct(
    signer,
    name,
    domainOf('market', DEV_CHAIN_ID, m.addresses.EnergyMarket!),
    value,
  );
  return { body: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)])), signature };
}

async function offerTerms(m: MarketFixture, nonce: bigint): Promise<Offer> {
  return termsOf(m, (await now(m)) + 2n * HOUR, { nonce });
}

async function rejects(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await run();
  } catch (err) {
    assert.match((err as Error).message, pattern, `got: ${(err as Error).message}`);
    return;
  }
  assert.unreachable(`expected a refusal matching ${pattern}`);
}

market(
  'the owner lists, a buyer buys, and both views show the offer, the take and the settlement',
  async (ctx) => {
    const { m, seller, buyer } = ctx;
    const before = await seller.view();
    assert.is(before.owner, m.member.address);
    assert.ok(before.canSell);
    assert.is((await buyer.view()).canSell, false, 'a consumer does not sell');

    const terms = await offerTerms(m, BigInt(before.deviceNonce));
    const list = await approval(m, m.member, 'Offer', terms);
    const listed = await seller.list({ offer: list.body, signature: list.signature });
    assert.is(listed.offerId, 1);

    const shown = await buyer.view();
    assert.is(shown.offers.length, 1);
    const offer = shown.offers[0]!;
    assert.is(offer.sellerWallet, m.device.address);
    assert.is(offer.sellerDeviceId, m.deviceId);
    assert.is(offer.availableWh, 1000);
    assert.is(shown.owner, m.other.address, 'the buyer device is owned by another member');

    const buyerKey = m.buyers[0]!.key;
    const ergonBefore = await m.token.balanceOf(buyerKey.address);
    const buy = await approval(m, m.other, 'Buy', {
      offerId: 1n,
      wattHours: 400n,
      buyerWallet: buyerKey.address,
      pricePerKWh: PRICE,
      nonce: BigInt(shown.buyNonce),
      deadline: BigInt(offer.expiry),
    });
    const bought = await buyer.buy({ buy: buy.body, signature: buy.signature });
    const escrow = (400n * PRICE) / 1000n;
    assert.is(bought.escrowWei, escrow.toString());
    assert.is(ergonBefore - (await m.token.balanceOf(buyerKey.address)), escrow);
    const afterBuy = await buyer.view();
    assert.equal(afterBuy.positions, [{ offerId: 1, wattHours: 400, escrowWei: escrow.toString() }]);
    assert.is((await seller.view()).mine[0]!.takenWh, 400);

    // The window runs; the seller's readings bracket it; proof and settlement as the agent does them.
    const start = terms.deliveryStart;
    const first = await feed(m, start - 30n, 10_000n);
    const last = await feed(m, start + HOUR + 30n, 12_000n);
    await mineAt(m, start + HOUR + 60n);
    await ctx.client.prove(1n, first, last);
    await ctx.client.settle(1n);

    const sellerView = await seller.view();
    const buyerView = await buyer.view();
    assert.is(sellerView.settlements.length, 1);
    assert.is(sellerView.settlements[0]!.side, 'sold');
    assert.is(sellerView.settlements[0]!.paidWei, escrow.toString());
    assert.is(buyerView.settlements[0]!.side, 'bought');
    assert.is(buyerView.settlements[0]!.deliveredWh, 400);
    assert.equal(buyerView.positions, [], 'settled: nothing left in escrow');
  },
);

market('a forged, replayed or stale approval is refused naming the field, and lists nothing', async (ctx) => {
  const { m, seller } = ctx;
  const terms = await offerTerms(m, 0n);
  const forged = await approval(m, m.other, 'Offer', terms);
  await rejects(
    () => seller.list({ offer: forged.body, signature: forged.signature }),
    new RegExp(
      `signature: "${m.other.address}" is not allowed; expected a signature by the device's owner ${m.member.address}`,
    ),
  );
  // The device key's own signature is not the owner's either.
  const byDevice = await approval(m, m.device, 'Offer', terms);
  await rejects(() => seller.list({ offer: byDevice.body, signature: byDevice.signature }), /owner/);
  assert.is(await m.energy.offerCount(), 0n);

  const good = await approval(m, m.member, 'Offer', terms);
  await seller.list({ offer: good.body, signature: good.signature });
  await rejects(
    () => seller.list({ offer: good.body, signature: good.signature }),
    /offer\.nonce: "0" is not allowed; expected the next nonce 1/,
  );
  // Terms changed after signing: the signature recovers to someone else.
  const tampered = { ...good.body, wattHours: '5000' };
  await rejects(
    () => seller.list({ offer: tampered, signature: good.signature }),
    /signature: "0x[0-9a-fA-F]{40}" is not allowed/,
  );
  assert.is(await m.energy.offerCount(), 1n);
});

market('malformed bodies name the field, the value and what is allowed', async (ctx) => {
  const { m, seller, buyer } = ctx;
  const terms = await offerTerms(m, 0n);
  const ok = await approval(m, m.member, 'Offer', terms);
  await rejects(() => seller.list(null), /body: null .*JSON object/);
  await rejects(() => seller.list({ signature: ok.signature }), /offer: null .*Offer struct/);
  await rejects(
    () => seller.list({ offer: { ...ok.body, wattHours: '1.5' }, signature: ok.signature }),
    /offer\.wattHours: "?1\.5"? .*decimal string/,
  );
  await rejects(() => seller.list({ offer: ok.body, signature: '0x12' }), /signature: "?0x12"? .*65-byte/);
  await rejects(
    () =>
      seller.list({ offer: { ...ok.body, sellerDeviceId: m.buyers[0]!.deviceId }, signature: ok.signature }),
    /offer\.sellerDeviceId: .*this device/,
  );
  // A buy for another wallet than this HEPEK's, or at another price than the offer's.
  await seller.list({ offer: ok.body, signature: ok.signature });
  const base = {
    offerId: 1n,
    wattHours: 100n,
    buyerWallet: m.buyers[0]!.key.address,
    pricePerKWh: PRICE,
    nonce: 0n,
    deadline: terms.expiry,
  };
  const other = await approval(m, m.other, 'Buy', { ...base, buyerWallet: m.buyers[1]!.key.address });
  await rejects(
    () => buyer.buy({ buy: other.body, signature: other.signature }),
    /buy\.buyerWallet: .*this HEPEK wallet/,
  );
  const cheap = await approval(m, m.other, 'Buy', { ...base, pricePerKWh: parseUnits('0.01', 18) });
  await rejects(
    () => buyer.buy({ buy: cheap.body, signature: cheap.signature }),
    /buy\.pricePerKWh: .*offer's price/,
  );
  const much = await approval(m, m.other, 'Buy', { ...base, wattHours: 1001n });
  await rejects(
    () => buyer.buy({ buy: much.body, signature: much.signature }),
    /buy\.wattHours: "1001" is not allowed; expected 1 to 1000 Wh/,
  );
  // The seller's own gateway cannot buy its own offer.
  const own = await approval(m, m.member, 'Buy', { ...base, buyerWallet: m.device.address });
  await rejects(() => seller.buy({ buy: own.body, signature: own.signature }), /buy\.offerId: "1" .*own/);
  assert.is((await m.energy.offerOf(1n)).takenWh, 0n, 'nothing was taken');
});

market(
  'a signature that recovers to nobody, or a device nobody claimed, is refused before anything is signed',
  async (ctx) => {
    const { m } = ctx;
    const terms = await offerTerms(m, 0n);
    const body = (await approval(m, m.member, 'Offer', terms)).body;
    // 65 bytes, but not a signature over anything (v = 0 is invalid).
    await rejects(
      () => ctx.seller.list({ offer: body, signature: '0x' + '00'.repeat(65) }),
      /signature: "0x0{18}…" is not allowed; expected an EIP-712 Offer signature/,
    );
    // A registered device that no member claimed: nobody may approve its trades.
    const key = Wallet.createRandom();
    const deviceId = deviceIdFromSerial('HEPEK-UNCLAIMED');
    await registerDevice(m, deviceId, key.address);
    const unclaimed = createDappMarket({
      provider: m.chain.provider,
      chainId: DEV_CHAIN_ID,
      registry: m.addresses.GatewayRegistry,
      market: gatewayMarket(ctx.client, new Wallet(key.privateKey), deviceId),
      clockRate: () => 1,
    });
    assert.is((await unclaimed.view()).owner, null);
    const own = await approval(m, m.member, 'Offer', { ...terms, sellerDeviceId: deviceId });
    await rejects(
      () => unclaimed.list({ offer: own.body, signature: own.signature }),
      new RegExp(`market: device ${deviceId} is not claimed: nobody can approve its trades`),
    );
    assert.is(await m.energy.offerCount(), 0n);
  },
);

market('the owner cancels the untaken rest; a cancel of another device’s offer is refused', async (ctx) => {
  const { m, seller, buyer } = ctx;
  const terms = await offerTerms(m, 0n);
  const listed = await approval(m, m.member, 'Offer', terms);
  await seller.list({ offer: listed.body, signature: listed.signature });
  const foreign = await approval(m, m.other, 'Cancel', { offerId: 1n, nonce: 1n });
  await rejects(
    () => buyer.cancel({ cancel: foreign.body, signature: foreign.signature }),
    /cancel\.offerId: "1" is not allowed; expected an offer of this device/,
  );
  const cancel = await approval(m, m.member, 'Cancel', { offerId: 1n, nonce: 1n });
  await seller.cancel({ cancel: cancel.body, signature: cancel.signature });
  const view = await seller.view();
  assert.is(view.mine[0]!.availableWh, 0);
  assert.is(view.offers.length, 0, 'nothing left to take');
  assert.is(view.deviceNonce, '2');
});

market('the view offers only what can still be taken before the next block', async (ctx) => {
  const { m, seller } = ctx;
  const terms = await offerTerms(m, 0n);
  const listed = await approval(m, m.member, 'Offer', terms);
  await seller.list({ offer: listed.body, signature: listed.signature });
  const view = await seller.view();
  assert.is(view.toleranceS, Number(TOLERANCE));
  assert.is(view.offers.length, 1);
  await mineAt(m, terms.expiry - 1n);
  assert.is((await seller.view()).offers.length, 0, 'expiring next second: not offered');
});

// ---------------------------------------------------------------------------------------------

function call(
  route: { handle(req: HttpRequest, res: ServerResponse): unknown },
  req: Partial<HttpRequest>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve) => {
    const res = {
      statusCode: 200,
      setHeader: () => undefined,
      end(text: string) {
        resolve({ status: this.statusCode, body: JSON.parse(text) as Record<string, unknown> });
      },
    };
    void route.handle(
      { headers: { host: '127.0.0.1:1880' }, url: '/', ...req } as HttpRequest,
      res as unknown as ServerResponse,
    );
  });
}

const routes = suite('DApp market routes');

routes('market routes: capability, own page only, write permission, 400 naming the field', async () => {
  const calls: string[] = [];
  const fakeMarket: DappMarket = {
    view: async () => ({}) as never,
    list: async (body) => {
      calls.push(JSON.stringify(body));
      return { offerId: 3 };
    },
    cancel: async () => ({}),
    buy: async () => {
      throw new InputError('buy.wattHours', '0', '1 to 10 Wh');
    },
  };
  const dapp = createDapp({
    context: fakeGateway().context,
    mode: 'prosumer',
    rpc: async () => '0x1',
    embedded: false,
    chainLabel: 'test chain',
    demoMember: null,
    pageDir: tempDir('dapp-market-none'),
    market: fakeMarket,
  });
  try {
    const find = (method: string, path: string) =>
      dapp.routes.find((r) => r.method === method && r.path === path)!;
    assert.ok((await dapp.state()).capabilities.includes('market'));
    for (const path of [API.marketList, API.marketCancel, API.marketBuy])
      assert.is(find('post', path).permission, 'hepek.write', path);
    assert.is(find('get', API.market).permission, 'hepek.read');

    const foreign = await call(find('post', API.marketList), {
      headers: { host: '127.0.0.1:1880', origin: 'http://evil.example' },
      body: { offer: {} },
    });
    assert.is(foreign.status, 403);
    assert.match(String(foreign.body.error), /origin: http:\/\/evil\.example is not allowed/);
    const rebound = await call(find('post', API.marketList), {
      headers: { host: 'evil.example:1880' },
      body: {},
    });
    assert.is(rebound.status, 403);
    assert.equal(calls, [], 'refused before the market saw it');

    const ok = await call(find('post', API.marketList), { body: { offer: { a: 1 } } });
    assert.equal(ok, { status: 200, body: { offerId: 3 } });
    const bad = await call(find('post', API.marketBuy), { body: {} });
    assert.is(bad.status, 400);
    assert.match(String(bad.body.error), /buy\.wattHours: "?0"? .*1 to 10 Wh/);
  } finally {
    dapp.stop();
  }

  const without = createDapp({
    context: fakeGateway().context,
    mode: 'consumer',
    rpc: async () => '0x1',
    embedded: false,
    chainLabel: 'test chain',
    demoMember: null,
    pageDir: tempDir('dapp-market-none'),
  });
  try {
    assert.not.ok((await without.state()).capabilities.includes('market'));
    const refused = await call(
      without.routes.find((r) => r.path === API.marketBuy)!,
      { body: {} },
    );
    assert.is(refused.status, 409);
    assert.match(
      String(refused.body.error),
      /market: the energy market is not available on this gateway \(test chain/,
    );
  } finally {
    without.stop();
  }
});

market.run();
routes.run();
