/**
 * Pure logic of `hepek-list-offer`: its settings, turning a message (one offer, a cancel, or a
 * forecast of surplus export with an optional price forecast) into offer requests, and the status.
 * No RED, timers or I/O. Units: energy Wh, prices ERGON per kWh (converted to base units per kWh
 * for the contract), times unix seconds.
 */
import { parseUnits } from 'ethers';
import { ConfigError, InputError } from '../../gateway/errors';
import type { OfferRequest, OfferView } from '../../gateway/market/client';
import { optionalNumber } from '../shared/fields';
import type { NodeMessage, NodeStatus } from '../shared/red';

export interface ListOfferSettings {
  /** Price when the message brings no price (forecast), ERGON per kWh; undefined = the message must. */
  priceErgonPerKWh?: number;
  /** ERGON per kWh for one unit of the price forecast (per MWh): 0.001 turns EUR/MWh into EUR/kWh. */
  priceScale: number;
  /** Never list below this price, ERGON per kWh. */
  minPriceErgonPerKWh: number;
  /** Share of the forecast surplus to offer, %: forecasts err, an undelivered Wh is not paid. */
  sharePercent: number;
  /** Slots with less to offer are skipped, Wh. */
  minWh: number;
}

export function normaliseListOfferDef(def: Record<string, unknown>): ListOfferSettings {
  return {
    priceErgonPerKWh: optionalNumber(def.priceErgonPerKWh, 'priceErgonPerKWh', {
      min: 0,
      allowed: 'a price in ERGON per kWh > 0, or blank to take it from the message or the price forecast',
    }),
    priceScale:
      optionalNumber(def.priceScale, 'priceScale', {
        min: 0,
        allowed: 'ERGON per kWh per unit of the price forecast (per MWh), e.g. 0.001',
      }) ?? 0.001,
    minPriceErgonPerKWh:
      optionalNumber(def.minPriceErgonPerKWh, 'minPriceErgonPerKWh', {
        min: 0,
        allowed: 'a price floor in ERGON per kWh ≥ 0',
      }) ?? 0,
    sharePercent:
      optionalNumber(def.sharePercent, 'sharePercent', {
        min: 1,
        max: 100,
        allowed: 'a share from 1 to 100 %',
      }) ?? 80,
    minWh:
      optionalNumber(def.minWh, 'minWh', { min: 1, integer: true, allowed: 'a whole number of Wh ≥ 1' }) ??
      100,
  };
}

/** ERGON per kWh (a number) → base units per kWh, exact to 1e-9 ERGON. */
export function ergonToUnits(ergonPerKWh: number, field: string): bigint {
  if (!Number.isFinite(ergonPerKWh) || ergonPerKWh <= 0)
    throw new InputError(field, ergonPerKWh, 'a price in ERGON per kWh > 0');
  return parseUnits(ergonPerKWh.toFixed(9), 18);
}

/** Unix seconds from a number (s), an ISO 8601 string or a Date-compatible ms value in `{ms}`. */
export function toUnixSeconds(value: unknown, field: string): bigint {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return BigInt(value);
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) && Number.isFinite(Date.parse(value)))
    return BigInt(Math.floor(Date.parse(value) / 1000));
  throw new InputError(field, value, 'unix seconds (an integer) or an ISO 8601 time');
}

/** Wh per slot of exportable surplus, as a forecast gives it. */
export interface SurplusSeries {
  /** Start of the first slot, ms since the epoch. */
  startMs: number;
  /** Slot length, minutes. */
  stepMinutes: number;
  /** Surplus export per slot, Wh (negative = none). */
  values: number[];
}

/** `hepek-price-forecast`'s payload: 24 hourly prices per MWh for `date`. */
export interface DayPrices {
  date: string;
  p50: number[];
}

/** What one message asks for. */
export type ListCommand =
  { kind: 'cancel'; offerId: bigint } | { kind: 'list'; offers: OfferRequest[]; skipped: string[] };

