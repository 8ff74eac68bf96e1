/**
 * What the payer signs, built as gateway/hub/protocol.ts defines it and encoded with its encoders,
 * so the bytes on the wire are exactly docs/money-path.md's (amounts as decimal strings, times as
 * unix seconds, 65-byte low-s signatures). The payer journals and resends these JSON forms; topics,
 * payload shapes and the parsers of what the hub sends live in protocol.ts only.
 */
import { signOpen, signPermit, signVoucher } from '../chain/channels';
import { domainOf, signStruct, type Open, type Reading, type TypedDataSigner } from '../chain/typed-data';
import {
  encodeOpenMessage,
  encodeReadingMessage,
  encodeTopUpMessage,
  encodeVoucherMessage,
  type WirePermit,
} from '../hub/protocol';

/** The JSON form of protocol.ts's OpenMessage (what the payer journals and publishes). */
export interface OpenJson {
  id: string;
  open: { payer: string; payee: string; deposit: string; challengePeriod: number; nonce: number };
  signature: string;
  permit: WirePermit;
}

/** The JSON form of protocol.ts's VoucherMessage. */
export interface VoucherJson {
  id: string;
  channelId: string;
  cumulativeAmount: string;
  cycle: number;
  importWh: number;
  tariffId: string;
  signature: string;
}

/** The JSON form of protocol.ts's ReadingMessage. */
export interface ReadingJson {
  id: string;
  reading: {
    deviceId: string;
    seq: number;
    timestamp: number;
    importWh: number;
    exportWh: number;
    batteryPermille: number;
  };
  signature: string;
}

/** The JSON form of protocol.ts's TopUpMessage. */
export interface TopUpJson {
  id: string;
  channelId: string;
  amount: string;
  permit: WirePermit;
}

/** Where the payer signs: the chain and the three contracts its messages name. */
export interface PayerDomain {
  chainId: number;
  channels: string;
  token: string;
  readings: string;
}

export async function buildOpen(
  signer: TypedDataSigner & { address: string },
  where: PayerDomain,
  req: {
    payee: string;
    deposit: bigint;
    challengePeriod: number;
    channelNonce: bigint;
    permitNonce: bigint;
    deadline: number;
  },
): Promise<OpenJson> {
  const open: Open = {
    payer: signer.address,
    payee: req.payee,
    deposit: req.deposit,
    challengePeriod: BigInt(req.challengePeriod),
    nonce: req.channelNonce,
  };
  const signature = await signOpen(signer, { chainId: where.chainId, channels: where.channels }, open);
  const permit = await signPermit(signer, {
    chainId: where.chainId,
    token: where.token,
    owner: signer.address,
    spender: where.channels,
    value: req.deposit,
    nonce: req.permitNonce,
    deadline: BigInt(req.deadline),
  });
  return encodeOpenMessage({
    id: `open-${signer.address.toLowerCase()}-${req.channelNonce}`,
    open,
    signature,
    permit: { deadline: BigInt(req.deadline), r: permit.r, vs: permit.vs },
  }) as OpenJson;
}

export async function buildVoucher(
  signer: TypedDataSigner,
  where: PayerDomain,
  v: { channelId: bigint; cumulativeAmount: bigint; cycle: number; importWh: number; tariffId: string },
): Promise<VoucherJson> {
  const signature = await signVoucher(
    signer,
    { chainId: where.chainId, channels: where.channels },
    { channelId: v.channelId, cumulativeAmount: v.cumulativeAmount },
  );
  return encodeVoucherMessage({ id: `voucher-${v.channelId}-${v.cycle}`, ...v, signature }) as VoucherJson;
}

export async function buildReading(
  signer: TypedDataSigner,
  where: PayerDomain,
  r: ReadingJson['reading'],
): Promise<ReadingJson> {
  const reading: Reading = {
    deviceId: r.deviceId,
    seq: BigInt(r.seq),
    timestamp: BigInt(r.timestamp),
    importWh: BigInt(r.importWh),
    exportWh: BigInt(r.exportWh),
    batteryPermille: r.batteryPermille,
  };
  const signature = await signStruct(
    signer,
    'Reading',
    domainOf('readings', where.chainId, where.readings),
    reading,
  );
  return encodeReadingMessage({
    id: `reading-${r.deviceId.toLowerCase()}-${r.seq}`,
    reading,
    signature,
  }) as ReadingJson;
}

export async function buildTopUp(
  signer: TypedDataSigner & { address: string },
  where: PayerDomain,
  req: { channelId: bigint; amount: bigint; permitNonce: bigint; deadline: number },
): Promise<TopUpJson> {
  const permit = await signPermit(signer, {
    chainId: where.chainId,
    token: where.token,
    owner: signer.address,
    spender: where.channels,
    value: req.amount,
    nonce: req.permitNonce,
    deadline: BigInt(req.deadline),
  });
  return encodeTopUpMessage({
    id: `topup-${req.channelId}-${req.permitNonce}`,
    channelId: req.channelId,
    amount: req.amount,
    permit: { deadline: BigInt(req.deadline), r: permit.r, vs: permit.vs },
  }) as TopUpJson;
}
