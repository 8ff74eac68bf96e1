/**
 * Voucher verification at line rate (DESIGN.md §4): the hub checks every voucher exactly as
 * PaymentChannels.close would, without a chain round trip and without ethers' generic typed-data
 * encoder. The EIP-712 domain separator and the Voucher type hash are computed once; each voucher
 * costs two native keccak256 calls (struct hash, digest) and one native secp256k1 recovery. The
 * recovered public key is compared with the one cached for the channel's payer, so the keccak of the
 * public key (the address) is only computed the first time a payer is seen.
 *
 * Pure logic: no I/O, no clock. `judgeVoucher` returns the ack code of a refusal or null.
 */
import { TypedDataEncoder, getAddress } from 'ethers';
import createKeccakHash from 'keccak';
import { ecdsaRecover } from 'secp256k1';
import { encodeType } from '../chain/typed-data';
import { channelsDomain, type ChannelsDeployment } from '../chain/channels';
import type { AckCode, VoucherMessage } from './protocol';

const HALF_N = Buffer.from('7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0', 'hex');

/** The sponge inside the `keccak` package's hash object (native binding, or its JS fallback). */
interface KeccakState {
  initialize(rate: number, capacity: number): void;
  absorb(data: Buffer): void;
  squeeze(length: number): Buffer;
}

const EMPTY_KECCAK = 'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470';

/**
 * keccak256 on one reused sponge: the package's public API builds a Transform stream per hash,
 * which costs more than the hash of 96 bytes itself. Checked once against the known hash of the
 * empty string; if the package's internals ever differ, the public API is used instead.
 */
const keccak: (data: Buffer) => Buffer = (() => {
  const viaApi = (data: Buffer) => createKeccakHash('keccak256').update(data).digest();
  const state = (createKeccakHash('keccak256') as unknown as { _state?: KeccakState })._state;
  if (!state || typeof state.initialize !== 'function') return viaApi;
  const fast = (data: Buffer): Buffer => {
    state.initialize(1088, 512); // keccak256: rate 1088 bits, capacity 512
    state.absorb(data);
    return state.squeeze(32);
  };
  try {
    return fast(Buffer.alloc(0)).toString('hex') === EMPTY_KECCAK &&
      fast(Buffer.from('abc')).equals(viaApi(Buffer.from('abc')))
      ? fast
      : viaApi;
  } catch {
    return viaApi;
  }
})();

const U64 = (1n << 64n) - 1n;

/** Big-endian uint256 as four 64-bit words (no hex string round trip). */
function writeUint256(buf: Buffer, offset: number, value: bigint): void {
  buf.writeBigUInt64BE((value >> 192n) & U64, offset);
  buf.writeBigUInt64BE((value >> 128n) & U64, offset + 8);
  buf.writeBigUInt64BE((value >> 64n) & U64, offset + 16);
  buf.writeBigUInt64BE(value & U64, offset + 24);
}

/** What recovering a voucher signature gave. */
export type Recovered = { ok: true; publicKey: Buffer } | { ok: false; code: 'high-s' | 'wrong-signer' };

export class VoucherVerifier {
  /** 0x19 0x01 ‖ domainSeparator ‖ (structHash written per voucher). */
  private readonly digestInput = Buffer.alloc(66);
  /** typeHash ‖ channelId ‖ cumulativeAmount. */
  private readonly structInput = Buffer.alloc(96);
  readonly domainSeparator: string;

  constructor(deployment: ChannelsDeployment) {
    this.domainSeparator = TypedDataEncoder.hashDomain(channelsDomain(deployment));
    this.digestInput[0] = 0x19;
    this.digestInput[1] = 0x01;
    this.digestInput.write(this.domainSeparator.slice(2), 2, 32, 'hex');
    keccak(Buffer.from(encodeType('Voucher'))).copy(this.structInput, 0);
  }

  /** The EIP-712 digest of `Voucher {channelId, cumulativeAmount}` (equals typed-data digestOf). */
  digest(channelId: bigint, cumulativeAmount: bigint): Buffer {
    writeUint256(this.structInput, 32, channelId);
    writeUint256(this.structInput, 64, cumulativeAmount);
    keccak(this.structInput).copy(this.digestInput, 34);
    return keccak(this.digestInput);
  }