/** Where the market stands: what a new window must respect. */
export interface MarketContext {
  nowS: bigint;
  toleranceS: bigint;
  /** Windows of this device's live offers, which a new one may not overlap. */
  ownWindows: Array<{ start: bigint; end: bigint }>;
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError(field, value, 'an object');
  return value as Record<string, unknown>;
}

/**
 * Reads a message:
 * - `msg.topic = "cancel"` with `msg.payload` an offer id (or `{offerId}`) → cancel;
 * - `msg.payload = {wattHours, priceErgonPerKWh?, deliveryStart, deliveryEnd, expiry?}` → one offer;
 * - `msg.payload = {surplus: {startMs, stepMinutes, values}, prices?: {date, p50}}` → one offer per
 *   slot with at least `minWh` to sell (the configured share of it), priced from the forecast hour.
 * Windows that start too soon (less than the tolerance ahead) or overlap a live offer are skipped
 * with a reason; a malformed message is an InputError naming the field.
 */
export function parseListMessage(msg: NodeMessage, s: ListOfferSettings, market: MarketContext): ListCommand {
  if (msg.topic === 'cancel') {
    const raw =
      typeof msg.payload === 'object' && msg.payload !== null
        ? (msg.payload as { offerId?: unknown }).offerId
        : msg.payload;
    if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1)
      throw new InputError('payload', msg.payload, 'an offer id (integer ≥ 1) or {offerId} to cancel');
    return { kind: 'cancel', offerId: BigInt(raw) };
  }
  const p = record(msg.payload, 'payload');
  const candidates: Array<{ request: OfferRequest; label: string }> = [];
  if (p.surplus !== undefined) {
    const surplus = parseSurplus(p.surplus);
    const prices = p.prices === undefined ? null : parsePrices(p.prices);
    const stepS = BigInt(surplus.stepMinutes * 60);
    surplus.values.forEach((wh, i) => {
      const start = BigInt(Math.floor(surplus.startMs / 1000)) + BigInt(i) * stepS;
      const offered = Math.floor((wh * s.sharePercent) / 100);
      if (offered < s.minWh) return;
      const price = priceFor(start, prices, s);
      candidates.push({
        request: {
          wattHours: BigInt(offered),
          pricePerKWh: ergonToUnits(price, 'price'),
          deliveryStart: start,
          deliveryEnd: start + stepS,
        },
        label: `slot ${i}`,
      });
    });
  } else {
    const wattHours = p.wattHours;
    if (typeof wattHours !== 'number' || !Number.isInteger(wattHours) || wattHours < 1)
      throw new InputError('payload.wattHours', wattHours, 'a whole number of Wh ≥ 1');
    const price = p.priceErgonPerKWh ?? s.priceErgonPerKWh;
    if (typeof price !== 'number')
      throw new InputError(
        'payload.priceErgonPerKWh',
        price,
        "a price in ERGON per kWh (or set the node's Price)",
      );
    const start = toUnixSeconds(p.deliveryStart, 'payload.deliveryStart');
    const end = toUnixSeconds(p.deliveryEnd, 'payload.deliveryEnd');
    if (!(start < end))
      throw new InputError(
        'payload.deliveryEnd',
        p.deliveryEnd,
        `a time after deliveryStart ${p.deliveryStart}`,
      );
    const expiry = p.expiry === undefined ? start : toUnixSeconds(p.expiry, 'payload.expiry');
    candidates.push({
      request: {
        wattHours: BigInt(wattHours),
        pricePerKWh: ergonToUnits(Math.max(price, s.minPriceErgonPerKWh), 'payload.priceErgonPerKWh'),
        deliveryStart: start,
        deliveryEnd: end,
        expiry,
      },
      label: 'offer',
    });
  }
  const offers: OfferRequest[] = [];
  const skipped: string[] = [];
  const taken = [...market.ownWindows];
  for (const { request, label } of candidates) {
    const { deliveryStart: start, deliveryEnd: end } = request;
    if (start < market.nowS + market.toleranceS) {
      skipped.push(`${label}: starts in less than ${market.toleranceS} s`);
      continue;
    }
    if (taken.some((w) => start < w.end && w.start < end)) {
      skipped.push(`${label}: overlaps a live offer of this device`);
      continue;
    }
    taken.push({ start, end });
    offers.push(request);
  }
  return { kind: 'list', offers, skipped };
}

