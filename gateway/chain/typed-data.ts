import { Signature, TypedDataEncoder, type TypedDataDomain, type TypedDataField } from 'ethers';
import { InputError } from '../errors';

/**
 * The ONE definition of every EIP-712 struct HEPEK signs: the contracts' tests, the gateway, the
 * hub and the DApp all import it from here, so a field can never drift between signer and verifier.
 * Each struct's field list must equal the Solidity `*_TYPEHASH` string of the contract that checks it
 * (a test compares them).
 */

/** The contracts that verify typed data, each with its own EIP-712 domain name (version "1"). */
export const DOMAIN_NAMES = {
  registry: 'HEPEK GatewayRegistry',
  readings: 'HEPEK MeterReadings',
  channels: 'HEPEK PaymentChannels',
  purchase: 'HEPEK Purchase',
  market: 'HEPEK EnergyMarket',
  /** Off-chain messages the hub signs (DEMAND events, tariffs); verifyingContract = the registry. */
  hub: 'HEPEK Hub',
} as const;
export type DomainKind = keyof typeof DOMAIN_NAMES;
export const DOMAIN_VERSION = '1';

/**
 * A contract's domain. Chain id and verifying contract are always part of it so a message signed for
 * one deployment can never be replayed on another chain or another instance.
 */
export function domainOf(
  kind: DomainKind,
  chainId: bigint | number,
  verifyingContract: string,
): TypedDataDomain {
  return { name: DOMAIN_NAMES[kind], version: DOMAIN_VERSION, chainId, verifyingContract };
}

type Types = Record<string, TypedDataField[]>;

/** `Claim(bytes32 deviceId,address member,uint256 nonce)` — GatewayRegistry.claim, signed by the device key. */
export const CLAIM_TYPES: Types = {
  Claim: [
    { name: 'deviceId', type: 'bytes32' },
    { name: 'member', type: 'address' },
    { name: 'nonce', type: 'uint256' },
  ],
};

/**
 * `KeyRotation(bytes32 deviceId,address newKey,uint256 nonce)` — GatewayRegistry.rotateKey, signed by
 * the NEW key (proof the owner holds it); the owner sends the transaction. Shares the claim nonces.
 */
export const KEY_ROTATION_TYPES: Types = {
  KeyRotation: [
    { name: 'deviceId', type: 'bytes32' },
    { name: 'newKey', type: 'address' },
    { name: 'nonce', type: 'uint256' },
  ],
};

/**
 * `Reading(bytes32 deviceId,uint64 seq,uint64 timestamp,uint64 importWh,uint64 exportWh,uint16 batteryPermille)`
 * — MeterReadings, signed by the device key. Counters are cumulative Wh; timestamp in unix seconds.
 */
export const READING_TYPES: Types = {
  Reading: [
    { name: 'deviceId', type: 'bytes32' },
    { name: 'seq', type: 'uint64' },
    { name: 'timestamp', type: 'uint64' },
    { name: 'importWh', type: 'uint64' },
    { name: 'exportWh', type: 'uint64' },
    { name: 'batteryPermille', type: 'uint16' },
  ],
};

/**
 * `Open(address payer,address payee,uint256 deposit,uint64 challengePeriod,uint256 nonce)` —
 * PaymentChannels.open, signed by the device key (payer = HEPEK wallet); challengePeriod in seconds.
 */
export const OPEN_TYPES: Types = {
  Open: [
    { name: 'payer', type: 'address' },
    { name: 'payee', type: 'address' },
    { name: 'deposit', type: 'uint256' },
    { name: 'challengePeriod', type: 'uint64' },
    { name: 'nonce', type: 'uint256' },
  ],
};

/** `Voucher(uint256 channelId,uint256 cumulativeAmount)` — signed each billing cycle by the key recorded at open. */
export const VOUCHER_TYPES: Types = {
  Voucher: [
    { name: 'channelId', type: 'uint256' },
    { name: 'cumulativeAmount', type: 'uint256' },
  ],
};

