/**
 * Client side of PaymentChannels: what the gateway (payer) signs, how the hub (or anyone) relays an
 * open, and how both read a channel. The typed-data structs come from typed-data.ts (the one
 * definition); this module only adds the channel-specific plumbing.
 *
 * A payer has at most one open channel; its id is `payer << 96 | nonce`. Vouchers are checked
 * against the payer (the key that signed the Open), so a later key rotation in the registry never
 * invalidates them.
 */
import {
  getAddress,
  recoverAddress,
  type ContractTransactionReceipt,
  type TypedDataDomain,
  type TypedDataField,
} from 'ethers';
import { InputError, StateError } from '../errors';
import type { IPaymentChannels, PaymentChannels } from './types/PaymentChannels';
import {
  assertLowS,
  digestOf,
  domainOf,
  signStruct,
  toCompact,
  toLowS,
  type Open,
  type TypedDataSigner,
  type Voucher,
} from './typed-data';

/** Where a channels contract lives: its chain id and address (the EIP-712 domain). */
export interface ChannelsDeployment {
  chainId: bigint | number;
  /** PaymentChannels address. */
  channels: string;
}

/** A signature in the EIP-2098 form the contract takes: `r` and `vs` (y-parity folded into s). */
export interface CompactSignature {
  r: string;
  vs: string;
}

/** An ERC-2612 permit for the contract's `Permit` argument; `deadline` 0 means "no permit". */
export interface PermitArg {
  deadline: bigint;
  r: string;
  vs: string;
}

/** The argument that tells the contract to use the existing allowance instead of a permit. */
export const NO_PERMIT: PermitArg = { deadline: 0n, r: `0x${'0'.repeat(64)}`, vs: `0x${'0'.repeat(64)}` };

/** The EIP-712 domain of a PaymentChannels deployment. */
export function channelsDomain(d: ChannelsDeployment): TypedDataDomain {
  return domainOf('channels', d.chainId, d.channels);
}

/** The 65-byte low-s signature split into the contract's compact `(r, vs)`. */
export function compact(signature: string): CompactSignature {
  const { r, yParityAndS } = toCompact(toLowS(signature));
  return { r, vs: yParityAndS };
}

/** The channel id the contract assigns to `payer`'s channel with `nonce` (see the module comment). */
export function channelIdOf(payer: string, nonce: bigint | number): bigint {
  const n = BigInt(nonce);
  if (n < 0n || n >= 1n << 32n) throw new InputError('nonce', n, 'an integer in [0, 2^32)');
  return (BigInt(getAddress(payer)) << 96n) | n;
}

/** The parts of a channel id: the payer's address and its nonce. */
export function parseChannelId(channelId: bigint): { payer: string; nonce: bigint } {
  if (channelId < 0n || channelId >= 1n << 256n) throw new InputError('channelId', channelId, 'a uint256');
  const hex = (channelId >> 96n).toString(16).padStart(40, '0');
  return { payer: getAddress(`0x${hex}`), nonce: channelId & ((1n << 96n) - 1n) };
}

/** Signs an `Open` with the device key (the payer); returns the 65-byte low-s signature. */
export function signOpen(signer: TypedDataSigner, d: ChannelsDeployment, open: Open): Promise<string> {
  return signStruct(signer, 'Open', channelsDomain(d), open);
}

/** Signs a `Voucher` with the key recorded at open (the payer); returns the 65-byte low-s signature. */
export function signVoucher(
  signer: TypedDataSigner,
  d: ChannelsDeployment,
  voucher: Voucher,
): Promise<string> {
  if (voucher.cumulativeAmount < 0n)
    throw new InputError('voucher.cumulativeAmount', voucher.cumulativeAmount, 'a non-negative wei amount');
  return signStruct(signer, 'Voucher', channelsDomain(d), voucher);
}

/**
 * Checks a voucher exactly as the contract does (low-s, signed by the channel's payer) without a
 * chain round trip; returns the signer. The hub calls it before it accepts a voucher.
 */
export function verifyVoucher(d: ChannelsDeployment, voucher: Voucher, signature: string): string {
  assertLowS(signature, 'voucher.signature');
  const signer = recoverAddress(digestOf('Voucher', channelsDomain(d), voucher), signature);
  const { payer } = parseChannelId(voucher.channelId);
  if (signer !== payer)
    throw new InputError('voucher.signature', signature, `a signature by the channel's payer ${payer}`);
  return signer;
}

