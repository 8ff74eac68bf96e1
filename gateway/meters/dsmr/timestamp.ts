/**
 * DSMR time stamps: `YYMMDDhhmmssX`, local time in the meter's zone (CET/CEST for every country
 * that uses DSMR-style P1: NL, BE, LU, HU, ...), X = `S` (summer, UTC+2) or `W` (winter, UTC+1).
 * DSMR 2.2/3.0 M-Bus stamps have no X; the EU rule (last Sunday of March / October, 01:00 UTC)
 * decides then. Anything that is not a real date (all zeros, month 25, ...) is null, never an error.
 */

const HOUR_MS = 3_600_000;

/** Milliseconds of the EU summer-time switch (01:00 UTC on the last Sunday of `month`, 0-based). */
function lastSundayAt1Utc(year: number, month: number): number {
  const lastDay = new Date(Date.UTC(year, month + 1, 0));
  const day = lastDay.getUTCDate() - lastDay.getUTCDay();
  return Date.UTC(year, month, day, 1);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function two(bytes: Uint8Array, at: number): number {
  return (bytes[at]! - 0x30) * 10 + (bytes[at + 1]! - 0x30);
}

/**
 * The ISO 8601 UTC time of the stamp in `bytes[start, end)`, or null when it is not a valid
 * date-time. Years are 2000 + YY.
 */
export function parseDsmrTimestamp(bytes: Uint8Array, start: number, end: number): string | null {
  const ms = dsmrTimestampMs(bytes, start, end);
  return ms === null ? null : new Date(ms).toISOString();
}

export function dsmrTimestampMs(bytes: Uint8Array, start: number, end: number): number | null {
  const length = end - start;
  if (length !== 12 && length !== 13) return null;
  for (let i = start; i < start + 12; i++) if (!isDigit(bytes[i]!)) return null;
  const year = 2000 + two(bytes, start);
  const month = two(bytes, start + 2);
  const day = two(bytes, start + 4);
  const hour = two(bytes, start + 6);
  const minute = two(bytes, start + 8);
  const second = two(bytes, start + 10);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  if (length === 13) {
    const flag = bytes[start + 12]! | 0x20; // lower case
    if (flag === 0x73 /* s */) return local - 2 * HOUR_MS;
    if (flag === 0x77 /* w */) return local - HOUR_MS;
    return null;
  }
  // No DST flag: winter time unless the instant falls in EU summer time.
  // (The hour repeated in October is ambiguous; it is read as summer time.)
  const asSummer = local - 2 * HOUR_MS;
  const summer = asSummer >= lastSundayAt1Utc(year, 2) && asSummer < lastSundayAt1Utc(year, 9);
  return summer ? asSummer : local - HOUR_MS;
}

const PAD2 = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : `${i}`));

/**
 * The same as `parseDsmrTimestamp`, without a Date for the common S/W case: the local time minus
 * one or two hours, with the day, month and year rolled back by hand when that crosses midnight.
 */
export function dsmrTimestampIso(bytes: Uint8Array, start: number, end: number): string | null {
  if (end - start !== 13) return parseDsmrTimestamp(bytes, start, end);
  const flag = bytes[start + 12]! | 0x20;
  const offset = flag === 0x73 /* s */ ? 2 : flag === 0x77 /* w */ ? 1 : 0;
  if (offset === 0) return null;
  for (let i = start; i < start + 12; i++) if (!isDigit(bytes[i]!)) return null;
  let year = 2000 + two(bytes, start);
  let month = two(bytes, start + 2);
  let day = two(bytes, start + 4);
  let hour = two(bytes, start + 6);
  const minute = two(bytes, start + 8);
  const second = two(bytes, start + 10);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  if (day > daysIn(year, month)) return null;
  hour -= offset;
  if (hour < 0) {
    hour += 24;
    if (--day === 0) {
      if (--month === 0) {
        month = 12;
        year--;
      }
      day = daysIn(year, month);
    }
  }
  return `${year}-${PAD2[month]}-${PAD2[day]}T${PAD2[hour]}:${PAD2[minute]}:${PAD2[second]}.000Z`;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
