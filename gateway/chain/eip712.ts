import type { TypedDataDomain, TypedDataField } from 'ethers';
import type { DeviceSigner } from '../identity/signer';

/** EIP-712 domain name and version of GatewayRegistry; must match its constructor. */
export const REGISTRY_DOMAIN_NAME = 'HEPEK GatewayRegistry';
export const REGISTRY_DOMAIN_VERSION = '1';

/**
 * The registry's EIP-712 domain. The chain id and registry address are part of it so a claim
 * signed for one deployment can never be replayed on another chain or registry.
 */
export function claimDomain(chainId: bigint | number, registry: string): TypedDataDomain {
  return {
    name: REGISTRY_DOMAIN_NAME,
    version: REGISTRY_DOMAIN_VERSION,
    chainId,
    verifyingContract: registry,
  };
}

/** `Claim(bytes32 deviceId,address member,uint256 nonce)`, as GatewayRegistry.CLAIM_TYPEHASH. */
export const CLAIM_TYPES: Record<string, TypedDataField[]> = {
  Claim: [
    { name: 'deviceId', type: 'bytes32' },
    { name: 'member', type: 'address' },
    { name: 'nonce', type: 'uint256' },
  ],
};

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

/** Signs a claim with the device key; the 65-byte signature may be relayed by anyone. */
export function signClaim(signer: Pick<DeviceSigner, 'signTypedData'>, req: ClaimRequest): Promise<string> {
  return signer.signTypedData(claimDomain(req.chainId, req.registry), CLAIM_TYPES, {
    deviceId: req.deviceId,
    member: req.member,
    nonce: req.nonce,
  });
}