/** `Receipt(bytes32 paymentId,address hepekWallet,uint256 amount)` — Purchase, signed by the operator. */
export const RECEIPT_TYPES: Types = {
  Receipt: [
    { name: 'paymentId', type: 'bytes32' },
    { name: 'hepekWallet', type: 'address' },
    { name: 'amount', type: 'uint256' },
  ],
};

export interface Claim {
  deviceId: string;
  member: string;
  nonce: bigint;
}
export interface KeyRotation {
  deviceId: string;
  newKey: string;
  nonce: bigint;
}
export interface Reading {
  deviceId: string;
  seq: bigint;
  timestamp: bigint;
  importWh: bigint;
  exportWh: bigint;
  batteryPermille: number;
}
export interface Open {
  payer: string;
  payee: string;
  deposit: bigint;
  challengePeriod: bigint;
  nonce: bigint;
}
export interface Voucher {
  channelId: bigint;
  cumulativeAmount: bigint;
}
export interface Receipt {
  paymentId: string;
  hepekWallet: string;
  amount: bigint;
}

/**
 * `Demand(string id,string region,uint64 start,uint64 end,uint8 level,int64 targetW,uint64 expiry)` —
 * a DEMAND event signed by the hub key (domain `hub`). `targetW` = round(targetKw × 1000), −1 when
 * the event gives only a level. Checked off-chain by gateways, never by a contract.
 */
export const DEMAND_TYPES: Types = {
  Demand: [
    { name: 'id', type: 'string' },
    { name: 'region', type: 'string' },
    { name: 'start', type: 'uint64' },
    { name: 'end', type: 'uint64' },
    { name: 'level', type: 'uint8' },
    { name: 'targetW', type: 'int64' },
    { name: 'expiry', type: 'uint64' },
  ],
};

/**
 * `Tariff(string id,string region,uint64 validFrom,uint64 validUntil,uint64[] periodStarts,uint256[] weiPerKWh)`
 * — a time-of-use tariff signed by the hub key (domain `hub`); period i starts at periodStarts[i],
 * prices in ERGON base units per kWh.
 */
export const TARIFF_TYPES: Types = {
  Tariff: [
    { name: 'id', type: 'string' },
    { name: 'region', type: 'string' },
    { name: 'validFrom', type: 'uint64' },
    { name: 'validUntil', type: 'uint64' },
    { name: 'periodStarts', type: 'uint64[]' },
    { name: 'weiPerKWh', type: 'uint256[]' },
  ],
};

/** The signed form of a DemandEvent (gateway/demand/types.ts); times in unix seconds. */
export interface Demand {
  id: string;
  region: string;
  start: number;
  end: number;
  level: number;
  targetW: number;
  expiry: number;
}
/** A time-of-use tariff: times in unix seconds, prices in wei per kWh. */
export interface Tariff {
  id: string;
  region: string;
  validFrom: number;
  validUntil: number;
  periodStarts: number[];
  weiPerKWh: bigint[];
}

/**
 * The structs only the HUB key signs. Deliberately NOT in STRUCTS: the DApp's demo member wallet
 * signs any struct listed there, and a member must never be able to produce a DEMAND event or a
 * tariff that verifies. Use signHubStruct / hubDigestOf for these.
 */
export const HUB_STRUCTS = {
  Demand: { domain: 'hub', types: DEMAND_TYPES },
  Tariff: { domain: 'hub', types: TARIFF_TYPES },
} as const satisfies Record<string, { domain: DomainKind; types: Types }>;
export type HubStructName = keyof typeof HUB_STRUCTS;

/** The Solidity-style type string of a hub struct. */
export function encodeHubType(name: HubStructName): string {
  return TypedDataEncoder.from(HUB_STRUCTS[name].types).encodeType(name);
}

/** The EIP-712 digest of a hub struct. */
export function hubDigestOf(name: HubStructName, domain: TypedDataDomain, value: object): string {
  return TypedDataEncoder.hash(domain, HUB_STRUCTS[name].types, value as Record<string, unknown>);
}

