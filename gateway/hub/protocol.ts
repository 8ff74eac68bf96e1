/**
 * The wire contract between a HEPEK (payer) and the operator's hub, as fixed in docs/money-path.md:
 * every topic string, every payload shape with a strict parser and an encoder, the ack and its
 * codes, and the hub-signed `Demand` and `Tariff` messages. Nothing else in the code base spells a
 * hub topic or a hub payload; both sides import them from here.
 *
 * JSON carries amounts and ids that do not fit a double (wei, channel ids) as decimal strings;
 * times (unix seconds), counters (Wh), sequence numbers and nonces as integers; signatures as 65-byte
 * `0x` hex. Parsers check shape only: whether a signature is low-s, recovers the right key or fits
 * the deposit is the hub's verification (gateway/hub/verify.ts), which answers with an AckCode.
 */
import { getAddress, recoverAddress, type TypedDataDomain } from 'ethers';
import { InputError } from '../errors';
import { parseDemandEvent, type DemandEvent } from '../demand/types';
import {
  assertLowS,
  domainOf,
  hubDigestOf,
  signHubStruct,
  type Demand,
  type Open,
  type Reading,
  type Tariff,
  type TypedDataSigner,
} from '../chain/typed-data';
import type { PermitArg } from '../chain/channels';

// ---------------------------------------------------------------------------------------------
// Topics

