/**
 * EnergyMarket: listing (owner or device-signed), non-overlapping windows, escrowed takes (direct,
 * relayed with a permit, front-running), cancels, delivery proofs from bracketing readings, pro-rata
 * settlement, and the MeterReadings export hold that keeps reward and carbon credits from being
 * counted twice. Fresh ledger per test.
 */
import * as assert from 'uvu/assert';
import { TypedDataEncoder, Wallet, ZeroAddress, ZeroHash, id, recoverAddress, toBeHex } from 'ethers';
import { signPermit, NO_PERMIT } from '../gateway/chain/channels';
import { DEFAULT_EMISSION_FACTOR_MG_PER_WH, DEFAULT_EXPORT_RATE_WEI_PER_WH } from '../gateway/chain/deploy';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import { digestOf, domainOf, encodeType, type Buy } from '../gateway/chain/typed-data';
import { EnergyMarket__factory } from '../gateway/chain/types';
import { costOf, signBuy, signCancel, signOffer } from '../gateway/market/sign';
import { expectEvent, expectRevert } from './helpers/assertions';
import { DEV_CHAIN_ID, freshChainSuite, testKey } from './helpers/chain';
import { MODE, now, onboardDevice, registerDevice, setNextTimestamp } from './helpers/ledger';
import {
  GRACE,
  HOUR,
  PRICE,
  TOLERANCE,
  balanceOf,
  feed,
  listOffer,
  marketFixture,
  mineAt,
  nextStart,
  take,
  terms,
  type MarketFixture,
} from './helpers/market';

const RATE = DEFAULT_EXPORT_RATE_WEI_PER_WH;
const FACTOR = DEFAULT_EMISSION_FACTOR_MG_PER_WH;

function marketSuite(name: string) {
  return freshChainSuite(name, 'm', marketFixture);
}

const where = (m: MarketFixture) => ({ chainId: DEV_CHAIN_ID, market: m.addresses.EnergyMarket! });

/** A baseline reading now, an offer of 1000 Wh for a window two hours ahead; returns both times. */
async function listed(
  m: MarketFixture,
  fields = {},
): Promise<{ offerId: bigint; t0: bigint; start: bigint }> {
  const t0 = (await now(m)) + 10n;
  await feed(m, t0, 0n);
  const start = t0 + 2n * HOUR;
  const offerId = await listOffer(m, terms(m, start, fields));
  return { offerId, t0, start };
}

/** Seller readings every 15 min from the window start to its end, exporting `perQuarterWh` each. */
async function deliver(
  m: MarketFixture,
  start: bigint,
  perQuarterWh: bigint,
  baseWh = 0n,
): Promise<{ startSeq: bigint; endSeq: bigint; exportedWh: bigint }> {
  const startSeq = await feed(m, start, baseWh);
  let endSeq = startSeq;
  for (let q = 1n; q <= 4n; q++) endSeq = await feed(m, start + q * 900n, baseWh + q * perQuarterWh);
  return { startSeq, endSeq, exportedWh: 4n * perQuarterWh };
}

// -----------------------------------------------------------------------------------------------

const deployment = marketSuite('EnergyMarket deployment');

deployment('type hashes equal typed-data.ts, domain and roles are the plan’s', async ({ m }) => {
  assert.is(await m.energy.OFFER_TYPEHASH(), id(encodeType('Offer')));
  assert.is(await m.energy.CANCEL_TYPEHASH(), id(encodeType('Cancel')));
  assert.is(await m.energy.BUY_TYPEHASH(), id(encodeType('Buy')));
  assert.is(
    encodeType('Offer'),
    'Offer(bytes32 sellerDeviceId,uint64 wattHours,uint256 pricePerKWh,uint64 deliveryStart,uint64 deliveryEnd,uint64 expiry,uint256 nonce)',
  );
  const domain = domainOf('market', DEV_CHAIN_ID, m.addresses.EnergyMarket!);
  assert.is(await m.energy.domainSeparator(), TypedDataEncoder.hashDomain(domain));
  assert.ok(await m.readings.hasRole(await m.readings.MARKET_ROLE(), m.addresses.EnergyMarket!));
  assert.is(await m.energy.TOLERANCE(), TOLERANCE);
  assert.is(await m.energy.GRACE(), GRACE);
});

