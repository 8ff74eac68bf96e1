/**
 * Pure logic of `hepek-market-buy`: its settings, which open offers to take for a price limit and a
 * delivery window (cheapest first, never this wallet's own), and the message it sends. No RED,
 * timers or I/O. Units: energy Wh, prices ERGON per kWh (offers carry base units per kWh), times
 * unix seconds.
 */
import { formatUnits } from 'ethers';
import { InputError } from '../../gateway/errors';
import type { OfferView } from '../../gateway/market/client';
import { ergonToUnits, toUnixSeconds } from '../hepek-list-offer/logic';
import { optionalNumber } from '../shared/fields';
import type { NodeMessage, NodeStatus } from '../shared/red';

export interface MarketBuySettings {
  /** Take offers at or below this price, ERGON per kWh. */
  maxPriceErgonPerKWh?: number;
  /** Wh to buy per message; undefined = as much as matches. */
  wattHours?: number;
  /** The delivery window must start within this many hours from now. */
  horizonH: number;
}

export function normaliseMarketBuyDef(def: Record<string, unknown>): MarketBuySettings {
  return {
    maxPriceErgonPerKWh: optionalNumber(def.maxPriceErgonPerKWh, 'maxPriceErgonPerKWh', {
      min: 0,
      allowed: 'a price limit in ERGON per kWh > 0, or blank to take it from msg.payload',
    }),
    wattHours: optionalNumber(def.wattHours, 'wattHours', {
      min: 1,
      integer: true,
      allowed: 'a whole number of Wh ≥ 1, or blank for everything that matches',
    }),
    horizonH:
      optionalNumber(def.horizonH, 'horizonH', { min: 1, max: 168, allowed: 'hours from 1 to 168' }) ?? 24,
  };
}

/** What one message asks for, with the node's settings as defaults. */
export interface BuyCriteria {
  maxPricePerKWh: bigint;
  /** Window bounds, unix seconds: the delivery must lie within [from, to]. */
  from: bigint;
  to: bigint;
  /** Wh wanted; undefined = all that matches. */
  wattHours?: bigint;
}

/**
 * `msg.payload` may override: `{maxPriceErgonPerKWh, from, to, wattHours}` (times unix seconds or
 * ISO 8601). Without them: the node's limit and Wh, the window from now to now + horizon.
 */
export function buyCriteria(msg: NodeMessage, s: MarketBuySettings, nowS: bigint): BuyCriteria {
  const p =
    typeof msg.payload === 'object' && msg.payload !== null && !Array.isArray(msg.payload)
      ? (msg.payload as Record<string, unknown>)
      : {};
  const price = p.maxPriceErgonPerKWh ?? s.maxPriceErgonPerKWh;
  if (typeof price !== 'number')
    throw new InputError(
      'payload.maxPriceErgonPerKWh',
      price,
      "a price limit in ERGON per kWh (or set the node's Max price)",
    );
  const from = p.from === undefined ? nowS : toUnixSeconds(p.from, 'payload.from');
  const to =
    p.to === undefined ? nowS + BigInt(Math.round(s.horizonH * 3600)) : toUnixSeconds(p.to, 'payload.to');
  if (!(from < to)) throw new InputError('payload.to', p.to, `a time after payload.from ${from}`);
  const wh = p.wattHours ?? s.wattHours;
  if (wh !== undefined && (typeof wh !== 'number' || !Number.isInteger(wh) || wh < 1))
    throw new InputError('payload.wattHours', wh, 'a whole number of Wh ≥ 1');
  return {
    maxPricePerKWh: ergonToUnits(price, 'payload.maxPriceErgonPerKWh'),
    from,
    to,
    ...(wh === undefined ? {} : { wattHours: BigInt(wh) }),
  };
}

/** The takes to make: offers in the window at or below the limit, cheapest (then earliest) first. */
export function selectTakes(
  offers: OfferView[],
  c: BuyCriteria,
  ownWallet: string,
): Array<{ offerId: bigint; wattHours: bigint; pricePerKWh: bigint }> {
  const own = ownWallet.toLowerCase();
  const matching = offers
    .filter(
      (o) =>
        o.availableWh > 0 &&
        o.sellerWallet.toLowerCase() !== own &&
        BigInt(o.pricePerKWh) <= c.maxPricePerKWh &&
        BigInt(o.deliveryStart) >= c.from &&
        BigInt(o.deliveryEnd) <= c.to,
    )
    .sort((a, b) => {
      const byPrice = BigInt(a.pricePerKWh) - BigInt(b.pricePerKWh);
      return byPrice !== 0n ? (byPrice < 0n ? -1 : 1) : a.deliveryStart - b.deliveryStart;
    });
  const takes: Array<{ offerId: bigint; wattHours: bigint; pricePerKWh: bigint }> = [];
  let left = c.wattHours;
  for (const o of matching) {
    if (left !== undefined && left <= 0n) break;
    const wh = left === undefined ? BigInt(o.availableWh) : minBig(left, BigInt(o.availableWh));
    takes.push({ offerId: BigInt(o.offerId), wattHours: wh, pricePerKWh: BigInt(o.pricePerKWh) });
    if (left !== undefined) left -= wh;
  }
  return takes;
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export interface Bought {
  offerId: number;
  wattHours: number;
  /** ERGON base units escrowed, decimal string. */
  escrow: string;
}

export function buyMessage(msg: NodeMessage, bought: Bought[]): NodeMessage {
  msg.request = msg.payload;
  msg.payload = bought;
  return msg;
}

export function buyStatus(bought: Bought[]): NodeStatus {
  if (bought.length === 0) return { fill: 'yellow', shape: 'ring', text: 'no matching offer' };
  const wh = bought.reduce((a, b) => a + b.wattHours, 0);
  const escrow = bought.reduce((a, b) => a + BigInt(b.escrow), 0n);
  return {
    fill: 'green',
    shape: 'dot',
    text: `bought ${wh} Wh for ${Number(formatUnits(escrow, 18)).toFixed(3)} ERGON`,
  };
}