/** The device → hub request kinds; each has a topic `hepek/<serial>/hub/<kind>`. */
export const REQUEST_KINDS = ['open', 'voucher', 'reading', 'topup'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

/** A serial as a topic level: no MQTT separators or wildcards, 1–64 printable characters. */
export function checkSerial(serial: unknown, field = 'serial'): string {
  if (typeof serial !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(serial) || /[/+#]/.test(serial))
    throw new InputError(field, serial, 'a device serial of 1 to 64 printable characters without / + #');
  return serial;
}

/** A region or event id as a topic level (the same rule as a serial, up to 128 characters). */
function checkLevel(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(value) || /[/+#]/.test(value))
    throw new InputError(field, value, 'a topic level of 1 to 128 printable characters without / + #');
  return value;
}

export const hubTopics = {
  /** Device → hub request of `kind` (QoS 1, not retained). */
  request: (serial: string, kind: RequestKind): string => `hepek/${checkSerial(serial)}/hub/${kind}`,
  open: (serial: string): string => hubTopics.request(serial, 'open'),
  voucher: (serial: string): string => hubTopics.request(serial, 'voucher'),
  reading: (serial: string): string => hubTopics.request(serial, 'reading'),
  topup: (serial: string): string => hubTopics.request(serial, 'topup'),
  /** Hub → device answers to every request (QoS 1). */
  ack: (serial: string): string => `hepek/${checkSerial(serial)}/hub/ack`,
  /** Retained, hub-signed newest DEMAND event of a region. */
  demand: (region: string): string => `hepek/hub/demand/${checkLevel(region, 'region')}`,
  /** Retained, hub-signed tariff of a region. */
  tariff: (region: string): string => `hepek/hub/tariff/${checkLevel(region, 'region')}`,
  /** Reserved: flexibility bids for a DEMAND event (planning issue). */
  bids: (eventId: string): string => `hepek/hub/bids/${checkLevel(eventId, 'eventId')}`,
  /** What the hub subscribes to: every device's requests. */
  requestFilter: (kind: RequestKind): string => `hepek/+/hub/${kind}`,
} as const;

/** Splits a request topic into serial and kind; null when it is not one. */
export function parseRequestTopic(topic: string): { serial: string; kind: RequestKind } | null {
  const m = /^hepek\/([^/]+)\/hub\/([a-z]+)$/.exec(topic);
  if (!m) return null;
  const kind = m[2] as RequestKind;
  if (!REQUEST_KINDS.includes(kind)) return null;
  return { serial: m[1]!, kind };
}

// ---------------------------------------------------------------------------------------------
// Field checks

type Obj = Record<string, unknown>;
const UINT256_MAX = (1n << 256n) - 1n;

function obj(raw: unknown, field: string, shape: string): Obj {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new InputError(field, raw, `an object ${shape}`);
  return raw as Obj;
}

/** A request id: 1–128 printable characters, chosen by the device, unique per request. */
function requestId(raw: unknown, field: string): string {
  if (typeof raw !== 'string' || !/^[\x20-\x7e]{1,128}$/.test(raw))
    throw new InputError(field, raw, 'a request id of 1 to 128 printable characters');
  return raw;
}

/** A uint256 as a decimal string (no sign, no leading zeros, no exponent). */
function weiString(raw: unknown, field: string, what = 'wei'): bigint {
  if (typeof raw !== 'string' || !/^(0|[1-9][0-9]{0,77})$/.test(raw))
    throw new InputError(field, raw, `a decimal string of ${what} (a uint256, e.g. "1000000000000000000")`);
  const v = BigInt(raw);
  if (v > UINT256_MAX) throw new InputError(field, raw, `a decimal string of ${what} below 2^256`);
  return v;
}

/** A non-negative safe integer (unix seconds, Wh, seq, nonce). */
function uint(raw: unknown, field: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0 || raw > max)
    throw new InputError(field, raw, `${what}, an integer from 0 to ${max}`);
  return raw;
}

function address(raw: unknown, field: string): string {
  if (typeof raw !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(raw))
    throw new InputError(field, raw, 'a 20-byte 0x-hex address');
  try {
    return getAddress(raw);
  } catch {
    throw new InputError(field, raw, 'an address with a valid EIP-55 checksum (or all lower case)');
  }
}

function bytes32(raw: unknown, field: string): string {
  if (typeof raw !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(raw))
    throw new InputError(field, raw, 'a 32-byte 0x-hex value');
  return raw.toLowerCase();
}

/** A 65-byte 0x-hex signature; low-s is the verifier's check (code `high-s`), not the parser's. */
function signature65(raw: unknown, field: string): string {
  if (typeof raw !== 'string' || !/^0x[0-9a-fA-F]{128}(1b|1c|1B|1C)$/.test(raw))
    throw new InputError(field, raw, 'a 65-byte 0x-hex signature (r ‖ s ‖ v, v 27 or 28)');
  return raw.toLowerCase();
}

function text(raw: unknown, field: string, max = 128): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > max)
    throw new InputError(field, raw, `a string of 1 to ${max} characters`);
  return raw;
}

function permit(raw: unknown, field: string): PermitArg {
  const p = obj(raw, field, '{deadline, r, vs}');
  const deadline = uint(p.deadline, `${field}.deadline`, 'unix seconds > 0');
  if (deadline === 0) throw new InputError(`${field}.deadline`, 0, 'unix seconds > 0');
  return { deadline: BigInt(deadline), r: bytes32(p.r, `${field}.r`), vs: bytes32(p.vs, `${field}.vs`) };
}

function encodePermit(p: PermitArg): WirePermit {
  return { deadline: Number(p.deadline), r: p.r, vs: p.vs };
}

// ---------------------------------------------------------------------------------------------
// Requests (device → hub)

export interface WirePermit {
  deadline: number;
  r: string;
  vs: string;
}

/** `hepek/<serial>/hub/open`: a device-signed Open plus an ERC-2612 permit for the deposit. */
export interface OpenMessage {
  id: string;
  open: Open;
  /** 65-byte signature of `open` by the payer (the device key). */
  signature: string;
  permit: PermitArg;
}

/** `hepek/<serial>/hub/voucher`; only channelId and cumulativeAmount are signed. */
export interface VoucherMessage {
  id: string;
  channelId: bigint;
  /** Wei, cumulative over the channel's life. */
  cumulativeAmount: bigint;
  /** Billing cycle number, ≥ 0. */
  cycle: number;
  /** The cumulative import counter (Wh) the amount was computed from. */
  importWh: number;
  tariffId: string;
  signature: string;
}

/** `hepek/<serial>/hub/reading`: a device-signed meter reading for MeterReadings. */
export interface ReadingMessage {
  id: string;
  reading: Reading;
  signature: string;
}

/** `hepek/<serial>/hub/topup`: the permit for `amount` authorises the hub to relay topUp. */
export interface TopUpMessage {
  id: string;
  channelId: bigint;
  /** Wei added to the deposit. */
  amount: bigint;
  permit: PermitArg;
}

export type RequestMessage =
  | { kind: 'open'; message: OpenMessage }
  | { kind: 'voucher'; message: VoucherMessage }
  | { kind: 'reading'; message: ReadingMessage }
  | { kind: 'topup'; message: TopUpMessage };

export function parseOpenMessage(raw: unknown, field = 'open'): OpenMessage {
  const m = obj(raw, field, '{id, open, signature, permit}');
  const o = obj(m.open, `${field}.open`, '{payer, payee, deposit, challengePeriod, nonce}');
  return {
    id: requestId(m.id, `${field}.id`),
    open: {
      payer: address(o.payer, `${field}.open.payer`),
      payee: address(o.payee, `${field}.open.payee`),
      deposit: weiString(o.deposit, `${field}.open.deposit`),
      challengePeriod: BigInt(uint(o.challengePeriod, `${field}.open.challengePeriod`, 'seconds')),
      nonce: BigInt(uint(o.nonce, `${field}.open.nonce`, 'the payer channel nonce', 2 ** 32 - 1)),
    },
    signature: signature65(m.signature, `${field}.signature`),
    permit: permit(m.permit, `${field}.permit`),
  };
}

export function encodeOpenMessage(m: OpenMessage): object {
  return {
    id: m.id,
    open: {
      payer: m.open.payer,
      payee: m.open.payee,
      deposit: m.open.deposit.toString(),
      challengePeriod: Number(m.open.challengePeriod),
      nonce: Number(m.open.nonce),
    },
    signature: m.signature,
    permit: encodePermit(m.permit),
  };
}

export function parseVoucherMessage(raw: unknown, field = 'voucher'): VoucherMessage {
  const m = obj(raw, field, '{id, channelId, cumulativeAmount, cycle, importWh, tariffId, signature}');
  return {
    id: requestId(m.id, `${field}.id`),
    channelId: weiString(m.channelId, `${field}.channelId`, 'a channel id'),
    cumulativeAmount: weiString(m.cumulativeAmount, `${field}.cumulativeAmount`),
    cycle: uint(m.cycle, `${field}.cycle`, 'the billing cycle number'),
    importWh: uint(m.importWh, `${field}.importWh`, 'the cumulative import counter in Wh'),
    tariffId: text(m.tariffId, `${field}.tariffId`),
    signature: signature65(m.signature, `${field}.signature`),
  };
}

export function encodeVoucherMessage(m: VoucherMessage): object {
  return {
    id: m.id,
    channelId: m.channelId.toString(),
    cumulativeAmount: m.cumulativeAmount.toString(),
    cycle: m.cycle,
    importWh: m.importWh,
    tariffId: m.tariffId,
    signature: m.signature,
  };
}

export function parseReadingMessage(raw: unknown, field = 'reading'): ReadingMessage {
  const m = obj(raw, field, '{id, reading, signature}');
  const r = obj(
    m.reading,
    `${field}.reading`,
    '{deviceId, seq, timestamp, importWh, exportWh, batteryPermille}',
  );
  const u64 = (v: unknown, f: string, what: string): bigint => BigInt(uint(v, `${field}.reading.${f}`, what));
  return {
    id: requestId(m.id, `${field}.id`),
    reading: {
      deviceId: bytes32(r.deviceId, `${field}.reading.deviceId`),
      seq: u64(r.seq, 'seq', 'the reading sequence number'),
      timestamp: u64(r.timestamp, 'timestamp', 'unix seconds'),
      importWh: u64(r.importWh, 'importWh', 'the cumulative import counter in Wh'),
      exportWh: u64(r.exportWh, 'exportWh', 'the cumulative export counter in Wh'),
      batteryPermille: uint(r.batteryPermille, `${field}.reading.batteryPermille`, 'battery ‰', 65535),
    },
    signature: signature65(m.signature, `${field}.signature`),
  };
}

export function encodeReadingMessage(m: ReadingMessage): object {
  return {
    id: m.id,
    reading: {
      deviceId: m.reading.deviceId,
      seq: Number(m.reading.seq),
      timestamp: Number(m.reading.timestamp),
      importWh: Number(m.reading.importWh),
      exportWh: Number(m.reading.exportWh),
      batteryPermille: m.reading.batteryPermille,
    },
    signature: m.signature,
  };
}

export function parseTopUpMessage(raw: unknown, field = 'topup'): TopUpMessage {
  const m = obj(raw, field, '{id, channelId, amount, permit}');
  const amount = weiString(m.amount, `${field}.amount`);
  if (amount === 0n) throw new InputError(`${field}.amount`, m.amount, 'a wei amount above 0');
  return {
    id: requestId(m.id, `${field}.id`),
    channelId: weiString(m.channelId, `${field}.channelId`, 'a channel id'),
    amount,
    permit: permit(m.permit, `${field}.permit`),
  };
}

export function encodeTopUpMessage(m: TopUpMessage): object {
  return {
    id: m.id,
    channelId: m.channelId.toString(),
    amount: m.amount.toString(),
    permit: encodePermit(m.permit),
  };
}

/** Parses a request of `kind` (already JSON-decoded). */
export function parseRequest(kind: RequestKind, raw: unknown): RequestMessage {
  switch (kind) {
    case 'open':
      return { kind, message: parseOpenMessage(raw) };
    case 'voucher':
      return { kind, message: parseVoucherMessage(raw) };
    case 'reading':
      return { kind, message: parseReadingMessage(raw) };
    case 'topup':
      return { kind, message: parseTopUpMessage(raw) };
  }
}

/** Decodes an MQTT payload as JSON, naming the topic kind when it is not JSON. */
export function decodeJson(payload: Buffer | string, field: string): unknown {
  const s = typeof payload === 'string' ? payload : payload.toString('utf8');
  try {
    return JSON.parse(s) as unknown;
  } catch {
    throw new InputError(field, s.length > 60 ? `${s.slice(0, 57)}...` : s, 'a JSON object');
  }
}

/** The request id of a payload that failed to parse, so the refusal can still be acked; '' if none. */
export function salvageId(raw: unknown): string {
  if (typeof raw === 'object' && raw !== null && typeof (raw as Obj).id === 'string') {
    const id = (raw as Obj).id as string;
    if (/^[\x20-\x7e]{1,128}$/.test(id)) return id;
  }
  return '';
}

// ---------------------------------------------------------------------------------------------
// Acks (hub → device)

/** Stable machine codes of a refused request, with what each means. */
export const ACK_CODES = {
  stale: 'the voucher is below the newest the hub holds for the channel (or a reading seq already seen)',
  'over-deposit': "the voucher's cumulative amount exceeds the channel's deposit",
  'wrong-signer': "the signature does not recover to the channel's payer (or the Open's payer)",
  'wrong-channel': "the channel is not this device's, or its payee is not this hub",
  'high-s': 'the signature has s above n/2 (EIP-2); the contracts refuse it too',
  'unknown-channel': 'no open channel with that id',
  unregistered: 'the serial is not a registered, active device',
  malformed: 'the payload does not parse (see reason for the field)',
  'chain-unavailable': 'the JSON-RPC node does not answer; resend later',
  rejected: 'the chain refused the relayed transaction (see reason)',
} as const;
export type AckCode = keyof typeof ACK_CODES;

/** What an accepted voucher's ack carries: the newest voucher the hub holds. */
export interface VoucherResult {
  channelId: string;
  cumulativeAmount: string;
}
export interface OpenResult {
  channelId: string;
  txHash: string;
}
export type ReadingStatus = 'queued' | 'submitted' | 'accepted' | 'rejected';
export interface ReadingResult {
  seq: number;
  status: ReadingStatus;
  reason?: string;
}
/** What an accepted top-up's ack carries: the channel's deposit after it, in wei. */
export interface TopUpResult {
  channelId: string;
  deposit: string;
  txHash: string;
}
export interface AckResults {
  open: OpenResult;
  voucher: VoucherResult;
  reading: ReadingResult;
  topup: TopUpResult;
}

export type Ack =
  | { [K in RequestKind]: { id: string; ok: true; kind: K; result: AckResults[K] } }[RequestKind]
  | { id: string; ok: false; kind: RequestKind; code: AckCode; reason: string };

export function ackOk<K extends RequestKind>(id: string, kind: K, result: AckResults[K]): Ack {
  return { id, ok: true, kind, result } as Ack;
}

export function ackError(id: string, kind: RequestKind, code: AckCode, reason: string): Ack {
  return { id, ok: false, kind, code, reason };
}

const READING_STATUSES: readonly ReadingStatus[] = ['queued', 'submitted', 'accepted', 'rejected'];

/** Parses an ack (the device side). */
export function parseAck(raw: unknown, field = 'ack'): Ack {
  const m = obj(raw, field, '{id, ok, kind, result} or {id, ok, kind, code, reason}');
  if (typeof m.id !== 'string') throw new InputError(`${field}.id`, m.id, 'the request id (a string)');
  const kind = m.kind as RequestKind;
  if (!REQUEST_KINDS.includes(kind)) throw new InputError(`${field}.kind`, m.kind, REQUEST_KINDS.join(', '));
  if (m.ok === false) {
    if (typeof m.code !== 'string' || !(m.code in ACK_CODES))
      throw new InputError(`${field}.code`, m.code, Object.keys(ACK_CODES).join(', '));
    if (typeof m.reason !== 'string') throw new InputError(`${field}.reason`, m.reason, 'a sentence');
    return ackError(m.id, kind, m.code as AckCode, m.reason);
  }
  if (m.ok !== true) throw new InputError(`${field}.ok`, m.ok, 'true or false');
  const r = obj(m.result, `${field}.result`, 'the result of the request');
  const dec = (v: unknown, f: string): string => weiString(v, `${field}.result.${f}`).toString();
  switch (kind) {
    case 'voucher':
      return ackOk(m.id, kind, {
        channelId: dec(r.channelId, 'channelId'),
        cumulativeAmount: dec(r.cumulativeAmount, 'cumulativeAmount'),
      });
    case 'open':
      return ackOk(m.id, kind, {
        channelId: dec(r.channelId, 'channelId'),
        txHash: bytes32(r.txHash, `${field}.result.txHash`),
      });
    case 'topup':
      return ackOk(m.id, kind, {
        channelId: dec(r.channelId, 'channelId'),
        deposit: dec(r.deposit, 'deposit'),
        txHash: bytes32(r.txHash, `${field}.result.txHash`),
      });
    case 'reading': {
      const status = r.status as ReadingStatus;
      if (!READING_STATUSES.includes(status))
        throw new InputError(`${field}.result.status`, r.status, READING_STATUSES.join(', '));
      const result: ReadingResult = { seq: uint(r.seq, `${field}.result.seq`, 'the reading seq'), status };
      if (r.reason !== undefined) result.reason = text(r.reason, `${field}.result.reason`, 512);
      return ackOk(m.id, kind, result);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Hub-signed broadcasts: DEMAND events and tariffs

/** The hub's EIP-712 domain: `HEPEK Hub`, version 1, the chain id, verifyingContract = the registry. */
export function hubDomain(chainId: bigint | number, registry: string): TypedDataDomain {
  return domainOf('hub', chainId, registry);
}

/** What a gateway trusts when it checks a hub broadcast. */
export interface HubTrust {
  /** The hub address it trusts (settings `hub.address`). */
  hub: string;
  /** Its own region. */
  region: string;
  /** Now, unix seconds. */
  nowS: number;
}

/** A DemandEvent in the signed form: targetW = round(targetKw × 1000), −1 when targetKw is null. */
export function demandStruct(event: DemandEvent): Demand {
  return {
    id: event.id,
    region: event.region,
    start: event.start,
    end: event.end,
    level: event.level,
    targetW: event.targetKw === null ? -1 : Math.round(event.targetKw * 1000),
    expiry: event.expiry,
  };
}

export interface SignedDemand {
  event: DemandEvent;
  signature: string;
}

export async function signDemand(
  hub: TypedDataSigner,
  domain: TypedDataDomain,
  event: DemandEvent,
): Promise<SignedDemand> {
  const clean = parseDemandEvent(event, 'event');
  return { event: clean, signature: await signHubStruct(hub, 'Demand', domain, demandStruct(clean)) };
}

/** Parses a retained `hepek/hub/demand/<region>` payload (shape only; see verifyDemand). */
export function parseSignedDemand(raw: unknown, field = 'demand'): SignedDemand {
  const m = obj(raw, field, '{event, signature}');
  return {
    event: parseDemandEvent(m.event, `${field}.event`),
    signature: signature65(m.signature, `${field}.signature`),
  };
}

/** The signer a hub-signed message recovers to, refusing high-s like the contracts do. */
function recoverHub(digest: string, signature: string, field: string): string {
  assertLowS(signature, field);
  return recoverAddress(digest, signature);
}

/**
 * Checks a DEMAND broadcast: signed by the trusted hub, not expired (`nowS < expiry`), for the
 * gateway's region. Returns the event; throws an InputError naming what failed.
 */
export function verifyDemand(domain: TypedDataDomain, raw: unknown, trust: HubTrust): DemandEvent {
  const { event, signature } = parseSignedDemand(raw);
  const signer = recoverHub(
    hubDigestOf('Demand', domain, demandStruct(event)),
    signature,
    'demand.signature',
  );
  if (signer !== getAddress(trust.hub))
    throw new InputError(
      'demand.signature',
      signature,
      `a signature by the trusted hub ${getAddress(trust.hub)}`,
    );
  if (trust.nowS >= event.expiry)
    throw new InputError('demand.event.expiry', event.expiry, `a time after now (${trust.nowS})`);
  if (event.region !== trust.region)
    throw new InputError('demand.event.region', event.region, `this gateway's region "${trust.region}"`);
  return event;
}

export interface SignedTariff {
  tariff: Tariff;
  signature: string;
}

/** Checks a tariff's own consistency (see docs/money-path.md) and returns a clean copy. */
export function parseTariff(raw: unknown, field = 'tariff'): Tariff {
  const t = obj(raw, field, '{id, region, validFrom, validUntil, periodStarts, weiPerKWh}');
  const id = text(t.id, `${field}.id`);
  const region = text(t.region, `${field}.region`);
  const u64max = Number.MAX_SAFE_INTEGER;
  const validFrom = uint(t.validFrom, `${field}.validFrom`, 'unix seconds', u64max);
  const validUntil = uint(t.validUntil, `${field}.validUntil`, 'unix seconds', u64max);
  if (validUntil <= validFrom)
    throw new InputError(`${field}.validUntil`, validUntil, `unix seconds after validFrom (${validFrom})`);
  if (!Array.isArray(t.periodStarts) || t.periodStarts.length === 0 || t.periodStarts.length > 1024)
    throw new InputError(`${field}.periodStarts`, t.periodStarts, 'an array of 1 to 1024 unix seconds');
  if (!Array.isArray(t.weiPerKWh) || t.weiPerKWh.length !== t.periodStarts.length)
    throw new InputError(
      `${field}.weiPerKWh`,
      t.weiPerKWh,
      `an array of ${t.periodStarts.length} prices, one per period`,
    );
  const periodStarts: number[] = [];
  for (let i = 0; i < t.periodStarts.length; i++) {
    const f = `${field}.periodStarts[${i}]`;
    const s = uint(t.periodStarts[i], f, 'unix seconds');
    if (i === 0 && s !== validFrom) throw new InputError(f, s, `validFrom (${validFrom})`);
    if (i > 0 && s <= periodStarts[i - 1]!)
      throw new InputError(f, s, `unix seconds after periodStarts[${i - 1}] (${periodStarts[i - 1]})`);
    if (s >= validUntil) throw new InputError(f, s, `unix seconds before validUntil (${validUntil})`);
    periodStarts.push(s);
  }
  const weiPerKWh = (t.weiPerKWh as unknown[]).map((p, i) =>
    typeof p === 'bigint'
      ? checkWei(p, `${field}.weiPerKWh[${i}]`)
      : weiString(p, `${field}.weiPerKWh[${i}]`, 'wei per kWh'),
  );
  return { id, region, validFrom, validUntil, periodStarts, weiPerKWh };
}

function checkWei(v: bigint, field: string): bigint {
  if (v < 0n || v > UINT256_MAX) throw new InputError(field, v, 'wei per kWh, a uint256');
  return v;
}

/** The JSON form of a tariff (prices as decimal strings). */
export function encodeTariff(t: Tariff): object {
  return { ...t, periodStarts: [...t.periodStarts], weiPerKWh: t.weiPerKWh.map(String) };
}

export async function signTariff(
  hub: TypedDataSigner,
  domain: TypedDataDomain,
  tariff: Tariff,
): Promise<SignedTariff> {
  const clean = parseTariff(tariff, 'tariff');
  return { tariff: clean, signature: await signHubStruct(hub, 'Tariff', domain, clean) };
}

/** The JSON payload of a retained tariff broadcast. */
export function encodeSignedTariff(s: SignedTariff): object {
  return { tariff: encodeTariff(s.tariff), signature: s.signature };
}

export function parseSignedTariff(raw: unknown, field = 'tariff'): SignedTariff {
  const m = obj(raw, field, '{tariff, signature}');
  return {
    tariff: parseTariff(m.tariff, `${field}.tariff`),
    signature: signature65(m.signature, `${field}.signature`),
  };
}

/**
 * Checks a tariff broadcast: signed by the trusted hub, not past `validUntil`, for the gateway's
 * region. A tariff whose `validFrom` is still ahead verifies (it is "coming"); the caller keeps
 * billing on the current one until then.
 */
export function verifyTariff(domain: TypedDataDomain, raw: unknown, trust: HubTrust): Tariff {
  const { tariff, signature } = parseSignedTariff(raw);
  const signer = recoverHub(hubDigestOf('Tariff', domain, tariff), signature, 'tariff.signature');
  if (signer !== getAddress(trust.hub))
    throw new InputError(
      'tariff.signature',
      signature,
      `a signature by the trusted hub ${getAddress(trust.hub)}`,
    );
  if (trust.nowS > tariff.validUntil)
    throw new InputError('tariff.validUntil', tariff.validUntil, `a time not before now (${trust.nowS})`);
  if (tariff.region !== trust.region)
    throw new InputError('tariff.region', tariff.region, `this gateway's region "${trust.region}"`);
  return tariff;
}

/**
 * The price (wei per kWh) of a billing cycle that ends at `cycleEndS`: the price of the period the
 * cycle ends in. Periods are half-open `[periodStarts[i], periodStarts[i+1])` and a cycle covers
 * `[start, end)`, so its last second is `end − 1`: a cycle ending exactly at a period boundary is
 * priced by the period it filled, not the one that begins at its end. Returns null when that
 * second is outside `[validFrom, validUntil)`.
 */
export function tariffPriceAt(
  tariff: Tariff,
  cycleEndS: number,
): { period: number; weiPerKWh: bigint } | null {
  const t = cycleEndS - 1;
  if (t < tariff.validFrom || t >= tariff.validUntil) return null;
  // Binary search for the last period starting at or before t.
  let lo = 0;
  let hi = tariff.periodStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (tariff.periodStarts[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  return { period: lo, weiPerKWh: tariff.weiPerKWh[lo]! };
}

/**
 * The tariff and price in force for a cycle ending at `cycleEndS` among verified tariffs: the one
 * with the newest `validFrom` that has begun and covers the cycle; else the newest one that has
 * begun, at its last period's price (the gateway keeps billing on the last valid tariff until a
 * newer one begins). Null when none has begun.
 */
export function tariffInForce(
  tariffs: readonly Tariff[],
  cycleEndS: number,
): { tariff: Tariff; period: number; weiPerKWh: bigint } | null {
  const begun = tariffs.filter((t) => t.validFrom <= cycleEndS - 1).sort((a, b) => b.validFrom - a.validFrom);
  for (const tariff of begun) {
    const price = tariffPriceAt(tariff, cycleEndS);
    if (price) return { tariff, ...price };
  }
  const last = begun[0];
  if (!last) return null;
  // Past its validUntil and nothing newer has begun: keep its last period's price.
  const period = last.periodStarts.length - 1;
  return { tariff: last, period, weiPerKWh: last.weiPerKWh[period]! };
}