deployment('the constructor refuses addresses without code and zero periods', async ({ m }) => {
  const factory = new EnergyMarket__factory(m.admin);
  const a = m.addresses;
  await expectRevert(
    factory.deploy(m.other.address, a.MeterReadings!, a.ErgonToken!, 900n, 3600n),
    m.energy,
    'MarketInvalidContract',
    [m.other.address],
  );
  await expectRevert(
    factory.deploy(a.GatewayRegistry!, a.MeterReadings!, a.ErgonToken!, 0n, 3600n),
    m.energy,
    'MarketInvalidPeriod',
    ['toleranceS'],
  );
  await expectRevert(
    factory.deploy(a.GatewayRegistry!, a.MeterReadings!, a.ErgonToken!, 900n, 0n),
    m.energy,
    'MarketInvalidPeriod',
    ['graceS'],
  );
});

deployment.run();

// -----------------------------------------------------------------------------------------------

const listing = marketSuite('EnergyMarket list');

listing('the owner lists; the event carries the terms and the device export is held', async ({ m }) => {
  const start = await nextStart(m);
  const offer = terms(m, start);
  await expectEvent(m.energy.list(offer), m.energy, 'OfferListed', [
    1n,
    m.deviceId,
    m.device.address,
    1000n,
    PRICE,
    start,
    start + HOUR,
    start,
  ]);
  const stored = await m.energy.offerOf(1n);
  assert.is(stored.sellerWallet, m.device.address);
  assert.is(stored.wattHours, 1000n);
  assert.is((await m.readings.holdOf(m.deviceId)).holds, 1n);
});

listing('a device-signed offer is relayed by anyone; the nonce cannot be replayed', async ({ m }) => {
  const start = await nextStart(m);
  const offer = terms(m, start, { nonce: 0n });
  const sig = await signOffer(m.device, where(m), offer);
  await expectEvent(m.energy.connect(m.relayer).listFor(offer, sig.r, sig.vs), m.energy, 'OfferListed', [
    1n,
    m.deviceId,
    m.device.address,
    1000n,
    PRICE,
    start,
    start + HOUR,
    start,
  ]);
  assert.is(await m.energy.nonces(m.deviceId), 1n);
  await expectRevert(
    m.energy.connect(m.relayer).listFor(offer, sig.r, sig.vs),
    m.energy,
    'MarketInvalidNonce',
    [0n, 1n],
  );
});

listing('refuses a signature by another key and a malformed one', async ({ m }) => {
  const start = await nextStart(m);
  const offer = terms(m, start);
  const forger = new Wallet(testKey('forger'));
  const forged = await signOffer(forger, where(m), offer);
  await expectRevert(m.energy.listFor(offer, forged.r, forged.vs), m.energy, 'MarketInvalidSigner', [
    forger.address,
    m.device.address,
  ]);
  const sig = await signOffer(m.device, where(m), offer);
  // EIP-2098 cannot even encode a high-s signature; a malformed one (r = 0) recovers to no one.
  await expectRevert(m.energy.listFor(offer, ZeroHash, sig.vs), m.energy, 'MarketInvalidSignature', []);
});

