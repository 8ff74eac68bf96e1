/**
 * Decoding an adapter's raw configuration (from settings.json or a node) into a typed config with
 * defaults. Every refusal is a ConfigError naming the dotted field, the value and what is allowed;
 * an unknown key is refused too, so a typo cannot silently fall back to a default.
 */
import { ConfigError } from '../errors';

export class ConfigReader {
  private readonly record: Record<string, unknown>;
  private readonly used = new Set<string>();

  /** `prefix` names the object in messages, e.g. `relay.options`. */
  constructor(
    raw: unknown,
    private readonly prefix: string,
  ) {
    if (raw === undefined || raw === null) raw = {};
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(prefix, raw, 'an object');
    this.record = raw as Record<string, unknown>;
  }

  field(key: string): string {
    return this.prefix ? `${this.prefix}.${key}` : key;
  }

  private take(key: string): unknown {
    this.used.add(key);
    return this.record[key];
  }

  string(key: string, fallback: string, pattern?: { test: RegExp; allowed: string }): string;
  string(key: string, fallback: null, pattern?: { test: RegExp; allowed: string }): string | null;
  string(key: string, fallback: string | null, pattern?: { test: RegExp; allowed: string }): string | null {
    const value = this.take(key);
    // null is how settings.json says "not set".
    if (value === undefined || value === null) return fallback;
    const allowed = pattern?.allowed ?? 'a non-empty string';
    if (typeof value !== 'string' || value.trim() === '')
      throw new ConfigError(this.field(key), value, allowed);
    if (pattern && !pattern.test.test(value)) throw new ConfigError(this.field(key), value, allowed);
    return value;
  }

  number(
    key: string,
    fallback: number,
    range: { min?: number; max?: number; integer?: boolean; allowed: string },
  ): number {
    const value = this.take(key);
    if (value === undefined) return fallback;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (range.min === undefined || value >= range.min) &&
      (range.max === undefined || value <= range.max) &&
      (!range.integer || Number.isInteger(value));
    if (!ok) throw new ConfigError(this.field(key), value, range.allowed);
    return value as number;
  }

  /** A string that must be given. */
  requiredString(key: string, pattern?: { test: RegExp; allowed: string }): string {
    const value = this.string(key, null, pattern);
    if (value === null)
      throw new ConfigError(this.field(key), undefined, pattern?.allowed ?? 'a non-empty string');
    return value;
  }

  /** A number that must be given. */
  requiredNumber(
    key: string,
    range: { min?: number; max?: number; integer?: boolean; allowed: string },
  ): number {
    if (this.record[key] === undefined) {
      this.used.add(key);
      throw new ConfigError(this.field(key), undefined, range.allowed);
    }
    return this.number(key, 0, range);
  }

  /** A number or null (absent = null). */
  optionalNumber(
    key: string,
    range: { min?: number; max?: number; integer?: boolean; allowed: string },
  ): number | null {
    return this.record[key] === undefined || this.record[key] === null
      ? (this.used.add(key), null)
      : this.number(key, 0, range);
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.take(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw new ConfigError(this.field(key), value, 'true or false');
    return value;
  }

  oneOf<T extends string | number>(key: string, fallback: T, allowed: readonly T[]): T {
    const value = this.take(key);
    if (value === undefined) return fallback;
    if (!allowed.includes(value as T))
      throw new ConfigError(
        this.field(key),
        value,
        `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`,
      );
    return value as T;
  }

  /** A nested object's reader (missing = empty object). */
  object(key: string): ConfigReader {
    return new ConfigReader(this.take(key), this.field(key));
  }

  /** Refuses keys nobody asked for; call after reading every field. */
  done(): void {
    for (const key of Object.keys(this.record)) {
      if (!this.used.has(key))
        throw new ConfigError(
          this.field(key),
          this.record[key],
          `a known option (known here: ${[...this.used].join(', ') || 'none'})`,
        );
    }
  }
}

/** Minimum and maximum of a range that must be ordered; names the upper field when it is not. */
export function checkOrdered(low: number, high: number, lowField: string, highField: string): void {
  if (low > high) throw new ConfigError(highField, high, `a value ≥ ${lowField} (${low})`);
}
