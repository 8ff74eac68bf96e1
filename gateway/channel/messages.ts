/**
 * The payer's outgoing messages, built exactly as docs/money-path.md fixes them (amounts as
 * decimal strings, times as unix seconds, 65-byte low-s signatures). Topics and the parsers of what
 * the hub sends come from gateway/hub/protocol.ts; this module only assembles what the payer signs.
 */
import { signOpen, signPermit, signVoucher } from '../chain/channels';
import { domainOf, signStruct, type Open, type Reading, type TypedDataSigner } from '../chain/typed-data';

/** The permit as it travels on the wire. */
export interface WirePermit {
  deadline: number;
  r: string;
  vs: string;
}

export interface OpenMessage {
  id: string;
  open: { payer: string; payee: string; deposit: string; challengePeriod: number; nonce: string };
  signature: string;
  permit: WirePermit;
}

export interface VoucherMessage {
  id: string;
  channelId: string;
  cumulativeAmount: string;
  cycle: number;
  importWh: number;
  tariffId: string;
  signature: string;
}

export interface ReadingMessage {
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

export interface TopUpMessage {
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
): Promise<OpenMessage> {
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
  return {
    id: `open-${signer.address.toLowerCase()}-${req.channelNonce}`,
    open: {
      payer: open.payer,
      payee: open.payee,
      deposit: open.deposit.toString(),
      challengePeriod: req.challengePeriod,
      nonce: open.nonce.toString(),
    },
    signature,
    permit: { deadline: req.deadline, r: permit.r, vs: permit.vs },
  };
}

export async function buildVoucher(
  signer: TypedDataSigner,
  where: PayerDomain,
  v: { channelId: bigint; cumulativeAmount: bigint; cycle: number; importWh: number; tariffId: string },
): Promise<VoucherMessage> {
  const signature = await signVoucher(
    signer,
    { chainId: where.chainId, channels: where.channels },
    { channelId: v.channelId, cumulativeAmount: v.cumulativeAmount },
  );
  return {
    id: `voucher-${v.channelId}-${v.cycle}`,
    channelId: v.channelId.toString(),
    cumulativeAmount: v.cumulativeAmount.toString(),
    cycle: v.cycle,
    importWh: v.importWh,
    tariffId: v.tariffId,
    signature,
  };
}

export async function buildReading(
  signer: TypedDataSigner,
  where: PayerDomain,
  r: ReadingMessage['reading'],
): Promise<ReadingMessage> {
  const fields: Reading = {
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
    fields,
  );
  return { id: `reading-${r.deviceId}-${r.seq}`, reading: { ...r }, signature };
}

export async function buildTopUp(
  signer: TypedDataSigner & { address: string },
  where: PayerDomain,
  req: { channelId: bigint; amount: bigint; permitNonce: bigint; deadline: number },
): Promise<TopUpMessage> {
  const permit = await signPermit(signer, {
    chainId: where.chainId,
    token: where.token,
    owner: signer.address,
    spender: where.channels,
    value: req.amount,
    nonce: req.permitNonce,
    deadline: BigInt(req.deadline),
  });
  return {
    id: `topup-${req.channelId}-${req.permitNonce}`,
    channelId: req.channelId.toString(),
    amount: req.amount.toString(),
    permit: { deadline: req.deadline, r: permit.r, vs: permit.vs },
  };
}