listing('every bad listing is refused with its error', async ({ m }) => {
  const start = await nextStart(m);
  const t = await now(m);
  await expectRevert(m.energy.connect(m.other).list(terms(m, start)), m.energy, 'MarketNotDeviceOwner', [
    m.deviceId,
    m.other.address,
    m.member.address,
  ]);
  await expectRevert(m.energy.list(terms(m, start, { wattHours: 0n })), m.energy, 'MarketInvalidAmount', [
    'wattHours',
  ]);
  await expectRevert(m.energy.list(terms(m, start, { pricePerKWh: 0n })), m.energy, 'MarketInvalidAmount', [
    'pricePerKWh',
  ]);
  await expectRevert(
    m.energy.list(terms(m, start, { deliveryEnd: start })),
    m.energy,
    'MarketInvalidWindow',
    [start, start, start],
  );
  await expectRevert(
    m.energy.list(terms(m, start, { expiry: start + 1n })),
    m.energy,
    'MarketInvalidWindow',
    [start, start + HOUR, start + 1n],
  );
  await expectRevert(m.energy.list(terms(m, start, { expiry: t })), m.energy, 'MarketInvalidWindow', [
    start,
    start + HOUR,
    t,
  ]);
  await setNextTimestamp(m, t + 5n);
  await expectRevert(m.energy.list(terms(m, t + 100n, { expiry: t + 50n })), m.energy, 'MarketStartTooSoon', [
    t + 100n,
    t + 5n + TOLERANCE,
  ]);
});

listing('consumers, unclaimed and revoked devices cannot sell', async ({ m }) => {
  const start = await nextStart(m);
  const consumer = m.buyers[0]!;
  await expectRevert(
    m.energy.connect(m.other).list(terms(m, start, { sellerDeviceId: consumer.deviceId })),
    m.energy,
    'MarketDeviceNotSeller',
    [consumer.deviceId, BigInt(MODE.consumer)],
  );
  const unclaimed = deviceIdFromSerial('HEPEK-UNCLAIMED');
  await registerDevice(m, unclaimed, new Wallet(testKey('unclaimed')).address);
  const offer = terms(m, start, { sellerDeviceId: unclaimed });
  const sig = await signOffer(new Wallet(testKey('unclaimed')), where(m), offer);
  await expectRevert(m.energy.listFor(offer, sig.r, sig.vs), m.energy, 'MarketDeviceNotActive', [unclaimed]);
  await (await m.registry.revoke(m.deviceId)).wait();
  await expectRevert(m.energy.list(terms(m, start)), m.energy, 'MarketDeviceNotActive', [m.deviceId]);
});

listing(
  'overlapping windows of one device are refused; adjacent and freed windows are not',
  async ({ m }) => {
    const start = await nextStart(m);
    await listOffer(m, terms(m, start));
    for (const [s, e] of [
      [start, start + HOUR],
      [start - 1800n, start + 1n],
      [start + HOUR - 1n, start + 2n * HOUR],
      [start + 10n, start + 20n],
      [start - 1800n, start + 2n * HOUR],
    ] as const) {
      await expectRevert(
        m.energy.list(terms(m, s, { deliveryEnd: e, expiry: s })),
        m.energy,
        'MarketWindowOverlap',
        [m.deviceId, 1n, start, start + HOUR],
      );
    }
    await listOffer(m, terms(m, start + HOUR)); // adjacent after
    await listOffer(m, terms(m, start - HOUR, { expiry: start - HOUR })); // adjacent before
    // An untaken offer cancelled in full frees its window.
    await (await m.energy.cancel(1n)).wait();
    await listOffer(m, terms(m, start));
    // Another device may sell the same hours.
    const other = deviceIdFromSerial('HEPEK-0002');
    const key = new Wallet(testKey('device-2'));
    await onboardDevice(m, { deviceId: other, key, mode: MODE.generator });
    await listOffer(m, terms(m, start, { sellerDeviceId: other }));
    assert.is(await m.energy.offerCount(), 5n);
  },
);

listing.run();

// -----------------------------------------------------------------------------------------------

const buying = marketSuite('EnergyMarket buy');

