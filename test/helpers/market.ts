/**
 * The market fixture: the ledger (deployed by the production plan, EnergyMarket included), the
 * fixture's device onboarded as a prosumer seller owned by `member`, and three buyer HEPEK wallets
 * (device keys of claimed consumer devices) holding ETH and 1000 ERGON each; plus helpers to list,
 * take, feed the seller's readings and read balances.
 */
import { Wallet, id, parseEther, parseUnits, toQuantity } from 'ethers';
import { DEFAULT_MARKET_GRACE_S, DEFAULT_MARKET_TOLERANCE_S } from '../../gateway/chain/deploy';
import { deviceIdFromSerial } from '../../gateway/chain/ids';
import type { Offer } from '../../gateway/chain/typed-data';
import { EnergyMarket__factory, type EnergyMarket } from '../../gateway/chain/types';
import { NO_PERMIT } from '../../gateway/chain/channels';
import { testKey } from './chain';
import { MODE, ledgerFixture, now, onboardDevice, reading, sign, submitAt, type Ledger } from './ledger';

export const TOLERANCE = DEFAULT_MARKET_TOLERANCE_S;
export const GRACE = DEFAULT_MARKET_GRACE_S;
/** 0.25 ERGON per kWh, in ERGON base units per kWh. */
export const PRICE = parseUnits('0.25', 18);
export const HOUR = 3600n;

export interface Buyer {
  key: Wallet;
  deviceId: string;
}

export interface MarketFixture extends Ledger {
  energy: EnergyMarket;
  buyers: Buyer[];
  /** The seller's next reading seq. */
  seq: bigint;
}

export async function marketFixture(): Promise<MarketFixture> {
  const l = await ledgerFixture();
  await onboardDevice(l, { mode: MODE.prosumer });
  await (await l.token.grantRole(id('MINTER_ROLE'), l.admin.address)).wait();
  const buyers: Buyer[] = [];
  for (let i = 0; i < 3; i++) {
    const key = new Wallet(testKey(`buyer-${i}`), l.chain.provider);
    const deviceId = deviceIdFromSerial(`HEPEK-BUYER-${i}`);
    await onboardDevice(l, { deviceId, key, member: l.other, mode: MODE.consumer });
    await l.chain.provider.send('hardhat_setBalance', [key.address, toQuantity(parseEther('10'))]);
    await (await l.token.mint(key.address, parseEther('1000'))).wait();
    buyers.push({ key, deviceId });
  }
  const energy = EnergyMarket__factory.connect(l.addresses.EnergyMarket!, l.member);
  return { ...l, energy, buyers, seq: 1n };
}

/** The seller's offer terms: `wattHours` Wh at PRICE in [start, start + 1 h), expiring at start. */
export function terms(m: MarketFixture, start: bigint, fields: Partial<Offer> = {}): Offer {
  return {
    sellerDeviceId: m.deviceId,
    wattHours: 1000n,
    pricePerKWh: PRICE,
    deliveryStart: start,
    deliveryEnd: start + HOUR,
    expiry: start,
    nonce: 0n,
    ...fields,
  };
}

/** Lists as the owner (member); returns the new offer id. */
export async function listOffer(m: MarketFixture, offer: Offer): Promise<bigint> {
  const id = (await m.energy.offerCount()) + 1n;
  await (await m.energy.connect(m.member).list(offer)).wait();
  return id;
}

/** Buyer `i` approves and takes `wattHours` of the offer directly. */
export async function take(m: MarketFixture, i: number, offerId: bigint, wattHours: bigint): Promise<void> {
  const buyer = m.buyers[i]!.key;
  await (await m.token.connect(buyer).approve(m.addresses.EnergyMarket!, 2n ** 255n)).wait();
  const offer = await m.energy.offerOf(offerId);
  await (
    await m.energy.connect(buyer).buy(offerId, wattHours, buyer.address, offer.pricePerKWh, NO_PERMIT)
  ).wait();
}

/** Submits the seller's next reading at `t` (block time `t`) with export counter `exportWh`; returns its seq. */
export async function feed(m: MarketFixture, t: bigint, exportWh: bigint): Promise<bigint> {
  const seq = m.seq;
  m.seq += 1n;
  await submitAt(m, await sign(m, reading(m, { seq, timestamp: t, importWh: 0n, exportWh })), t);
  return seq;
}

/** A block at `t` with nothing else in it (moves the chain clock). */
export async function mineAt(m: MarketFixture, t: bigint): Promise<void> {
  await m.chain.provider.send('evm_setNextBlockTimestamp', [toQuantity(t)]);
  await m.chain.provider.send('evm_mine', []);
}

/** A time comfortably ahead of the chain: the start of a window that may be listed now. */
export async function nextStart(m: MarketFixture, leadS = 2n * HOUR): Promise<bigint> {
  return (await now(m)) + leadS;
}

export async function balanceOf(m: MarketFixture, who: string): Promise<bigint> {
  return m.token.balanceOf(who);
}
