/**
 * OpenADR 3 event → the normalised DEMAND events (gateway/demand/types.ts) the rest of the gateway
 * acts on: one per interval that carries a SIMPLE level or an IMPORT_CAPACITY_LIMIT. Pure; every
 * malformed field is an InputError naming its path in the event.
 */
import { parseDemandEvent, type DemandEvent, type DemandLevel } from '../../demand/types';
import { InputError } from '../../errors';
import { REGION_TARGET_TYPES, type OadrEvent, type Program, type ValuesMap } from './oadr3';

const DURATION =
  /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** ISO 8601 duration (weeks, days, hours, minutes, seconds; no months/years) → seconds. */
export function parseDuration(text: unknown, field: string): number {
  const m = typeof text === 'string' ? DURATION.exec(text) : null;
  if (!m || text === 'P' || text === 'PT')
    throw new InputError(field, text, 'an ISO 8601 duration like PT1H, PT15M or P1D (no months or years)');
  const [w, d, h, min, s] = m.slice(1).map((v) => (v === undefined ? 0 : Number(v)));
  return w! * 604800 + d! * 86400 + h! * 3600 + min! * 60 + s!;
}

function parseStart(text: unknown, field: string): number {
  const ms = typeof text === 'string' ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw new InputError(field, text, 'an ISO 8601 date-time with a time zone');
  return Math.floor(ms / 1000);
}

function firstValue(payloads: ValuesMap[], type: string): unknown {
  return payloads.find((p) => p && p.type === type)?.values?.[0];
}

function regionOf(event: OadrEvent, program: Program | undefined, fallback: string): string {
  for (const targets of [event.targets, program?.targets])
    for (const type of REGION_TARGET_TYPES) {
      const value = targets?.find((t) => t.type === type)?.values?.[0];
      if (typeof value === 'string' && value) return value;
    }
  if (program?.principalSubdivision) return program.principalSubdivision;
  if (program?.country) return program.country;
  return fallback;
}

/** kW per unit of an IMPORT_CAPACITY_LIMIT, from its payload descriptor (OpenADR default KW). */
function kwFactor(event: OadrEvent, field: string): number {
  const descriptor = event.payloadDescriptors?.find((d) => d.payloadType === 'IMPORT_CAPACITY_LIMIT');
  const units = descriptor?.units ?? 'KW';
  if (units === 'KW') return 1;
  if (units === 'W') return 0.001;
  if (units === 'MW') return 1000;
  throw new InputError(`${field}.payloadDescriptors.units`, units, 'KW, W or MW for IMPORT_CAPACITY_LIMIT');
}

export function normaliseEvent(
  event: OadrEvent,
  program: Program | undefined,
  fallbackRegion: string,
): DemandEvent[] {
  const field = `event ${JSON.stringify(event?.id)}`;
  if (typeof event?.id !== 'string' || event.id.length === 0)
    throw new InputError('event.id', event?.id, 'a non-empty object id');
  if (!Array.isArray(event.intervals) || event.intervals.length === 0)
    throw new InputError(`${field}.intervals`, event.intervals, 'a non-empty list of intervals');
  const region = regionOf(event, program, fallbackRegion);
  const out: DemandEvent[] = [];
  // Intervals without their own period follow each other from the event's start (OpenADR 3 rule).
  let cursor: number | null = event.intervalPeriod
    ? parseStart(event.intervalPeriod.start, `${field}.intervalPeriod.start`)
    : null;
  const defaultDuration = event.intervalPeriod?.duration
    ? parseDuration(event.intervalPeriod.duration, `${field}.intervalPeriod.duration`)
    : null;
  event.intervals.forEach((interval, i) => {
    const at = `${field}.intervals[${i}]`;
    if (!interval || !Array.isArray(interval.payloads))
      throw new InputError(`${at}.payloads`, interval?.payloads, 'a list of {type, values}');
    const start = interval.intervalPeriod
      ? parseStart(interval.intervalPeriod.start, `${at}.intervalPeriod.start`)
      : cursor;
    if (start === null)
      throw new InputError(`${at}.intervalPeriod`, undefined, 'a start here or in event.intervalPeriod');
    const duration = interval.intervalPeriod?.duration
      ? parseDuration(interval.intervalPeriod.duration, `${at}.intervalPeriod.duration`)
      : defaultDuration;
    if (duration === null || duration === 0)
      throw new InputError(
        `${at}.intervalPeriod.duration`,
        interval.intervalPeriod?.duration ?? event.intervalPeriod?.duration,
        'a duration above PT0S (open-ended events are not supported)',
      );
    cursor = start + duration;
    const simple = firstValue(interval.payloads, 'SIMPLE');
    const limit = firstValue(interval.payloads, 'IMPORT_CAPACITY_LIMIT');
    if (simple === undefined && limit === undefined) return; // prices and other signals are not DEMAND
    if (simple !== undefined && simple !== 0 && simple !== 1 && simple !== 2 && simple !== 3)
      throw new InputError(`${at}.payloads.SIMPLE`, simple, 'one of 0, 1, 2, 3');
    if (limit !== undefined && (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0))
      throw new InputError(`${at}.payloads.IMPORT_CAPACITY_LIMIT`, limit, 'a number ≥ 0');
    const targetKw =
      limit === undefined ? null : Math.round((limit as number) * kwFactor(event, field) * 1000) / 1000;
    out.push(
      parseDemandEvent(
        {
          id: event.intervals.length === 1 ? event.id : `${event.id}/${interval.id}`,
          region,
          start,
          end: start + duration,
          level: (simple ?? 1) as DemandLevel,
          targetKw,
          expiry: start + duration,
        },
        at,
      ),
    );
  });
  return out;
}
