/**
 * The DSMR P1 telegram decoder: DSMR 2.2, 3.0, 4.x, 5.0, Belgian e-MUCS (Fluvius), Luxembourg
 * (Smarty) and the vendor variants seen in the field (Easymeter `*255` references, Kamstrup,
 * Sagemcom `1-1:` electricity, `.255` suffixes, `:` for `.` in references, lower-case units).
 *
 * One pass over the bytes, no regular expressions: each line's OBIS reference is read into five
 * numbers, its value groups are located by offset, and a switch on the reference decodes what
 * HEPEK uses; everything else is kept raw in `other`. `decodeTelegram` never throws, whatever the
 * bytes; `parseTelegram` throws one typed error, `TelegramError`, when it refuses a telegram.
 */
import { InputError } from '../../errors';
import { crc16Arc, formatCrc } from './crc16';
import { dsmrTimestampIso } from './timestamp';
import type {
  DsmrTelegram,
  EnergyRegisters,
  MbusReading,
  MbusType,
  PhaseValues,
  TelegramProblem,
} from './types';

const SLASH = 0x2f;
const BANG = 0x21;
const LF = 0x0a;
const CR = 0x0d;
const OPEN = 0x28;
const CLOSE = 0x29;
const STAR = 0x2a;
const DOT = 0x2e;
const MINUS = 0x2d;

/** Why a telegram was refused, with the decoded values for a caller who still wants them. */
export class TelegramError extends InputError {
  constructor(
    readonly problem: TelegramProblem,
    field: string,
    value: unknown,
    allowed: string,
    /** The values decoded in spite of the problem (null when there was no telegram at all). */
    readonly telegram: DsmrTelegram | null,
  ) {
    super(field, value, allowed);
  }
}

export interface DecodeResult {
  /** The decoded values; null only when there is no telegram (no `/`). */
  telegram: DsmrTelegram | null;
  /** Why the telegram must not be trusted, or null when it is fine. */
  error: TelegramError | null;
}

// ---------------------------------------------------------------------------------------------
// Scratch state of the number reader (no allocation per value).
let numMant = 0;
let numFrac = 0;
let numUnitStart = 0;
let numUnitEnd = 0;

/**
 * Reads `[-]digits[.digits][*unit]` from `bytes[start, end)` into the scratch state; false when
 * the group is not a number.
 */
