/**
 * The payment provider's webhook signature: a header
 *
 *   Hepek-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of `${t}.${rawBody}`>[,v1=<hex>…]
 *
 * signed with the shared webhook secret over the exact bytes of the body. Several `v1` entries are
 * allowed so a provider can sign with the old and the new secret while a secret is rotated; the
 * receiver may also hold several secrets. A request is authentic when any `v1` matches any secret
 * (compared in constant time) and `t` is within the tolerance of the receiver's clock (a captured
 * request cannot be replayed later). Pure: no I/O, the clock is passed in.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Hepek-Signature';
/** How far `t` may be from the receiver's clock, seconds (5 minutes). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export interface ParsedSignature {
  /** Unix seconds. */
  timestamp: number;
  /** The `v1` HMACs as 32-byte buffers. */
  v1: Buffer[];
}

/** Why a signature header is refused; `reason` is a sentence for the 401 body and the log. */
export class SignatureError extends Error {
  constructor(
    readonly kind: 'missing' | 'malformed' | 'stale' | 'mismatch',
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'SignatureError';
  }
}

/** HMAC-SHA256 of `${t}.${body}` under `secret`, lower-case hex. */
export function computeSignature(secret: string, timestamp: number, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The header value a provider sends: one `v1` per secret (rotation). */
export function signatureHeader(
  secrets: string | string[],
  timestamp: number,
  body: string | Buffer,
): string {
  const list = Array.isArray(secrets) ? secrets : [secrets];
  return [`t=${timestamp}`, ...list.map((s) => `v1=${computeSignature(s, timestamp, body)}`)].join(',');
}

/** Parses `t=…,v1=…[,v1=…]`; unknown schemes (v0, v2) are ignored as the provider may add them. */
export function parseSignatureHeader(header: string | string[] | undefined): ParsedSignature {
  if (header === undefined || header === '')
    throw new SignatureError(
      'missing',
      `${SIGNATURE_HEADER} header missing; expected t=<unix time>,v1=<hex>`,
    );
  const text = Array.isArray(header) ? header.join(',') : header;
  let timestamp: number | null = null;
  const v1: Buffer[] = [];
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq < 0) continue;
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value) || timestamp !== null)
        throw new SignatureError(
          'malformed',
          `${SIGNATURE_HEADER}: t=${JSON.stringify(value)} is not allowed; expected one t=<unix time in seconds>`,
        );
      timestamp = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-fA-F]{64}$/.test(value))
        throw new SignatureError(
          'malformed',
          `${SIGNATURE_HEADER}: v1=${JSON.stringify(value.slice(0, 80))} is not allowed; expected 64 hex digits (HMAC-SHA256)`,
        );
      v1.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestamp === null)
    throw new SignatureError(
      'malformed',
      `${SIGNATURE_HEADER}: no t=<unix time>; expected t=<unix time>,v1=<hex>`,
    );
  if (v1.length === 0)
    throw new SignatureError(
      'malformed',
      `${SIGNATURE_HEADER}: no v1=<hex>; expected t=<unix time>,v1=<hex>`,
    );
  return { timestamp, v1 };
}

/**
 * Checks a request: the header parses, `t` is within `toleranceSeconds` of `nowSeconds`, and a
 * `v1` matches the HMAC under one of `secrets`. Every candidate is compared (no early exit), each
 * in constant time. Returns the timestamp; throws SignatureError saying why not.
 */
export function verifySignature(
  header: string | string[] | undefined,
  rawBody: Buffer | string,
  secrets: readonly string[],
  nowSeconds: number,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): number {
  const parsed = parseSignatureHeader(header);
  let match = false;
  for (const secret of secrets) {
    const expected = Buffer.from(computeSignature(secret, parsed.timestamp, rawBody), 'hex');
    for (const given of parsed.v1) if (timingSafeEqual(expected, given)) match = true;
  }
  // The HMAC is checked first so a forged request learns nothing from the timestamp answer.
  if (!match)
    throw new SignatureError(
      'mismatch',
      `${SIGNATURE_HEADER}: no v1 signature matches the webhook secret (HMAC-SHA256 of "t.body" over the raw body)`,
    );
  const skew = nowSeconds - parsed.timestamp;
  if (Math.abs(skew) > toleranceSeconds)
    throw new SignatureError(
      'stale',
      `${SIGNATURE_HEADER}: t=${parsed.timestamp} is ${Math.abs(skew)} s ${skew > 0 ? 'old' : 'in the future'}; the tolerance is ${toleranceSeconds} s (${toleranceSeconds / 60} minutes)`,
    );
  return parsed.timestamp;
}
