import { keccak256, toUtf8Bytes } from 'ethers';

/**
 * The on-chain id of a device: keccak256 of its UTF-8 serial number, as a 0x-prefixed bytes32.
 * Hashing gives every serial format (vendor prefixes, any length) the same fixed-size key.
 */
export function deviceIdFromSerial(serial: string): string {
  return keccak256(toUtf8Bytes(serial));
}