buying('several buyers take parts; escrow is pulled and the rest stays on offer', async ({ m }) => {
  const { offerId } = await listed(m);
  const market = m.addresses.EnergyMarket!;
  const [b0, b1] = m.buyers.map((b) => b.key);
  await (await m.token.connect(b0!).approve(market, 2n ** 200n)).wait();
  await expectEvent(
    m.energy.connect(b0!).buy(offerId, 600n, b0!.address, PRICE, NO_PERMIT),
    m.energy,
    'OfferTaken',
    [offerId, b0!.address, 600n, costOf(600n, PRICE)],
  );
  await take(m, 1, offerId, 300n);
  await take(m, 0, offerId, 50n); // a second take adds to the position
  const offer = await m.energy.offerOf(offerId);
  assert.is(offer.takenWh, 950n);
  assert.is(offer.openPositions, 2n);
  assert.is((await m.energy.positionOf(offerId, b0!.address)).wattHours, 650n);
  assert.equal([...(await m.energy.buyersOf(offerId))], [b0!.address, b1!.address]);
  assert.is(await balanceOf(m, market), costOf(650n, PRICE) + costOf(300n, PRICE));
  await expectRevert(take(m, 2, offerId, 51n), m.energy, 'MarketInsufficientWh', [offerId, 51n, 50n]);
  await take(m, 2, offerId, 50n);
});

buying(
  'a relayed buy with signed terms and a permit; the signed price and amount cannot change',
  async ({ m }) => {
    const { offerId, start } = await listed(m);
    const buyer = m.buyers[0]!.key;
    const market = m.addresses.EnergyMarket!;
    const buy: Buy = {
      offerId,
      wattHours: 400n,
      buyerWallet: buyer.address,
      pricePerKWh: PRICE,
      nonce: 0n,
      deadline: start,
    };
    const sig = await signBuy(buyer, where(m), buy);
    const permit = await signPermit(buyer, {
      chainId: DEV_CHAIN_ID,
      token: m.addresses.ErgonToken!,
      owner: buyer.address,
      spender: market,
      value: costOf(400n, PRICE),
      nonce: await m.token.nonces(buyer.address),
      deadline: start,
    });
    // A front-runner who changes the amount gets a different signer, not the buyer's money.
    const tampered = { ...buy, wattHours: 1000n };
    const recovered = recoverAddress(digestOf('Buy', domainOf('market', DEV_CHAIN_ID, market), tampered), {
      r: sig.r,
      yParityAndS: sig.vs,
    });
    await expectRevert(
      m.energy.connect(m.relayer).buyFor.staticCall(tampered, sig.r, sig.vs, permit),
      m.energy,
      'MarketInvalidSigner',
      [recovered, buyer.address],
    );
    // A front-runner who spends the permit first: the allowance it set still funds the take.
    await (
      await m.token
        .connect(m.relayer)
        .permit(buyer.address, market, costOf(400n, PRICE), start, ...splitPermit(permit))
    ).wait();
    const before = await balanceOf(m, buyer.address);
    await expectEvent(
      m.energy.connect(m.relayer).buyFor(buy, sig.r, sig.vs, permit),
      m.energy,
      'OfferTaken',
      [offerId, buyer.address, 400n, costOf(400n, PRICE)],
    );
    assert.is(before - (await balanceOf(m, buyer.address)), costOf(400n, PRICE));
    await expectRevert(
      m.energy.connect(m.relayer).buyFor(buy, sig.r, sig.vs, permit),
      m.energy,
      'MarketInvalidNonce',
      [0n, 1n],
    );
    // Without permit or allowance the take is refused.
    const again = { ...buy, nonce: 1n };
    const sig2 = await signBuy(buyer, where(m), again);
    const usedPermit = permit; // its nonce is spent
    await expectRevert(
      m.energy.connect(m.relayer).buyFor(again, sig2.r, sig2.vs, usedPermit),
      m.energy,
      'MarketInsufficientAllowance',
      [buyer.address, 0n, costOf(400n, PRICE)],
    );
  },
);

function splitPermit(p: { r: string; vs: string }): [number, string, string] {
  const vs = BigInt(p.vs);
  return [Number(vs >> 255n) + 27, p.r, toBeHex(vs & ((1n << 255n) - 1n), 32)];
}

