/**
 * Register maps as data: each entry says where a value lives, how it is encoded and its unit after
 * scaling. `decodeRegisters` turns raw 16-bit words into numbers; `planReads` groups a map into as
 * few requests as the protocol allows. Nothing here does I/O.
 */

export type RegisterType = 'float32' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'acc32' | 'sunssf';

export interface RegisterDef {
  /** Key in the decoded record, e.g. `powerW`, `l1VoltageV`. */
  name: string;
  /** Protocol address (0-based), relative to the map's base. */
  address: number;
  /** 3 = holding registers, 4 = input registers. */
  fc: 3 | 4;
  type: RegisterType;
  /** Fixed multiplier applied after decoding (e.g. 1000 turns kWh into Wh). Default 1. */
  scale?: number;
  /** Name of a `sunssf` register in the same map: the value is multiplied by 10^sf. */
  scaleFactor?: string;
  /** Unit of the decoded, scaled value. */
  unit: 'W' | 'Wh' | 'V' | 'A' | 'Hz' | '°C' | 'VA' | 'var' | '' | 'enum';
}

export interface RegisterMap {
  /** Device model, for logs and errors. */
  model: string;
  registers: readonly RegisterDef[];
}

export const WORDS: Record<RegisterType, number> = {
  float32: 2,
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  acc32: 2,
  sunssf: 1,
};

/** One read request: `count` registers from `address` with function code `fc`. */
export interface ReadPlan {
  fc: 3 | 4;
  address: number;
  count: number;
}

/**
 * Groups registers into requests: neighbours closer than `maxGap` words share a request (reading a
 * few unused words is cheaper than another round trip), and no request exceeds `maxCount` words
 * (Modbus allows 125).
 */
export function planReads(map: RegisterMap, base = 0, maxGap = 40, maxCount = 120): ReadPlan[] {
  const plans: ReadPlan[] = [];
  for (const fc of [3, 4] as const) {
    const spans = map.registers
      .filter((r) => r.fc === fc)
      .map((r) => ({ start: base + r.address, end: base + r.address + WORDS[r.type] }))
      .sort((a, b) => a.start - b.start);
    let current: ReadPlan | null = null;
    for (const span of spans) {
      if (
        current &&
        span.start - (current.address + current.count) <= maxGap &&
        Math.max(current.address + current.count, span.end) - current.address <= maxCount
      ) {
        current.count = Math.max(current.count, span.end - current.address);
      } else {
        current = { fc, address: span.start, count: span.end - span.start };
        plans.push(current);
      }
    }
  }
  return plans;
}

/** SunSpec's "not implemented" markers decode to null. */
function rawValue(type: RegisterType, words: number[]): number | null {
  const buf = Buffer.alloc(4);
  buf.writeUInt16BE(words[0] ?? 0, 0);
  buf.writeUInt16BE(words[1] ?? 0, 2);
  switch (type) {
    case 'float32': {
      const v = buf.readFloatBE(0);
      return Number.isFinite(v) ? v : null;
    }
    case 'int16': {
      const v = buf.readInt16BE(0);
      return v === -0x8000 ? null : v;
    }
    case 'sunssf': {
      const v = buf.readInt16BE(0);
      return v === -0x8000 || v < -10 || v > 10 ? null : v;
    }
    case 'uint16': {
      const v = buf.readUInt16BE(0);
      return v === 0xffff ? null : v;
    }
    case 'int32': {
      const v = buf.readInt32BE(0);
      return v === -0x80000000 ? null : v;
    }
    case 'uint32': {
      const v = buf.readUInt32BE(0);
      return v === 0xffffffff ? null : v;
    }
    case 'acc32': {
      const v = buf.readUInt32BE(0);
      return v === 0 ? null : v;
    }
  }
}

/** Raw words by protocol address, as read. */
export type RegisterWords = Map<number, number>;

export function wordsFrom(
  plan: ReadPlan,
  data: readonly number[],
  into: RegisterWords = new Map(),
): RegisterWords {
  // Keyed by fc too: input register 0 and holding register 0 are different registers.
  data.forEach((word, i) => into.set(plan.fc * 0x10000 + plan.address + i, word));
  return into;
}

/** Decodes every register of `map` from `words`; missing or not-implemented values are null. */
export function decodeRegisters(
  map: RegisterMap,
  words: RegisterWords,
  base = 0,
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  const raw = (def: RegisterDef): number | null => {
    const at = def.fc * 0x10000 + base + def.address;
    const list: number[] = [];
    for (let i = 0; i < WORDS[def.type]; i++) {
      const word = words.get(at + i);
      if (word === undefined) return null;
      list.push(word);
    }
    return rawValue(def.type, list);
  };
  const byName = new Map(map.registers.map((def) => [def.name, def]));
  for (const def of map.registers) {
    let value = raw(def);
    if (value !== null && def.scaleFactor !== undefined) {
      const sfDef = byName.get(def.scaleFactor);
      const sf = sfDef ? raw(sfDef) : null;
      value = sf === null ? null : value * 10 ** sf;
    }
    if (value !== null && def.scale !== undefined) value *= def.scale;
    // Scaling by 10^-n leaves binary noise (0.1 * 3 = 0.30000000000000004); 9 digits is below any meter's resolution.
    out[def.name] = value === null ? null : Number(value.toPrecision(12));
  }
  return out;
}

/** The words a device holding `values` would serve (the inverse of decodeRegisters; used by simulators and tests). */
export function encodeRegisters(
  map: RegisterMap,
  values: Record<string, number>,
  base = 0,
): { fc: 3 | 4; address: number; word: number }[] {
  const out: { fc: 3 | 4; address: number; word: number }[] = [];
  for (const def of map.registers) {
    const value = values[def.name];
    if (value === undefined) continue;
    let raw = value / (def.scale ?? 1);
    if (def.scaleFactor !== undefined) raw /= 10 ** (values[def.scaleFactor] ?? 0);
    const buf = Buffer.alloc(4);
    switch (def.type) {
      case 'float32':
        buf.writeFloatBE(raw, 0);
        break;
      case 'int16':
      case 'sunssf':
        buf.writeInt16BE(Math.round(raw), 0);
        break;
      case 'uint16':
        buf.writeUInt16BE(Math.round(raw), 0);
        break;
      case 'int32':
        buf.writeInt32BE(Math.round(raw), 0);
        break;
      case 'uint32':
      case 'acc32':
        buf.writeUInt32BE(Math.round(raw), 0);
        break;
    }
    for (let i = 0; i < WORDS[def.type]; i++)
      out.push({ fc: def.fc, address: base + def.address + i, word: buf.readUInt16BE(i * 2) });
  }
  return out;
}