/** ERC-2612 `Permit` (OpenZeppelin ERC20Permit): the token's struct, not one of HEPEK's. */
export const PERMIT_TYPES: Record<string, TypedDataField[]> = {
  Permit: [
    { name: 'owner', type: 'address' },
    { name: 'spender', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
};

/** What an ERC-2612 permit for ErgonToken says and where it is valid. */
export interface PermitRequest {
  chainId: bigint | number;
  /** ErgonToken address. */
  token: string;
  /** The token's EIP-712 name; ErgonToken's is `Ergon`. */
  tokenName?: string;
  owner: string;
  spender: string;
  value: bigint;
  /** The owner's permit nonce, ErgonToken.nonces(owner). */
  nonce: bigint;
  /** Unix seconds; must be nonzero (0 means "no permit" to PaymentChannels). */
  deadline: bigint;
}

/** Signs an ERC-2612 permit (low-s) and returns it in the contract's compact `Permit` form. */
export async function signPermit(signer: TypedDataSigner, req: PermitRequest): Promise<PermitArg> {
  if (req.deadline <= 0n) throw new InputError('permit.deadline', req.deadline, 'unix seconds > 0');
  const domain: TypedDataDomain = {
    name: req.tokenName ?? 'Ergon',
    version: '1',
    chainId: req.chainId,
    verifyingContract: req.token,
  };
  const raw = await signer.signTypedData(domain, PERMIT_TYPES, {
    owner: req.owner,
    spender: req.spender,
    value: req.value,
    nonce: req.nonce,
    deadline: req.deadline,
  });
  return { deadline: req.deadline, ...compact(raw) };
}

/** Everything a relayer needs to send `open`: the message, its signature and the permit. */
export interface SignedOpen {
  open: Open;
  signature: CompactSignature;
  permit: PermitArg;
  channelId: bigint;
}

/** Only the reads openWithPermit needs from the token. */
export interface PermitNonces {
  nonces(owner: string): Promise<bigint>;
  getAddress(): Promise<string>;
}

/** What a payer asks for when opening a channel: amounts in wei, times in unix seconds. */
export interface OpenRequest {
  chainId: bigint | number;
  payee: string;
  deposit: bigint;
  challengePeriod: bigint;
  /** Deadline of the permit for `deposit`. */
  deadline: bigint;
}

/**
 * The device side of an open: reads the payer's channel and permit nonces, signs `Open` and the
 * permit for `deposit`. The result can be handed to any relayer (normally the hub).
 */
export async function prepareOpen(
  signer: TypedDataSigner & { address: string },
  channels: PaymentChannels,
  token: PermitNonces,
  req: OpenRequest,
): Promise<SignedOpen> {
  const d = { chainId: req.chainId, channels: await channels.getAddress() };
  const payer = signer.address;
  const open: Open = {
    payer,
    payee: req.payee,
    deposit: req.deposit,
    challengePeriod: req.challengePeriod,
    nonce: await channels.nonces(payer),
  };
  const signature = compact(await signOpen(signer, d, open));
  const permit = await signPermit(signer, {
    chainId: req.chainId,
    token: await token.getAddress(),
    owner: payer,
    spender: d.channels,
    value: req.deposit,
    nonce: await token.nonces(payer),
    deadline: req.deadline,
  });
  return { open, signature, permit, channelId: channelIdOf(payer, open.nonce) };
}

/**
 * The relayer side: sends a prepared open through `channels` (connected to the relayer's wallet,
 * which pays the gas) and returns the channel id from the ChannelOpened event.
 */
export async function relayOpen(
  channels: PaymentChannels,
  signed: SignedOpen,
): Promise<{ channelId: bigint; receipt: ContractTransactionReceipt }> {
  const tx = await channels.open(signed.open, signed.signature.r, signed.signature.vs, signed.permit);
  const receipt = await tx.wait();
  if (!receipt) throw new StateError('chain', `open transaction ${tx.hash} has no receipt`);
  const address = (await channels.getAddress()).toLowerCase();
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== address) continue;
    const parsed = channels.interface.parseLog(log);
    if (parsed?.name === 'ChannelOpened') return { channelId: parsed.args.channelId as bigint, receipt };
  }
  throw new StateError('chain', `open transaction ${tx.hash} emitted no ChannelOpened event`);
}

/** prepareOpen + relayOpen in one call: the device signs, `relayer` (a connected contract) sends. */
export async function openWithPermit(
  signer: TypedDataSigner & { address: string },
  relayer: PaymentChannels,
  token: PermitNonces,
  req: OpenRequest,
): Promise<{ channelId: bigint; receipt: ContractTransactionReceipt }> {
  return relayOpen(relayer, await prepareOpen(signer, relayer, token, req));
}

/** A channel as the contract reports it, with amounts in wei and times in unix seconds. */
export interface ChannelInfo {
  channelId: bigint;
  payer: string;
  nonce: bigint;
  /** ERGON held; 0 = not open (never opened, closed or withdrawn). */
  deposit: bigint;
  open: boolean;
  /** Seconds the payee has to answer an exit; 0 once an exit is running (see exitAt). */
  challengePeriod: bigint;
  /** When the payer's exit matures, 0 if none was started. */
  exitAt: bigint;
  /** What the payer conceded to the payee at startExit. */
  exitAmount: bigint;
}

/** Reads one channel. */
export async function readChannel(
  channels: Pick<PaymentChannels, 'channelOf'>,
  channelId: bigint,
  blockTag?: number,
): Promise<ChannelInfo> {
  const s: IPaymentChannels.ChannelStateStructOutput = await channels.channelOf(
    channelId,
    blockTag === undefined ? {} : { blockTag },
  );
  return {
    channelId,
    payer: s.payer,
    nonce: s.nonce,
    deposit: s.deposit,
    open: s.deposit > 0n,
    challengePeriod: s.challengePeriod,
    exitAt: s.exitAt,
    exitAmount: s.exitAmount,
  };
}

/** The payer's open channel, or null if it has none (a payer has at most one). */
export async function readOpenChannel(
  channels: Pick<PaymentChannels, 'channelOf' | 'channelOfPayer'>,
  payer: string,
  blockTag?: number,
): Promise<ChannelInfo | null> {
  const overrides = blockTag === undefined ? {} : { blockTag };
  const [channelId, isOpen] = await channels.channelOfPayer(payer, overrides);
  return isOpen ? readChannel(channels, channelId, blockTag) : null;
}

/**
 * The unspent part of a channel: deposit − the newest voucher's cumulative amount (never below 0).
 * Part of the payer's spendable balance (DESIGN.md §1). A closed channel has nothing unspent.
 */
export function unspentDeposit(channel: Pick<ChannelInfo, 'deposit'>, newestVoucherAmount: bigint): bigint {
  if (newestVoucherAmount < 0n)
    throw new InputError('newestVoucherAmount', newestVoucherAmount, 'a non-negative wei amount');
  return channel.deposit > newestVoucherAmount ? channel.deposit - newestVoucherAmount : 0n;
}