buying('every bad take is refused with its error', async ({ m }) => {
  const { offerId, start } = await listed(m);
  const [b0] = m.buyers.map((b) => b.key);
  const buy = (who: Wallet, wh: bigint, wallet: string, price = PRICE) =>
    m.energy.connect(who).buy(offerId, wh, wallet, price, NO_PERMIT);
  await expectRevert(
    m.energy.connect(b0!).buy(99n, 1n, b0!.address, PRICE, NO_PERMIT),
    m.energy,
    'MarketUnknownOffer',
    [99n],
  );
  await expectRevert(buy(b0!, 10n, b0!.address, PRICE - 1n), m.energy, 'MarketPriceMismatch', [
    offerId,
    PRICE - 1n,
    PRICE,
  ]);
  await expectRevert(buy(b0!, 0n, b0!.address), m.energy, 'MarketInvalidAmount', ['wattHours']);
  await expectRevert(buy(b0!, 1001n, b0!.address), m.energy, 'MarketInsufficientWh', [offerId, 1001n, 1000n]);
  await expectRevert(buy(m.other, 10n, m.other.address), m.energy, 'MarketBuyerNotMember', [m.other.address]);
  await expectRevert(buy(m.other, 10n, b0!.address), m.energy, 'MarketNotBuyer', [
    m.other.address,
    b0!.address,
  ]);
  // The seller's own wallet may not buy its offer.
  await m.chain.provider.send('hardhat_setBalance', [m.device.address, '0xde0b6b3a7640000']);
  const seller = m.device.connect(m.chain.provider);
  await expectRevert(buy(seller, 10n, seller.address), m.energy, 'MarketSelfTrade', [seller.address]);
  // Expired signed terms, then an expired offer.
  const terms_: Buy = {
    offerId,
    wattHours: 10n,
    buyerWallet: b0!.address,
    pricePerKWh: PRICE,
    nonce: 0n,
    deadline: 1n,
  };
  const sig = await signBuy(b0!, where(m), terms_);
  await expectRevert(m.energy.buyFor(terms_, sig.r, sig.vs, NO_PERMIT), m.energy, 'MarketBuyExpired', [1n]);
  await mineAt(m, start);
  await expectRevert(take(m, 0, offerId, 10n), m.energy, 'MarketOfferExpired', [offerId, start]);
});

buying.run();

// -----------------------------------------------------------------------------------------------

const cancelling = marketSuite('EnergyMarket cancel');

cancelling('the owner withdraws the untaken rest for free; the taken part stays sold', async ({ m }) => {
  const { offerId } = await listed(m);
  await take(m, 0, offerId, 300n);
  await expectEvent(m.energy.cancel(offerId), m.energy, 'OfferCancelled', [offerId, 700n]);
  assert.is((await m.energy.offerOf(offerId)).wattHours, 300n);
  await expectRevert(m.energy.cancel(offerId), m.energy, 'MarketNothingToCancel', [offerId]);
  await expectRevert(take(m, 1, offerId, 1n), m.energy, 'MarketInsufficientWh', [offerId, 1n, 0n]);
  assert.is((await m.readings.holdOf(m.deviceId)).holds, 1n, 'the sold part still holds');
});

cancelling('before expiry only the owner cancels; after it anyone, which ends the hold', async ({ m }) => {
  const { offerId, start } = await listed(m);
  await expectRevert(m.energy.connect(m.other).cancel(offerId), m.energy, 'MarketNotDeviceOwner', [
    m.deviceId,
    m.other.address,
    m.member.address,
  ]);
  await mineAt(m, start);
  await expectEvent(m.energy.connect(m.other).cancel(offerId), m.energy, 'OfferCancelled', [offerId, 1000n]);
  assert.is((await m.readings.holdOf(m.deviceId)).holds, 0n);
  await expectRevert(m.energy.cancel(7n), m.energy, 'MarketUnknownOffer', [7n]);
});

