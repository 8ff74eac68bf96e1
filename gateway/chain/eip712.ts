import type { TypedDataDomain } from 'ethers';
import type { DeviceSigner } from '../identity/signer';
import { CLAIM_TYPES, DOMAIN_NAMES, DOMAIN_VERSION, domainOf, signStruct } from './typed-data';

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
