/**
 * Coercion of the values the editor saves (mostly strings) into typed settings. Blank means "not
 * set"; anything else must parse, or a ConfigError names the field, the value and what's allowed.
 */
import { isAddress } from 'ethers';
import { ConfigError } from '../../gateway/errors';

export function isBlank(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

export interface NumberRange {
  min?: number;
  max?: number;
  integer?: boolean;
  /** What to tell the user, e.g. `a number of ERGON ≥ 0`. */
  allowed: string;
}

/** A number from a number or numeric string; blank → undefined. */
export function optionalNumber(value: unknown, field: string, range: NumberRange): number | undefined {
  if (isBlank(value)) return undefined;
  const parsed = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : NaN;
  const ok =
    Number.isFinite(parsed) &&
    (range.min === undefined || parsed >= range.min) &&
    (range.max === undefined || parsed <= range.max) &&
    (!range.integer || Number.isInteger(parsed));
  if (!ok) throw new ConfigError(field, value, range.allowed);
  return parsed;
}

/** A trimmed string; blank → undefined. */
export function optionalString(value: unknown, field: string): string | undefined {
  if (isBlank(value)) return undefined;
  if (typeof value !== 'string') throw new ConfigError(field, value, 'text');
  return value.trim();
}

export function requiredAddress(value: unknown, field: string): string {
  const text = optionalString(value, field);
  if (text === undefined || !isAddress(text)) {
    throw new ConfigError(field, value, 'a 0x-prefixed 20-byte address (40 hex digits)');
  }
  return text;
}