cancelling('a device-signed cancel is relayed; a wrong signer or replay is refused', async ({ m }) => {
  const { offerId } = await listed(m);
  const sig = await signCancel(m.device, where(m), { offerId, nonce: 0n });
  const forged = await signCancel(new Wallet(testKey('forger')), where(m), { offerId, nonce: 0n });
  await expectRevert(
    m.energy.connect(m.relayer).cancelFor(offerId, 0n, forged.r, forged.vs),
    m.energy,
    'MarketInvalidSigner',
    [new Wallet(testKey('forger')).address, m.device.address],
  );
  await expectEvent(
    m.energy.connect(m.relayer).cancelFor(offerId, 0n, sig.r, sig.vs),
    m.energy,
    'OfferCancelled',
    [offerId, 1000n],
  );
  await expectRevert(
    m.energy.connect(m.relayer).cancelFor(offerId, 0n, sig.r, sig.vs),
    m.energy,
    'MarketInvalidNonce',
    [0n, 1n],
  );
});

cancelling.run();

// -----------------------------------------------------------------------------------------------

const settling = marketSuite('EnergyMarket proof and settlement');

settling('partial takes by three buyers are paid pro rata to the proven delivery', async ({ m }) => {
  const { offerId, start } = await listed(m);
  await take(m, 0, offerId, 500n);
  await take(m, 1, offerId, 300n);
  await take(m, 2, offerId, 100n);
  const before = await Promise.all(
    [m.device.address, ...m.buyers.map((b) => b.key.address)].map((a) => balanceOf(m, a)),
  );
  // 150 Wh per quarter: 600 Wh in the window, less than the 900 Wh taken.
  const { startSeq, endSeq } = await deliver(m, start, 150n);
  await expectRevert(m.energy.settle(offerId, m.buyers[0]!.key.address), m.energy, 'MarketNotSettleable', [
    offerId,
    start + HOUR + GRACE,
  ]);
  await setNextTimestamp(m, start + HOUR + 60n);
  await expectEvent(
    m.energy.connect(m.other).proveDelivery(offerId, startSeq, endSeq),
    m.energy,
    'DeliveryProven',
    [offerId, startSeq, endSeq, 600n, 600n],
  );
  const shares = [333n, 200n, 66n]; // 600 × 500/900, × 300/900, × 100/900, rounded down
  const taken = [500n, 300n, 100n];
  for (let i = 0; i < 3; i++) {
    const buyer = m.buyers[i]!.key.address;
    const paid = costOf(shares[i]!, PRICE);
    const receipt = m.energy.connect(m.relayer).settle(offerId, buyer);
    await expectEvent(receipt, m.energy, 'OfferSettled', [offerId, buyer, shares[i]!, paid]);
    assert.is(await m.readings.carbonOfAccount(buyer), shares[i]! * FACTOR, 'credits follow the energy');
    assert.is(await balanceOf(m, buyer), before[i + 1]! + costOf(taken[i]!, PRICE) - paid);
  }
  const sold = 333n + 200n + 66n;
  assert.is(
    await balanceOf(m, m.device.address),
    before[0]! + costOf(333n, PRICE) + costOf(200n, PRICE) + costOf(66n, PRICE),
  );
  assert.is(await balanceOf(m, m.addresses.EnergyMarket!), 0n, 'escrow in = paid out + refunded');
  const account = await m.readings.accountOf(m.deviceId);
  // 600 Wh held in the window, 599 sold: the rounding rest earns the reward, the sold Wh do not.
  assert.is(account.accruedWei, (600n - sold) * RATE);
  assert.is(account.carbonMg, (600n - sold) * FACTOR);
  const hold = await m.readings.holdOf(m.deviceId);
  assert.is(hold.heldWh, 0n);
  assert.is(hold.holds, 0n);
  await expectRevert(m.energy.settle(offerId, m.buyers[0]!.key.address), m.energy, 'MarketNothingToSettle', [
    offerId,
    m.buyers[0]!.key.address,
  ]);
});