function parseSurplus(value: unknown): SurplusSeries {
  const s = record(value, 'payload.surplus');
  if (typeof s.startMs !== 'number' || !Number.isFinite(s.startMs))
    throw new InputError('payload.surplus.startMs', s.startMs, 'ms since the epoch');
  if (
    typeof s.stepMinutes !== 'number' ||
    !Number.isInteger(s.stepMinutes) ||
    s.stepMinutes < 1 ||
    1440 % s.stepMinutes !== 0
  )
    throw new InputError(
      'payload.surplus.stepMinutes',
      s.stepMinutes,
      'a slot length in minutes that divides 1440',
    );
  if (!Array.isArray(s.values))
    throw new InputError('payload.surplus.values', s.values, 'an array of Wh per slot');
  s.values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new InputError(`payload.surplus.values[${i}]`, v, 'Wh, a finite number');
  });
  return { startMs: s.startMs, stepMinutes: s.stepMinutes, values: s.values as number[] };
}

function parsePrices(value: unknown): DayPrices {
  const p = record(value, 'payload.prices');
  if (typeof p.date !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(p.date))
    throw new InputError('payload.prices.date', p.date, 'the forecast day as YYYY-MM-DD');
  if (
    !Array.isArray(p.p50) ||
    p.p50.length !== 24 ||
    p.p50.some((v) => typeof v !== 'number' || !Number.isFinite(v))
  )
    throw new InputError('payload.prices.p50', p.p50, '24 hourly prices per MWh');
  return { date: p.date, p50: p.p50 as number[] };
}

/** The price of the slot starting at `startS`: the forecast hour's P50 scaled, else the fixed price. */
function priceFor(startS: bigint, prices: DayPrices | null, s: ListOfferSettings): number {
  let price = s.priceErgonPerKWh;
  if (prices) {
    const hour = Math.floor((Number(startS) * 1000 - Date.parse(`${prices.date}T00:00:00Z`)) / 3_600_000);
    if (hour >= 0 && hour < 24) price = prices.p50[hour]! * s.priceScale;
  }
  if (price === undefined)
    throw new ConfigError(
      'priceErgonPerKWh',
      '',
      'a price in ERGON per kWh, or prices in the message covering every slot',
    );
  return Math.max(price, s.minPriceErgonPerKWh, 1e-9);
}

/** The output: what was listed (or cancelled) and what was skipped. */
export function listMessage(
  msg: NodeMessage,
  result: { listed: OfferView[]; skipped: string[]; cancelled?: number },
): NodeMessage {
  msg.request = msg.payload;
  msg.payload = result.cancelled !== undefined ? { cancelled: result.cancelled } : result.listed;
  msg.skipped = result.skipped;
  return msg;
}

export function listStatus(result: {
  listed: OfferView[];
  skipped: string[];
  cancelled?: number;
}): NodeStatus {
  if (result.cancelled !== undefined)
    return { fill: 'grey', shape: 'dot', text: `cancelled #${result.cancelled}` };
  const wh = result.listed.reduce((a, o) => a + o.wattHours, 0);
  return {
    fill: result.listed.length > 0 ? 'green' : 'yellow',
    shape: 'dot',
    text: `listed ${result.listed.length} (${wh} Wh)${result.skipped.length ? `, skipped ${result.skipped.length}` : ''}`,
  };
}
