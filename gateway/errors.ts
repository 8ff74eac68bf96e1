/**
 * One typed error hierarchy with stable codes. Every message says what went wrong, which field,
 * the offending value and what is allowed, so a user can fix it without reading the source.
 */
export class HepekError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Settings, node configuration or CLI arguments that cannot be used. */
export class ConfigError extends HepekError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
    options?: { cause?: unknown },
  ) {
    super('HEPEK_CONFIG', `${field}: ${describeValue(value)} is not allowed; expected ${allowed}`, options);
  }
}

/** A message, telegram or request whose content cannot be used. */
export class InputError extends HepekError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
    options?: { cause?: unknown },
  ) {
    super('HEPEK_INPUT', `${field}: ${describeValue(value)} is not allowed; expected ${allowed}`, options);
  }
}

/** A device, port, broker or chain that does not answer or is taken. Recoverable. */
export class DeviceUnavailableError extends HepekError {
  constructor(
    readonly device: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('HEPEK_UNAVAILABLE', `${device}: ${message}`, options);
  }
}

/** Durable state on disk that does not match what it claims to be (journal, keystore, deployments). */
export class StateError extends HepekError {
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('HEPEK_STATE', `${file}: ${message}`, options);
  }
}

/** Render a value for an error message: short, unambiguous, never throws. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  // JSON.stringify would print NaN and ±Infinity as null, hiding the very value that was refused.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    const text = JSON.stringify(value);
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  } catch {
    return String(value);
  }
}