settling('more export than taken pays the taken Wh in full and rewards the rest', async ({ m }) => {
  const { offerId, start } = await listed(m);
  await take(m, 0, offerId, 400n);
  // 200 Wh before the window (after listing), 800 in it, 300 after.
  await feed(m, start - 600n, 200n);
  const { startSeq, endSeq } = await deliver(m, start, 200n, 200n);
  await feed(m, start + HOUR + 900n, 1300n);
  await setNextTimestamp(m, start + HOUR + 901n);
  await expectEvent(m.energy.proveDelivery(offerId, startSeq, endSeq), m.energy, 'DeliveryProven', [
    offerId,
    startSeq,
    endSeq,
    800n,
    400n,
  ]);
  await expectEvent(m.energy.settle(offerId, m.buyers[0]!.key.address), m.energy, 'OfferSettled', [
    offerId,
    m.buyers[0]!.key.address,
    400n,
    costOf(400n, PRICE),
  ]);
  const account = await m.readings.accountOf(m.deviceId);
  assert.is(account.accruedWei, (1300n - 400n) * RATE, 'every exported Wh is rewarded or paid, none both');
  assert.is(account.carbonMg, (1300n - 400n) * FACTOR);
  assert.is(await m.readings.carbonOfAccount(m.buyers[0]!.key.address), 400n * FACTOR);
});

settling('a withheld proof refunds every buyer in full after the grace period', async ({ m }) => {
  const { offerId, start } = await listed(m);
  await take(m, 0, offerId, 500n);
  await take(m, 1, offerId, 500n);
  await deliver(m, start, 250n);
  const end = start + HOUR;
  await setNextTimestamp(m, end + GRACE);
  await expectRevert(m.energy.settle(offerId, m.buyers[0]!.key.address), m.energy, 'MarketNotSettleable', [
    offerId,
    end + GRACE,
  ]);
  await setNextTimestamp(m, end + GRACE + 1n);
  await expectRevert(m.energy.proveDelivery(offerId, 2n, 6n), m.energy, 'MarketProofTooLate', [
    offerId,
    end + GRACE,
  ]);
  for (const b of m.buyers.slice(0, 2)) {
    const before = await balanceOf(m, b.key.address);
    const tx = m.energy.settle(offerId, b.key.address);
    await expectEvent(tx, m.energy, 'EscrowRefunded', [offerId, b.key.address, costOf(500n, PRICE)]);
    assert.is(await balanceOf(m, b.key.address), before + costOf(500n, PRICE));
  }
  assert.is(await balanceOf(m, m.device.address), 0n, 'the seller gets nothing');
  // Nothing was sold: all 1000 held Wh earn the reward once the hold ends.
  assert.is((await m.readings.accountOf(m.deviceId)).accruedWei, 1000n * RATE);
});

settling('readings outside the tolerance prove nothing and the seller gets nothing', async ({ m }) => {
  const { offerId, start } = await listed(m);
  await take(m, 0, offerId, 1000n);
  const end = start + HOUR;
  const early = await feed(m, start - TOLERANCE - 300n, 0n);
  const inStart = await feed(m, start - TOLERANCE, 10n);
  const late = await feed(m, start + 2n * 900n, 500n);
  const tooLate = await feed(m, end + TOLERANCE + 1n, 1200n);
  await setNextTimestamp(m, end + TOLERANCE + 2n);
  await expectRevert(
    m.energy.proveDelivery(offerId, early, tooLate),
    m.energy,
    'MarketReadingOutOfTolerance',
    [offerId, early, start - TOLERANCE - 300n, start - TOLERANCE, start],
  );
  await expectRevert(
    m.energy.proveDelivery(offerId, late, tooLate),
    m.energy,
    'MarketReadingOutOfTolerance',
    [offerId, late, start + 1800n, start - TOLERANCE, start],
  );
  await expectRevert(
    m.energy.proveDelivery(offerId, inStart, tooLate),
    m.energy,
    'MarketReadingOutOfTolerance',
    [offerId, tooLate, end + TOLERANCE + 1n, end, end + TOLERANCE],
  );
  await expectRevert(m.energy.proveDelivery(offerId, inStart, 99n), m.readings, 'ReadingsNoCheckpoint', [
    m.deviceId,
    99n,
  ]);
  await mineAt(m, end + GRACE + 1n);
  await expectEvent(m.energy.settle(offerId, m.buyers[0]!.key.address), m.energy, 'OfferSettled', [
    offerId,
    m.buyers[0]!.key.address,
    0n,
    0n,
  ]);
  assert.is(await balanceOf(m, m.device.address), 0n);
});

