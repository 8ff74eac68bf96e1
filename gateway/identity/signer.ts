import type { TypedDataDomain, TypedDataField } from 'ethers';

/**
 * What the gateway needs from the device key. The encrypted keystore implements it today; a secure
 * element, TPM or PKCS#11 token can replace it without touching callers. The key never leaves it.
 */
export interface DeviceSigner {
  /** The HEPEK wallet: the device key's address. */
  readonly address: string;
  /** Signs EIP-712 typed data (claims, readings, channel vouchers). */
  signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string>;
}
