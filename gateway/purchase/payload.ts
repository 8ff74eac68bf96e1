/**
 * The webhook body: one JSON object per payment event. Validated at the boundary; every refusal
 * is an InputError naming the field, the value and what is allowed (sent back as HTTP 400).
 *
 *   {
 *     "id": "pay_3NqL…",              the provider's payment id: 1–128 of A-Z a-z 0-9 _ . : -
 *     "type": "payment.succeeded",    the only type that mints
 *     "amountErgon": "25.5",          ERGON as a decimal string (≤ 18 decimals) …
 *     "amountWei": "25500000000000000000", … or base units as an integer string (exactly one of the two)
 *     "currency": "EUR",              what the member paid in (ISO 4217, three capitals), for the books
 *     "deviceSerial": "HPK-0A1B2C3D4E", the HEPEK to credit … (its registered key is the HEPEK wallet)
 *     "wallet": "0x…",                … or the HEPEK wallet itself (at least one of the two)
 *     "member": "0x…"                 optional: must be the device's owner in the registry
 *   }
 */
import { getAddress, id as keccakUtf8, parseUnits } from 'ethers';
import { InputError } from '../errors';

export const PAYMENT_SUCCEEDED = 'payment.succeeded';
const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
const SERIAL_PATTERN = /^[A-Za-z0-9._-]{3,64}$/;
const KNOWN_FIELDS = [
  'id',
  'type',
  'amountErgon',
  'amountWei',
  'currency',
  'deviceSerial',
  'wallet',
  'member',
];

export interface PaymentEvent {
  id: string;
  type: typeof PAYMENT_SUCCEEDED;
  /** ERGON base units (18 decimals). */
  amountWei: bigint;
  currency: string;
  deviceSerial: string | null;
  /** Checksummed HEPEK wallet, when the body names it. */
  wallet: string | null;
  /** Checksummed member address, when the body names it. */
  member: string | null;
}

/** The bytes32 payment id of a Purchase receipt: keccak256 of the provider's id with a prefix. */
export function paymentIdOf(providerId: string): string {
  return keccakUtf8(`hepek-purchase:${providerId}`);
}

function address(field: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(value))
    throw new InputError(field, value, 'a 0x-prefixed 20-byte hex address');
  try {
    return getAddress(value);
  } catch (err) {
    throw new InputError(field, value, 'an address with a valid EIP-55 checksum (or all lower case)', {
      cause: err,
    });
  }
}

/** Parses the raw body; `maxWei` caps one purchase (a typo in the provider's amount mints nothing). */
export function parsePaymentEvent(rawBody: Buffer | string, maxWei: bigint): PaymentEvent {
  let body: unknown;
  try {
    body = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  } catch (err) {
    throw new InputError('body', `${String(rawBody).slice(0, 60)}`, 'a JSON object', { cause: err });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InputError('body', body, 'a JSON object');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b))
    if (!KNOWN_FIELDS.includes(key))
      throw new InputError(key, b[key], `no such field; the known fields are ${KNOWN_FIELDS.join(', ')}`);
  if (typeof b.id !== 'string' || !ID_PATTERN.test(b.id))
    throw new InputError('id', b.id, 'the payment id: 1 to 128 letters, digits, _ . : or -');
  if (b.type !== PAYMENT_SUCCEEDED) throw new InputError('type', b.type, `"${PAYMENT_SUCCEEDED}"`);

  let amountWei: bigint;
  if ((b.amountErgon === undefined) === (b.amountWei === undefined))
    throw new InputError(
      b.amountErgon === undefined ? 'amountErgon' : 'amountWei',
      b.amountErgon === undefined ? undefined : b.amountWei,
      'exactly one of amountErgon (decimal ERGON string) or amountWei (integer string of base units)',
    );
  if (b.amountWei !== undefined) {
    if (typeof b.amountWei !== 'string' || !/^[0-9]{1,78}$/.test(b.amountWei))
      throw new InputError(
        'amountWei',
        b.amountWei,
        'a decimal integer string of ERGON base units, e.g. "25000000000000000000"',
      );
    amountWei = BigInt(b.amountWei);
  } else {
    const text = typeof b.amountErgon === 'number' ? String(b.amountErgon) : b.amountErgon;
    if (typeof text !== 'string' || !/^[0-9]{1,60}(\.[0-9]{1,18})?$/.test(text))
      throw new InputError(
        'amountErgon',
        b.amountErgon,
        'a decimal ERGON amount with at most 18 decimals, e.g. "25.5"',
      );
    amountWei = parseUnits(text, 18);
  }
  const field = b.amountWei !== undefined ? 'amountWei' : 'amountErgon';
  const given = b.amountWei ?? b.amountErgon;
  if (amountWei <= 0n) throw new InputError(field, given, 'an amount greater than zero');
  if (amountWei > maxWei)
    throw new InputError(field, given, `at most ${maxWei} base units (purchases.maxErgon) per payment`);

  if (typeof b.currency !== 'string' || !/^[A-Z]{3}$/.test(b.currency))
    throw new InputError(
      'currency',
      b.currency,
      'an ISO 4217 currency code, three capital letters such as "EUR"',
    );

  let deviceSerial: string | null = null;
  if (b.deviceSerial !== undefined && b.deviceSerial !== null) {
    if (typeof b.deviceSerial !== 'string' || !SERIAL_PATTERN.test(b.deviceSerial))
      throw new InputError(
        'deviceSerial',
        b.deviceSerial,
        'a device serial: 3 to 64 letters, digits, dots, dashes or underscores',
      );
    deviceSerial = b.deviceSerial;
  }
  const wallet = address('wallet', b.wallet);
  if (deviceSerial === null && wallet === null)
    throw new InputError('deviceSerial', b.deviceSerial, 'the HEPEK to credit: deviceSerial or wallet');
  return {
    id: b.id,
    type: PAYMENT_SUCCEEDED,
    amountWei,
    currency: b.currency,
    deviceSerial,
    wallet,
    member: address('member', b.member),
  };
}