  /**
   * Recovers the uncompressed public key (64 bytes, no 0x04 prefix) of a 65-byte `0x` signature
   * over a voucher. High-s is refused as the contract does; a signature that recovers nothing
   * (r or s zero or out of range) is `wrong-signer`, as the contract's ecrecover returning 0 is.
   */
  recover(channelId: bigint, cumulativeAmount: bigint, signature: string): Recovered {
    const sig = Buffer.from(signature.slice(2, 130), 'hex');
    if (sig.compare(HALF_N, 0, 32, 32, 64) > 0) return { ok: false, code: 'high-s' };
    const v = parseInt(signature.slice(130, 132), 16);
    if (v !== 27 && v !== 28) return { ok: false, code: 'wrong-signer' };
    try {
      const pub = ecdsaRecover(sig, v - 27, this.digest(channelId, cumulativeAmount), false);
      return { ok: true, publicKey: Buffer.from(pub.buffer, pub.byteOffset + 1, 64) };
    } catch {
      return { ok: false, code: 'wrong-signer' };
    }
  }
}

/** The checksummed address of a 64-byte uncompressed public key. */
export function addressOfPublicKey(publicKey: Buffer): string {
  return getAddress(`0x${keccak(publicKey).subarray(12).toString('hex')}`);
}

/** What the hub knows about a channel it is payee of (amounts in wei, times in unix seconds). */
export interface ChannelBook {
  channelId: bigint;
  /** The payer recorded at open (top 160 bits of the id), checksummed. */
  payer: string;
  /** The payer's public key once one voucher recovered to it; saves the address keccak. */
  payerKey: Buffer | null;
  deposit: bigint;
  /** Whether this hub is the channel's payee. */
  payeeIsHub: boolean;
  /** Whether the channel is open on chain. */
  open: boolean;
  /** When a running exit matures; 0 if none. */
  exitAt: number;
  /** The newest voucher the hub holds; null before the first. */
  held: HeldVoucher | null;
}

export interface HeldVoucher {
  cumulativeAmount: bigint;
  signature: string;
  cycle: number;
  importWh: number;
  tariffId: string;
  /** The request id it came with. */
  id: string;
  serial: string;
}

/** The refusal of a voucher: an ack code and a sentence naming field, value and what is allowed. */
export interface Refusal {
  code: AckCode;
  reason: string;
}

/**
 * Judges a parsed voucher against the channel's book: null = accept (newer than, or the same as,
 * the newest held), else the refusal. `deviceKey` is the sending serial's registered key; the
 * channel must be that device's. Checks run cheapest-first except that a signature is always
 * checked before the amount, so a forgery is reported as one.
 */
export function judgeVoucher(
  verifier: VoucherVerifier,
  book: ChannelBook | null,
  deviceKey: string,
  msg: VoucherMessage,
): Refusal | null {
  if (!book || !book.open)
    return {
      code: 'unknown-channel',
      reason: `voucher.channelId: ${msg.channelId} is not allowed; expected the id of an open channel`,
    };
  if (!book.payeeIsHub || book.payer !== deviceKey)
    return {
      code: 'wrong-channel',
      reason: `voucher.channelId: ${msg.channelId} is not allowed; expected a channel of this device (payer ${deviceKey}) with this hub as payee`,
    };
  const held = book.held;
  // A resend of the voucher already held: the same answer without another recovery.
  if (held && held.cumulativeAmount === msg.cumulativeAmount && held.signature === msg.signature) return null;
  const rec = verifier.recover(msg.channelId, msg.cumulativeAmount, msg.signature);
  if (!rec.ok)
    return rec.code === 'high-s'
      ? {
          code: 'high-s',
          reason: `voucher.signature: s = 0x${msg.signature.slice(66, 130)} is not allowed; expected a low-s signature (s ≤ n/2, EIP-2)`,
        }
      : {
          code: 'wrong-signer',
          reason: `voucher.signature: ${msg.signature.slice(0, 12)}… is not allowed; expected a valid signature by the channel's payer ${book.payer}`,
        };
  if (book.payerKey === null || !book.payerKey.equals(rec.publicKey)) {
    const signer = addressOfPublicKey(rec.publicKey);
    if (signer !== book.payer)
      return {
        code: 'wrong-signer',
        reason: `voucher.signature: recovers ${signer}, which is not allowed; expected a signature by the channel's payer ${book.payer}`,
      };
    book.payerKey = Buffer.from(rec.publicKey);
  }
  if (msg.cumulativeAmount > book.deposit)
    return {
      code: 'over-deposit',
      reason: `voucher.cumulativeAmount: ${msg.cumulativeAmount} is not allowed; expected at most the deposit ${book.deposit} wei`,
    };
  if (held && msg.cumulativeAmount < held.cumulativeAmount)
    return {
      code: 'stale',
      reason: `voucher.cumulativeAmount: ${msg.cumulativeAmount} is not allowed; expected at least the newest held ${held.cumulativeAmount} wei`,
    };
  return null;
}
