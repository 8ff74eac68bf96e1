import type { TypedDataDomain } from 'ethers';
import type { DeviceSigner } from '../identity/signer';
import {
  CLAIM_TYPES,
  DOMAIN_NAMES,
  DOMAIN_VERSION,
  domainOf,
  signStruct,
  toCompact,
  type KeyRotation,
  type Reading,
  type Receipt,
  type TypedDataSigner,
} from './typed-data';

export { CLAIM_TYPES };

/** EIP-712 domain name and version of GatewayRegistry; must match its constructor. */
export const REGISTRY_DOMAIN_NAME = DOMAIN_NAMES.registry;
export const REGISTRY_DOMAIN_VERSION = DOMAIN_VERSION;

/**
 * The registry's EIP-712 domain. The chain id and registry address are part of it so a claim
 * signed for one deployment can never be replayed on another chain or registry.
 */
export function claimDomain(chainId: bigint | number, registry: string): TypedDataDomain {
  return domainOf('registry', chainId, registry);
}

/** The fields of a device claim and where it is valid. */
export interface ClaimRequest {
  chainId: bigint | number;
  /** GatewayRegistry address. */
  registry: string;
  /** bytes32 device id, see deviceIdFromSerial. */
  deviceId: string;
  /** The member who becomes the owner. */
  member: string;
  /** The device's next nonce, GatewayRegistry.nonces(deviceId). */
  nonce: bigint | number;
}

/** Signs a claim with the device key; the 65-byte low-s signature may be relayed by anyone. */
export function signClaim(signer: Pick<DeviceSigner, 'signTypedData'>, req: ClaimRequest): Promise<string> {
  return signStruct(signer, 'Claim', claimDomain(req.chainId, req.registry), {
    deviceId: req.deviceId,
    member: req.member,
    nonce: req.nonce,
  });
}

/** Where a struct is valid: the chain and the verifying contract's address. */
export interface SigningDomain {
  chainId: bigint | number;
  /** The contract that checks the signature. */
  verifyingContract: string;
}

/**
 * Signs a key rotation with the NEW key (proof its holder agrees); the owner then sends
 * GatewayRegistry.rotateKey. `nonce` is GatewayRegistry.nonces(deviceId), shared with claims.
 */
export function signKeyRotation(
  newKey: TypedDataSigner,
  where: SigningDomain,
  rotation: KeyRotation,
): Promise<string> {
  return signStruct(newKey, 'KeyRotation', domainOf('registry', where.chainId, where.verifyingContract), {
    deviceId: rotation.deviceId,
    newKey: rotation.newKey,
    nonce: rotation.nonce,
  });
}

/**
 * A reading as MeterReadings takes it: the signed fields plus the EIP-2098 compact signature
 * (`r`, `vs` = s with the y-parity in its top bit), which saves a calldata word per reading.
 */
export interface SignedReading extends Reading {
  r: string;
  vs: string;
}

/** Signs a meter reading with the device key, for MeterReadings.submitReading(s). */
export async function signReading(
  device: TypedDataSigner,
  where: SigningDomain,
  reading: Reading,
): Promise<SignedReading> {
  const fields: Reading = {
    deviceId: reading.deviceId,
    seq: reading.seq,
    timestamp: reading.timestamp,
    importWh: reading.importWh,
    exportWh: reading.exportWh,
    batteryPermille: reading.batteryPermille,
  };
  const signature = await signStruct(
    device,
    'Reading',
    domainOf('readings', where.chainId, where.verifyingContract),
    fields,
  );
  const { r, yParityAndS } = toCompact(signature);
  return { ...fields, r, vs: yParityAndS };
}

/** Signs a purchase receipt with an operator key, for Purchase.redeem. */
export function signReceipt(
  operator: TypedDataSigner,
  where: SigningDomain,
  receipt: Receipt,
): Promise<string> {
  return signStruct(operator, 'Receipt', domainOf('purchase', where.chainId, where.verifyingContract), {
    paymentId: receipt.paymentId,
    hepekWallet: receipt.hepekWallet,
    amount: receipt.amount,
  });
}