function readNumber(bytes: Uint8Array, start: number, end: number): boolean {
  let p = start;
  let negative = false;
  if (p < end && bytes[p] === MINUS) {
    negative = true;
    p++;
  }
  let mant = 0;
  let digits = 0;
  let frac = 0;
  let seenDot = false;
  for (; p < end; p++) {
    const c = bytes[p]!;
    if (c >= 0x30 && c <= 0x39) {
      mant = mant * 10 + (c - 0x30);
      digits++;
      if (seenDot) frac++;
    } else if (c === DOT && !seenDot) {
      seenDot = true;
    } else break;
  }
  if (digits === 0) return false;
  if (p < end) {
    if (bytes[p] !== STAR) return false;
    numUnitStart = p + 1;
    numUnitEnd = end;
  } else {
    numUnitStart = numUnitEnd = end;
  }
  numMant = negative ? -mant : mant;
  numFrac = frac;
  return true;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/** The scratch number scaled by 10^exp and rounded to an integer, exactly where possible. */
function scaledInt(exp: number): number {
  const shift = exp - numFrac;
  if (shift >= 0) return numMant * (POW10[shift] ?? 10 ** shift);
  return Math.round(numMant / (POW10[-shift] ?? 10 ** -shift));
}

function numberValue(): number {
  return numFrac === 0 ? numMant : numMant / (POW10[numFrac] ?? 10 ** numFrac);
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.prototype.latin1Slice.call(bytes, start, end) as string;
}

const enum Unit {
  None,
  KWh,
  Wh,
  MWh,
  KW,
  W,
  MW,
  Other,
}

/** The scratch number's unit, case-insensitive, without making a string. */
function unitOf(bytes: Uint8Array): Unit {
  const s = numUnitStart;
  const length = numUnitEnd - s;
  if (length === 0) return Unit.None;
  const a = bytes[s]! | 0x20;
  if (length === 1) return a === 0x77 /* w */ ? Unit.W : Unit.Other;
  const b = bytes[s + 1]! | 0x20;
  if (length === 2) {
    if (b === 0x77 /* w */) return a === 0x6b /* k */ ? Unit.KW : a === 0x6d /* m */ ? Unit.MW : Unit.Other;
    return a === 0x77 && b === 0x68 /* wh */ ? Unit.Wh : Unit.Other;
  }
  if (length === 3 && b === 0x77 && (bytes[s + 2]! | 0x20) === 0x68 /* ?wh */)
    return a === 0x6b ? Unit.KWh : a === 0x6d ? Unit.MWh : Unit.Other;
  return Unit.Other;
}

/** Decimal exponent that turns the unit into Wh; NaN when it is not an energy unit. */
function energyExp(unit: Unit): number {
  return unit === Unit.KWh ? 3 : unit === Unit.Wh ? 0 : unit === Unit.MWh ? 6 : NaN;
}

/** Decimal exponent that turns the unit into W; NaN when it is not a power unit. */
function powerExp(unit: Unit): number {
  return unit === Unit.KW ? 3 : unit === Unit.W ? 0 : unit === Unit.MW ? 6 : NaN;
}

/** Printable ASCII from hex (`4B3845...` → `K8E...`), or the text itself when it is not that. */
function decodeText(bytes: Uint8Array, start: number, end: number): string | null {
  if (end <= start) return null;
  const raw = latin1(bytes, start, end);
  if ((end - start) % 2 !== 0) return raw;
  let out = '';
  for (let i = start; i < end; i += 2) {
    const hi = hexDigit(bytes[i]!);
    const lo = hexDigit(bytes[i + 1]!);
    if (hi < 0 || lo < 0) return raw;
    const code = hi * 16 + lo;
    if (code < 0x20 || code > 0x7e) return raw;
    out += String.fromCharCode(code);
  }
  return out;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

function timestampOf(bytes: Uint8Array, start: number, end: number): string | null {
  return dsmrTimestampIso(bytes, start, end);
}

const MBUS_TYPES: Record<number, MbusType> = {
  2: 'electricity',
  3: 'gas',
  4: 'heat',
  6: 'water', // warm water
  7: 'water',
  10: 'cooling',
  11: 'cooling',
  12: 'heat',
  13: 'heat',
  21: 'water', // hot water
  22: 'water', // cold water
};

function emptyPhase(): PhaseValues {
  return { voltageV: null, currentA: null, powerImportW: null, powerExportW: null };
}

function emptyRegisters(): EnergyRegisters {
  return { t1: null, t2: null, total: null };
}

/** Intermediate per-telegram state; the registers are completed at the end. */
interface Registers {
  total: number | null;
  t: (number | null)[];
}

function newRegisters(): Registers {
  return { total: null, t: [null, null, null, null, null] };
}

function finishRegisters(r: Registers): EnergyRegisters {
  const out = emptyRegisters();
  const [, t1, t2, t3, t4] = r.t;
  const anyTariff = t1 !== null || t2 !== null || t3 !== null || t4 !== null;
  if (anyTariff) {
    out.t1 = t1 ?? 0;
    out.t2 = t2 ?? 0;
    if (t3 !== null && t3 !== undefined) out.t3 = t3;
    if (t4 !== null && t4 !== undefined) out.t4 = t4;
    out.total = r.total ?? (t1 ?? 0) + (t2 ?? 0) + (t3 ?? 0) + (t4 ?? 0);
  } else if (r.total !== null) {
    out.t1 = r.total;
    out.t2 = 0;
    out.total = r.total;
  }
  return out;
}

// Group offsets of the current line (a line has at most a few dozen groups; 98.1.0 has ~20).
const MAX_GROUPS = 64;
const groupStart = new Int32Array(MAX_GROUPS);
const groupEnd = new Int32Array(MAX_GROUPS);
const ref = new Int32Array(6);

/** Per-telegram state shared by the line decoders (module functions, not per-call closures). */
interface DecodeState {
  t: DsmrTelegram;
  warnings: string[];
  imported: Registers;
  exported: Registers;
  mbus: Map<number, MbusReading>;
  /** A DSMR 2.2/3.0 gas reading (0-B:24.3.0) whose value follows on the next line. */
  pendingGas: { b: number; unit: string | null; timestamp: string | null } | null;
}

function channel(st: DecodeState, b: number): MbusReading {
  let m = st.mbus.get(b);
  if (!m) {
    m = {
      channel: b,
      type: 'unknown',
      value: null,
      unit: null,
      timestamp: null,
      deviceType: null,
      equipmentId: null,
      valve: null,
    };
    st.mbus.set(b, m);
  }
  return m;
}

function decodeLine(st: DecodeState, b: Uint8Array, s: number, e: number): void {
  // Value groups first (shared by continuation lines and references).
  let q = s;
  if (b[q] !== OPEN) {
    // OBIS reference: up to six numbers separated by - : . *
    let count = 0;
    let cur = -1;
    for (; q < e; q++) {
      const c = b[q]!;
      if (c >= 0x30 && c <= 0x39) {
        cur = (cur < 0 ? 0 : cur * 10) + (c - 0x30);
        if (cur > 9999) return malformed(st, b, s, e);
      } else if (c === MINUS || c === 0x3a /* : */ || c === DOT || c === STAR) {
        if (cur < 0 || count >= 6) return malformed(st, b, s, e);
        ref[count++] = cur;
        cur = -1;
      } else if (c === OPEN) break;
      else return malformed(st, b, s, e);
    }
    if (cur >= 0 && count < 6) ref[count++] = cur;
    if (count < 5 || q >= e) return malformed(st, b, s, e);
    return decodeObject(st, b, s, q, e);
  }
  // A line that is only value groups: the value of a DSMR 2.2/3.0 gas reading.
  const groups = readGroups(b, q, e);
  if (groups < 0) return malformed(st, b, s, e);
  if (st.pendingGas && groups >= 1 && readNumber(b, groupStart[0]!, groupEnd[0]!)) {
    const m = channel(st, st.pendingGas.b);
    const unit = numUnitStart === numUnitEnd ? st.pendingGas.unit : latin1(b, numUnitStart, numUnitEnd);
    setMbusValue(m, unit);
    m.timestamp = st.pendingGas.timestamp;
    st.pendingGas = null;
    return;
  }
  return malformed(st, b, s, e);
}

function malformed(st: DecodeState, b: Uint8Array, s: number, e: number): void {
  if (st.warnings.length < 20)
    st.warnings.push(`unreadable line: ${JSON.stringify(latin1(b, s, Math.min(e, s + 80)))}`);
}

/** Locates `(...)` groups from `q` to `e`; returns their count, or -1 when malformed. */
function readGroups(b: Uint8Array, q: number, e: number): number {
  let g = 0;
  while (q < e) {
    const c = b[q]!;
    if (c !== OPEN) {
      if (c === 0x20 || c === 0x09) {
        q++;
        continue;
      }
      return -1;
    }
    const close = b.indexOf(CLOSE, q + 1);
    if (close < 0 || close >= e) return -1;
    if (g < MAX_GROUPS) {
      groupStart[g] = q + 1;
      groupEnd[g] = close;
      g++;
    }
    q = close + 1;
  }
  return g;
}

function setMbusValue(m: MbusReading, unitRaw: string | null): void {
  const unit = unitRaw === null ? '' : unitRaw.toLowerCase();
  if (unit === 'kwh' || unit === 'wh' || unit === 'mwh') {
    m.value = scaledInt(unit === 'kwh' ? 3 : unit === 'wh' ? 0 : 6);
    m.unit = 'Wh';
  } else {
    m.value = numberValue();
    m.unit = unit === '' ? null : unit === 'm3' ? 'm3' : unit === 'gj' ? 'GJ' : unitRaw;
  }
}

function other(st: DecodeState, b: Uint8Array, s: number, q: number, e: number): void {
  // One string for the line; the key and value are slices of it.
  const line = latin1(b, s, e);
  st.t.other[line.slice(0, q - s)] = line.slice(q - s);
}

/** Energy register → Wh, or null (with a warning) when the value or unit is not energy. */
function energy(st: DecodeState, b: Uint8Array, s: number, q: number, e: number): number | null {
  if (readNumber(b, groupStart[0]!, groupEnd[0]!)) {
    const unit = unitOf(b);
    const exp = unit === Unit.None ? 3 : energyExp(unit);
    if (unit === Unit.None) st.warnings.push(`${latin1(b, s, q)} has no unit; read as kWh`);
    if (!Number.isNaN(exp)) return scaledInt(exp);
  }
  other(st, b, s, q, e);
  return null;
}

function power(st: DecodeState, b: Uint8Array, s: number, q: number, e: number, group = 0): number | null {
  if (readNumber(b, groupStart[group]!, groupEnd[group]!)) {
    const unit = unitOf(b);
    const exp = unit === Unit.None ? 3 : powerExp(unit);
    if (unit === Unit.None) st.warnings.push(`${latin1(b, s, q)} has no unit; read as kW`);
    if (!Number.isNaN(exp)) return scaledInt(exp);
  }
  other(st, b, s, q, e);
  return null;
}

function plain(b: Uint8Array, group = 0): number | null {
  return readNumber(b, groupStart[group]!, groupEnd[group]!) ? numberValue() : null;
}

function decodeObject(st: DecodeState, b: Uint8Array, s: number, q: number, e: number): void {
  const groups = readGroups(b, q, e);
  if (groups < 1) return malformed(st, b, s, e);
  const A = ref[0]!;
  const B = ref[1]!;
  const C = ref[2]!;
  const D = ref[3]!;
  const E = ref[4]!;
  const g0s = groupStart[0]!;
  const g0e = groupEnd[0]!;
  if (A === 1) {
    if ((D === 8 || D === 7) && E <= 4 && (C === 1 || C === 2)) {
      if (D === 8) {
        const regs = C === 1 ? st.imported : st.exported;
        const wh = energy(st, b, s, q, e);
        if (wh !== null) {
          if (E === 0) regs.total = wh;
          else regs.t[E] = wh;
        }
        return;
      }
      if (E === 0) {
        const w = power(st, b, s, q, e);
        if (C === 1) st.t.powerImportW = w;
        else st.t.powerExportW = w;
        return;
      }
    }
    if (D === 7 && E === 0 && C >= 21 && C <= 72) {
      // 21/41/61 import W, 22/42/62 export W, 31/51/71 current A, 32/52/72 voltage V.
      const ph = C < 41 ? st.t.phases.l1 : C < 61 ? st.t.phases.l2 : st.t.phases.l3;
      switch (C % 20) {
        case 1:
          ph.powerImportW = power(st, b, s, q, e);
          return;
        case 2:
          ph.powerExportW = power(st, b, s, q, e);
          return;
        case 11:
          ph.currentA = plain(b);
          return;
        case 12:
          ph.voltageV = plain(b);
          return;
      }
    }
    if (D === 32 && E === 0 && (C === 32 || C === 52 || C === 72)) {
      st.t.voltageSags[C === 32 ? 'l1' : C === 52 ? 'l2' : 'l3'] = plain(b);
      return;
    }
    if (D === 36 && E === 0 && (C === 32 || C === 52 || C === 72)) {
      st.t.voltageSwells[C === 32 ? 'l1' : C === 52 ? 'l2' : 'l3'] = plain(b);
      return;
    }
    if (C === 0 && D === 2 && E === 8) {
      // 1-3:0.2.8(50) → 5.0
      const v = latin1(b, g0s, g0e);
      st.t.version = /^\d\d$/.test(v) ? `${v[0]}.${v[1]}` : v || null;
      return;
    }
    if (C === 1 && D === 4 && E === 0) {
      st.t.averageDemandW = power(st, b, s, q, e);
      return;
    }
    if (C === 1 && D === 6 && E === 0 && groups >= 2) {
      st.t.maxDemandMonth = { timestamp: timestampOf(b, g0s, g0e), powerW: power(st, b, s, q, e, 1) };
      return;
    }
    if (C === 0 && D === 0 && E === 0) {
      st.t.equipmentId ??= decodeText(b, g0s, g0e);
      return;
    }
    return other(st, b, s, q, e);
  }
  if (A === 0 && B === 0) {
    if (C === 1 && D === 0 && E === 0) {
      st.t.timestamp = timestampOf(b, g0s, g0e);
      return;
    }
    if (C === 96) {
      if (D === 1 && (E === 1 || E === 0 || E === 255)) {
        // 96.1.1 is the equipment id in DSMR; some meters use 96.1.0 (E.ON) or 96.1.255 (Easymeter).
        if (E === 1 || st.t.equipmentId === null) st.t.equipmentId = decodeText(b, g0s, g0e);
        return;
      }
      if (D === 1 && E === 4) {
        st.t.emucsVersion = latin1(b, g0s, g0e);
        st.t.variant = 'e-mucs';
        return;
      }
      if (D === 14 && E === 0) {
        st.t.tariff = plain(b);
        return;
      }
      if (D === 7 && E === 21) {
        st.t.powerFailures = plain(b);
        return;
      }
      if (D === 7 && E === 9) {
        st.t.longPowerFailures = plain(b);
        return;
      }
      if (D === 13 && E === 0) {
        st.t.textMessage = decodeText(b, g0s, g0e);
        return;
      }
      if (D === 3 && E === 10) {
        st.t.breakerState = plain(b);
        return;
      }
    }
    if (C === 42 && D === 0 && E === 0) {
      st.t.equipmentId ??= decodeText(b, g0s, g0e);
      return;
    }
    return other(st, b, s, q, e);
  }
  if (A === 0 && B >= 1 && B <= 4) {
    if (C === 24) {
      if (D === 1 && E === 0) {
        const m = channel(st, B);
        m.deviceType = plain(b);
        m.type = MBUS_TYPES[m.deviceType ?? -1] ?? 'unknown';
        return;
      }
      if (D === 2 && groups >= 2) {
        // 24.2.1 (temperature-corrected) / 24.2.3 (not corrected, Fluvius): (stamp)(value*unit)
        if (readNumber(b, groupStart[1]!, groupEnd[1]!)) {
          const m = channel(st, B);
          setMbusValue(m, numUnitStart === numUnitEnd ? null : latin1(b, numUnitStart, numUnitEnd));
          m.timestamp = timestampOf(b, g0s, g0e);
          return;
        }
        return other(st, b, s, q, e);
      }
      if (D === 3 && E === 0 && groups >= 6) {
        // DSMR 2.2/3.0: (stamp)(status)(period)(count)(reference)(unit), value on the next line.
        st.pendingGas = {
          b: B,
          unit: groupEnd[5]! > groupStart[5]! ? latin1(b, groupStart[5]!, groupEnd[5]!) : null,
          timestamp: timestampOf(b, g0s, g0e),
        };
        return;
      }
      if (D === 4 && E === 0) {
        channel(st, B).valve = plain(b);
        return;
      }
    }
    if (C === 96 && D === 1 && (E === 0 || E === 1)) {
      channel(st, B).equipmentId = decodeText(b, g0s, g0e);
      return;
    }
    return other(st, b, s, q, e);
  }
  return other(st, b, s, q, e);
}

function toBytes(input: Uint8Array | string): Uint8Array {
  return typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
}

/** Index of the first `/` at the start of a line, or -1. */
function findStart(bytes: Uint8Array, from: number): number {
  for (let i = from; i < bytes.length; i++) {
    if (bytes[i] === SLASH && (i === 0 || bytes[i - 1] === LF)) return i;
  }
  return -1;
}

/**
 * Decodes the first telegram in `input` (bytes, or a string whose code units are bytes). Never
 * throws. `error` is set when the telegram must not be trusted: no telegram, truncated, a CRC
 * that does not match, a DSMR 4+ telegram without CRC.
 */
export function decodeTelegram(input: Uint8Array | string): DecodeResult {
  try {
    return decode(toBytes(input));
  } catch (err) {
    // Unreachable by design (every index is bounds-checked); a safety net for the promise that
    // nothing throws out of the parser.
    const error = new TelegramError(
      'no-telegram',
      'telegram',
      `${(err as Error).message}`,
      'a DSMR P1 telegram',
      null,
    );
    return { telegram: null, error };
  }
}

/**
 * Decodes and checks a telegram; throws TelegramError when it is refused. With `lenient`, a
 * telegram whose CRC fails, is missing or whose end is cut off is returned anyway (its `crc`
 * says so); only input with no telegram at all still throws.
 */
export function parseTelegram(input: Uint8Array | string, options: { lenient?: boolean } = {}): DsmrTelegram {
  const { telegram, error } = decodeTelegram(input);
  if (error && !(options.lenient && telegram)) throw error;
  return telegram!;
}

function decode(bytes: Uint8Array): DecodeResult {
  const start = findStart(bytes, 0);
  if (start < 0) {
    const error = new TelegramError(
      'no-telegram',
      'telegram',
      `${bytes.length} bytes without a line starting with /`,
      'a DSMR P1 telegram: an identification line starting with /, data lines, and ! with the CRC',
      null,
    );
    return { telegram: null, error };
  }
  const n = bytes.length;
  const warnings: string[] = [];

  // Identification line.
  let p = start + 1;
  while (p < n && bytes[p] !== LF && bytes[p] !== CR) p++;
  const header = latin1(bytes, start + 1, p);

  const t: DsmrTelegram = {
    energyImportWh: emptyRegisters(),
    energyExportWh: emptyRegisters(),
    powerImportW: null,
    powerExportW: null,
    timestamp: null,
    mbus: [],
    crc: { given: null, computed: '0000', valid: null },
    header,
    manufacturer: header.slice(0, 3),
    version: null,
    variant: 'dsmr',
    emucsVersion: null,
    equipmentId: null,
    tariff: null,
    phases: { l1: emptyPhase(), l2: emptyPhase(), l3: emptyPhase() },
    powerFailures: null,
    longPowerFailures: null,
    voltageSags: { l1: null, l2: null, l3: null },
    voltageSwells: { l1: null, l2: null, l3: null },
    averageDemandW: null,
    maxDemandMonth: null,
    breakerState: null,
    textMessage: null,
    other: {},
    warnings,
  };
  const st: DecodeState = {
    t,
    warnings,
    imported: newRegisters(),
    exported: newRegisters(),
    mbus: new Map(),
    pendingGas: null,
  };

  let bang = -1;
  let lineStart = p;
  // Skip the header's line end.
  while (lineStart < n && (bytes[lineStart] === CR || bytes[lineStart] === LF)) lineStart++;

  while (lineStart < n) {
    let lineEnd = bytes.indexOf(LF, lineStart);
    if (lineEnd < 0) lineEnd = n;
    const next = lineEnd + 1;
    let end = lineEnd;
    if (end > lineStart && bytes[end - 1] === CR) end--;
    const first = bytes[lineStart]!;
    if (end === lineStart) {
      lineStart = next;
      continue;
    }
    if (first === BANG) {
      bang = lineStart;
      break;
    }
    if (first === SLASH) {
      // The next telegram starts before this one ended.
      break;
    }
    decodeLine(st, bytes, lineStart, end);
    lineStart = next;
  }

  t.energyImportWh = finishRegisters(st.imported);
  t.energyExportWh = finishRegisters(st.exported);
  for (const m of st.mbus.values()) {
    if (m.type === 'unknown' && m.unit === 'GJ') m.type = 'heat';
    t.mbus.push(m);
  }
  t.mbus.sort((x, y) => x.channel - y.channel);
  if (t.variant === 'dsmr' && t.manufacturer.toLowerCase() === 'lux') t.variant = 'luxembourg';

  // The end: `!` then the CRC (1-4 hex digits; some meters do not pad) up to the line end.
  if (bang < 0) {
    t.crc.computed = formatCrc(crc16Arc(bytes, start, lineStart < n ? lineStart : n));
    const error = new TelegramError(
      'truncated',
      'telegram',
      `${(lineStart < n ? lineStart : n) - start} bytes from / without a line starting with !`,
      'a complete telegram ending in ! and its CRC; it was cut off (or the next telegram started)',
      t,
    );
    return { telegram: t, error };
  }
  const computed = crc16Arc(bytes, start, bang + 1);
  t.crc.computed = formatCrc(computed);
  let c = bang + 1;
  let given = 0;
  let digits = 0;
  while (c < n && digits < 4) {
    const d = hexDigit(bytes[c]!);
    if (d < 0) break;
    given = given * 16 + d;
    digits++;
    c++;
  }
  // The CRC line ends in CR LF (or the input ends); anything else up to the LF is junk.
  let rest = c;
  while (
    rest < n &&
    bytes[rest] !== LF &&
    !(bytes[rest] === CR && (rest + 1 === n || bytes[rest + 1] === LF))
  )
    rest++;
  if (rest > c)
    warnings.push(
      `unexpected bytes after the CRC: ${JSON.stringify(latin1(bytes, c, Math.min(rest, c + 20)))}`,
    );
  if (digits > 0) {
    t.crc.given = formatCrc(given);
    t.crc.valid = given === computed;
    if (!t.crc.valid) {
      const error = new TelegramError(
        'crc-mismatch',
        'crc',
        t.crc.given,
        `${t.crc.computed}, the CRC16/ARC computed over the telegram from / through !; the telegram is corrupt and refused`,
        t,
      );
      return { telegram: t, error };
    }
    return { telegram: t, error: null };
  }
  // No CRC: DSMR 2.2 and 3.0 have none; DSMR 4 and later (and every e-MUCS / Luxembourg
  // telegram) must. `!` must then end its line: anything else there is a damaged CRC.
  const major = t.version === null ? NaN : Number(t.version[0]);
  if (major >= 4 || t.variant !== 'dsmr' || rest > c) {
    const error = new TelegramError(
      'crc-missing',
      'crc',
      rest > c ? latin1(bytes, c, Math.min(rest, c + 8)) : null,
      `4 hex digits after ! (a ${t.variant === 'dsmr' ? `DSMR ${t.version ?? ''}` : t.variant} telegram carries its CRC16/ARC, computed ${t.crc.computed}); the telegram is refused`,
      t,
    );
    return { telegram: t, error };
  }
  return { telegram: t, error: null };
}
