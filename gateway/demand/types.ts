/**
 * The ONE normalised DEMAND event. Whoever produces a demand-response request — the operator's hub
 * (which signs it, issue 6) or a utility's OpenADR 3 VTN (gateway/integrations/openadr/) — turns it
 * into this shape, and everything that acts on DEMAND (rules, flows, the battery plan, Home
 * Assistant, Homebridge) reads only this shape. Times are unix seconds so the hub can sign the same
 * object as EIP-712 `uint64` fields without conversion.
 */
import { InputError } from '../errors';

/** OpenADR SIMPLE levels: 0 normal operation, 1 moderate, 2 high, 3 special (emergency) shed. */
export type DemandLevel = 0 | 1 | 2 | 3;

export interface DemandEvent {
  /** Unique and stable across updates of the same event (an OpenADR event id, or the hub's id). */
  id: string;
  /** Where it applies: a grid region, group or postal code as the issuer names it. */
  region: string;
  /** Start, unix seconds. */
  start: number;
  /** End (exclusive), unix seconds; always after `start`. */
  end: number;
  /** How hard to respond, 0 (none) to 3 (emergency). */
  level: DemandLevel;
  /** Import limit asked for during the event, kW; null when the issuer only gives a level. */
  targetKw: number | null;
  /** After this unix second the event must not be acted upon any more (normally = end). */
  expiry: number;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/**
 * Checks an untrusted object (from MQTT, a VTN, a flow) and returns a clean DemandEvent; throws an
 * InputError naming the first bad field, its value and what is allowed.
 */
export function parseDemandEvent(raw: unknown, field = 'demand'): DemandEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new InputError(field, raw, 'an object {id, region, start, end, level, targetKw, expiry}');
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id.length === 0 || r.id.length > 128)
    throw new InputError(`${field}.id`, r.id, 'a string of 1 to 128 characters');
  if (typeof r.region !== 'string' || r.region.length > 128)
    throw new InputError(`${field}.region`, r.region, 'a string of at most 128 characters');
  if (!isInt(r.start) || r.start < 0)
    throw new InputError(`${field}.start`, r.start, 'unix seconds, an integer ≥ 0');
  if (!isInt(r.end) || r.end <= r.start)
    throw new InputError(`${field}.end`, r.end, `unix seconds, an integer after start (${String(r.start)})`);
  if (r.level !== 0 && r.level !== 1 && r.level !== 2 && r.level !== 3)
    throw new InputError(`${field}.level`, r.level, 'one of 0, 1, 2, 3 (OpenADR SIMPLE levels)');
  if (
    r.targetKw !== null &&
    (typeof r.targetKw !== 'number' || !Number.isFinite(r.targetKw) || r.targetKw < 0)
  )
    throw new InputError(`${field}.targetKw`, r.targetKw, 'null or a number of kW ≥ 0');
  if (!isInt(r.expiry) || r.expiry < r.start)
    throw new InputError(
      `${field}.expiry`,
      r.expiry,
      `unix seconds, an integer not before start (${r.start})`,
    );
  return {
    id: r.id,
    region: r.region,
    start: r.start,
    end: r.end,
    level: r.level,
    targetKw: r.targetKw,
    expiry: r.expiry,
  };
}

/** True while `nowS` (unix seconds) is inside the event and the event has not expired. */
export function isDemandActive(event: DemandEvent, nowS: number): boolean {
  return nowS >= event.start && nowS < event.end && nowS < event.expiry && event.level > 0;
}