settling('proofs: too early, nothing taken, twice, and overlapping a previous proof', async ({ m }) => {
  const { offerId, start } = await listed(m);
  const second = await listOffer(m, terms(m, start + HOUR));
  const untaken = await listOffer(m, terms(m, start + 3n * HOUR));
  await take(m, 0, offerId, 500n);
  await take(m, 1, second, 500n);
  await expectRevert(m.energy.proveDelivery(offerId, 1n, 1n), m.energy, 'MarketWindowNotOver', [
    offerId,
    start + HOUR,
  ]);
  const first = await deliver(m, start, 100n);
  // One more reading 5 min into the next window, then the next window's readings.
  const afterEnd = await feed(m, start + HOUR + 300n, 450n);
  const nextEnd = await feed(m, start + 2n * HOUR, 900n);
  // Prove the first window with the late end reading (inside the tolerance).
  await setNextTimestamp(m, start + 2n * HOUR + 1n);
  await (await m.energy.proveDelivery(offerId, first.startSeq, afterEnd)).wait();
  await expectRevert(
    m.energy.proveDelivery(offerId, first.startSeq, afterEnd),
    m.energy,
    'MarketAlreadyProven',
    [offerId],
  );
  // The second window may not restart at its own start reading: those Wh were counted already.
  await expectRevert(m.energy.proveDelivery(second, first.endSeq, nextEnd), m.energy, 'MarketProofOverlap', [
    second,
    first.endSeq,
    start + HOUR + 300n,
  ]);
  // It continues from the first proof's end reading instead.
  await expectEvent(m.energy.proveDelivery(second, afterEnd, nextEnd), m.energy, 'DeliveryProven', [
    second,
    afterEnd,
    nextEnd,
    450n,
    450n,
  ]);
  await mineAt(m, start + 4n * HOUR + 1n);
  await expectRevert(m.energy.proveDelivery(untaken, nextEnd, nextEnd), m.energy, 'MarketNothingTaken', [
    untaken,
  ]);
});

settling('rewards and credits: every exported Wh counted exactly once across two offers', async ({ m }) => {
  const { offerId, start } = await listed(m);
  const second = await listOffer(m, terms(m, start + HOUR));
  await take(m, 0, offerId, 1000n);
  await take(m, 1, second, 200n);
  await take(m, 2, second, 200n);
  // 1 h at 250 Wh per quarter, then 1 h at 100 Wh per quarter.
  const a = await deliver(m, start, 250n);
  let seq = a.endSeq;
  for (let q = 1n; q <= 4n; q++) seq = await feed(m, start + HOUR + q * 900n, 1000n + q * 100n);
  await setNextTimestamp(m, start + 2n * HOUR + 1n);
  await (await m.energy.proveDelivery(offerId, a.startSeq, a.endSeq)).wait();
  await (await m.energy.proveDelivery(second, a.endSeq, seq)).wait();
  for (const [o, b] of [
    [offerId, 0],
    [second, 1],
    [second, 2],
  ] as const)
    await (await m.energy.settle(o, m.buyers[b]!.key.address)).wait();
  const exported = 1400n;
  const sold = 1000n + 200n + 200n;
  const account = await m.readings.accountOf(m.deviceId);
  assert.is(account.accruedWei + sold * RATE, exported * RATE);
  assert.is(account.accruedWei, 0n);
  let buyersCarbon = 0n;
  for (const b of m.buyers) buyersCarbon += await m.readings.carbonOfAccount(b.key.address);
  assert.is(buyersCarbon + account.carbonMg, exported * FACTOR);
  assert.is(await m.readings.carbonOfAccount(m.buyers[0]!.key.address), 1000n * FACTOR);
  assert.is(await m.readings.carbonOfAccount(ZeroAddress), 0n);
});

settling.run();