/** Signs a hub struct with the hub key; returns a 65-byte low-s signature. */
export async function signHubStruct(
  signer: TypedDataSigner,
  name: HubStructName,
  domain: TypedDataDomain,
  value: object,
): Promise<string> {
  const raw = await signer.signTypedData(domain, HUB_STRUCTS[name].types, value as Record<string, unknown>);
  return toLowS(raw);
}

/** Every struct with its domain kind, primary type and field list, for generic code and tests. */
export const STRUCTS = {
  Claim: { domain: 'registry', types: CLAIM_TYPES },
  KeyRotation: { domain: 'registry', types: KEY_ROTATION_TYPES },
  Reading: { domain: 'readings', types: READING_TYPES },
  Open: { domain: 'channels', types: OPEN_TYPES },
  Voucher: { domain: 'channels', types: VOUCHER_TYPES },
  Receipt: { domain: 'purchase', types: RECEIPT_TYPES },
} as const satisfies Record<string, { domain: DomainKind; types: Types }>;
export type StructName = keyof typeof STRUCTS;

/** The Solidity type string of a struct, e.g. `Voucher(uint256 channelId,uint256 cumulativeAmount)`. */
export function encodeType(name: StructName): string {
  return TypedDataEncoder.from(STRUCTS[name].types).encodeType(name);
}

/** The EIP-712 digest a contract recovers from. */
export function digestOf(name: StructName, domain: TypedDataDomain, value: object): string {
  return TypedDataEncoder.hash(domain, STRUCTS[name].types, value as Record<string, unknown>);
}

/** Anything that signs typed data: a DeviceSigner, an ethers Wallet or a JSON-RPC signer. */
export interface TypedDataSigner {
  signTypedData(domain: TypedDataDomain, types: Types, value: Record<string, unknown>): Promise<string>;
}

/** secp256k1 group order n, and n / 2: a signature with s above n / 2 is the malleable twin and is refused everywhere. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = SECP256K1_N / 2n;

/**
 * Signs a struct and returns a 65-byte low-s signature (r ‖ s ‖ v). ethers signs canonically, but a
 * hardware or remote signer might not: a high-s result is normalised (s → n − s, v flipped) rather
 * than passed on, because the contracts and the hub refuse high-s signatures.
 */
export async function signStruct(
  signer: TypedDataSigner,
  name: StructName,
  domain: TypedDataDomain,
  value: object,
): Promise<string> {
  const raw = await signer.signTypedData(domain, STRUCTS[name].types, value as Record<string, unknown>);
  return toLowS(raw);
}

/** Returns the low-s form of a 65-byte signature (the same signer recovers from both). */
export function toLowS(signature: string): string {
  const { r, s, v } = splitSignature(signature);
  if (s <= HALF_N) return signature.toLowerCase();
  const lowS = (SECP256K1_N - s).toString(16).padStart(64, '0');
  const flippedV = (v === 27 ? 28 : 27).toString(16);
  return `0x${r}${lowS}${flippedV}`;
}

/** Refuses a malleable (high-s) or malformed signature before it reaches a contract or the hub. */
export function assertLowS(signature: string, field = 'signature'): void {
  const { s } = splitSignature(signature, field);
  if (s > HALF_N) {
    throw new InputError(field, `s = 0x${s.toString(16)}`, 'a low-s signature (s ≤ n/2, EIP-2)');
  }
}

function splitSignature(signature: string, field = 'signature'): { r: string; s: bigint; v: number } {
  if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw new InputError(field, signature, 'a 65-byte 0x-hex signature (r ‖ s ‖ v)');
  }
  const v = parseInt(signature.slice(130, 132), 16);
  if (v !== 27 && v !== 28) throw new InputError(`${field}.v`, v, '27 or 28');
  return { r: signature.slice(2, 66).toLowerCase(), s: BigInt('0x' + signature.slice(66, 130)), v };
}

/** EIP-2098 compact form (64 bytes, yParity folded into s) for contracts that take `bytes32 r, bytes32 vs`. */
export function toCompact(signature: string): { r: string; yParityAndS: string } {
  const sig = Signature.from(signature);
  return { r: sig.r, yParityAndS: sig.yParityAndS };
}
