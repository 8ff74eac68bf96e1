/**
 * NMEA 0183 position sentences from a GPS receiver: `$GPGGA` (fix, altitude) and `$GPRMC`
 * (date, time, validity), from any talker (GP, GN, GL, GA, GB). The checksum (XOR of every
 * character between `$` and `*`) is checked first; a bad sentence is an InputError naming the
 * field, the value and what was expected, and never yields a position.
 */
import { InputError } from '../../errors';

export interface NmeaFix {
  sentence: 'GGA' | 'RMC';
  /** Talker id, e.g. `GP` (GPS) or `GN` (multi-constellation). */
  talker: string;
  /** Latitude, degrees, north positive (WGS 84). */
  latitudeDeg: number;
  /** Longitude, degrees, east positive (WGS 84). */
  longitudeDeg: number;
  /** Altitude above mean sea level, m (GGA only; null from RMC). */
  altitudeM: number | null;
  /** UTC time of the fix: ISO 8601 with the date (RMC), or `hh:mm:ss.sss` (GGA has no date). */
  time: string;
  /** GGA: satellites in use; null from RMC. */
  satellites: number | null;
}

/** A sentence that parsed but carries no fix (GGA quality 0, RMC status V). */
export interface NmeaNoFix {
  sentence: 'GGA' | 'RMC';
  talker: string;
  noFix: true;
}

export function nmeaChecksum(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return sum;
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}

/** `ddmm.mmmm` / `dddmm.mmmm` + hemisphere → signed degrees. */
function coordinate(value: string, hemisphere: string, field: 'latitude' | 'longitude'): number {
  const degDigits = field === 'latitude' ? 2 : 3;
  const pattern = field === 'latitude' ? /^\d{4}(\.\d+)?$/ : /^\d{5}(\.\d+)?$/;
  const allowedHemispheres = field === 'latitude' ? ['N', 'S'] : ['E', 'W'];
  if (!pattern.test(value))
    throw new InputError(
      field,
      value,
      `${field === 'latitude' ? 'ddmm.mmmm' : 'dddmm.mmmm'} (degrees and decimal minutes)`,
    );
  if (!allowedHemispheres.includes(hemisphere))
    throw new InputError(`${field} hemisphere`, hemisphere, allowedHemispheres.join(' or '));
  const degrees = Number(value.slice(0, degDigits));
  const minutes = Number(value.slice(degDigits));
  const max = field === 'latitude' ? 90 : 180;
  if (minutes >= 60 || degrees + minutes / 60 > max)
    throw new InputError(field, value, `at most ${max}° with minutes below 60`);
  const deg = degrees + minutes / 60;
  return Number((hemisphere === 'S' || hemisphere === 'W' ? -deg : deg).toFixed(7));
}

function utcTime(value: string): string {
  const m = /^(\d{2})(\d{2})(\d{2})(\.\d+)?$/.exec(value);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3]) > 60)
    throw new InputError('time', value, 'hhmmss.sss (UTC)');
  const ms = m[4] ? Math.round(Number(m[4]) * 1000) : 0;
  return `${m[1]}:${m[2]}:${m[3]}.${String(ms).padStart(3, '0')}`;
}

/**
 * Parses one sentence (with or without the trailing CR LF). Sentences other than GGA and RMC are
 * an InputError naming `sentence`; a GGA without a fix or an RMC with status V is `{noFix: true}`.
 */
export function parseNmea(line: string): NmeaFix | NmeaNoFix {
  const text = line.trim();
  const m = /^\$([A-Z]{2})([A-Z]{3}),([^*]*)\*([0-9A-Fa-f]{2})$/.exec(text);
  if (!m) {
    if (/^\$[A-Z]{5},[^*]*$/.test(text))
      throw new InputError('checksum', null, 'a sentence ending in *hh (two hex digits)');
    throw new InputError('sentence', text.slice(0, 82), '$ttsss,...*hh (an NMEA 0183 sentence)');
  }
  const [, talker, type, fieldsText, given] = m as unknown as [string, string, string, string, string];
  const computed = nmeaChecksum(`${talker}${type},${fieldsText}`);
  if (parseInt(given, 16) !== computed)
    throw new InputError(
      'checksum',
      `*${given.toUpperCase()}`,
      `*${hex2(computed)} (the XOR of the characters between $ and *)`,
    );
  const f = fieldsText.split(',');
  if (type === 'GGA') {
    // time, lat, N/S, lon, E/W, quality, satellites, hdop, altitude, M, geoid, M, age, station
    const quality = f[5] ?? '';
    if (!/^\d$/.test(quality)) throw new InputError('fix quality', quality, 'a digit 0-8');
    if (quality === '0' || f[1] === '') return { sentence: 'GGA', talker, noFix: true };
    const altitude = f[8] ?? '';
    if (altitude !== '' && !Number.isFinite(Number(altitude)))
      throw new InputError('altitude', altitude, 'metres above mean sea level');
    return {
      sentence: 'GGA',
      talker,
      time: utcTime(f[0] ?? ''),
      latitudeDeg: coordinate(f[1] ?? '', f[2] ?? '', 'latitude'),
      longitudeDeg: coordinate(f[3] ?? '', f[4] ?? '', 'longitude'),
      satellites: f[6] ? Number(f[6]) : null,
      altitudeM: altitude === '' ? null : Number(altitude),
    };
  }
  if (type === 'RMC') {
    // time, status, lat, N/S, lon, E/W, speed kn, course, ddmmyy, variation, E/W[, mode]
    const status = f[1] ?? '';
    if (status !== 'A' && status !== 'V') throw new InputError('status', status, 'A (valid) or V (void)');
    if (status === 'V') return { sentence: 'RMC', talker, noFix: true };
    const time = utcTime(f[0] ?? '');
    const date = /^(\d{2})(\d{2})(\d{2})$/.exec(f[8] ?? '');
    if (!date || Number(date[1]) < 1 || Number(date[1]) > 31 || Number(date[2]) < 1 || Number(date[2]) > 12)
      throw new InputError('date', f[8] ?? '', 'ddmmyy');
    // Two-digit years: NMEA receivers of this century; 80-99 would be the last one.
    const year = Number(date[3]) < 80 ? 2000 + Number(date[3]) : 1900 + Number(date[3]);
    return {
      sentence: 'RMC',
      talker,
      time: `${year}-${date[2]}-${date[1]}T${time}Z`,
      latitudeDeg: coordinate(f[2] ?? '', f[3] ?? '', 'latitude'),
      longitudeDeg: coordinate(f[4] ?? '', f[5] ?? '', 'longitude'),
      satellites: null,
      altitudeM: null,
    };
  }
  throw new InputError('sentence', `${talker}${type}`, 'GGA or RMC');
}

export function isFix(parsed: NmeaFix | NmeaNoFix): parsed is NmeaFix {
  return !('noFix' in parsed);
}
