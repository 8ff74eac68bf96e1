/**
 * Pure logic of `hepek-mint`: what a reading or a claim message may say, and the report sent for
 * each (accrued ERGON and carbon credits). No RED, timers or I/O.
 */
import { InputError } from '../../gateway/errors';
import type { NodeMessage, NodeStatus } from '../shared/red';

/** A reading of the meter's counters to sign and submit for export rewards. */
export interface ReadingInput {
  kind: 'reading';
  importWh: number;
  exportWh: number;
  /** Meter time, unix seconds; null = now on the meter's clock. */
  timeS: number | null;
  /** Battery state of charge, ‰ (0–1000). */
  batteryPermille: number;
}

/** `latest`: sign the gateway meter's newest reading (an inject's timestamp or any other trigger). */
export type MintInput = ReadingInput | { kind: 'claim' } | { kind: 'report' } | { kind: 'latest' };

function counter(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new InputError(field, value, 'a cumulative counter, Wh ≥ 0');
  return value;
}

/**
 * `msg.topic` `claim` (or payload `"claim"`) claims the accrued reward; `report` (or payload
 * `"report"`) only reads it; otherwise `msg.payload` is a reading `{importWh, exportWh, timestamp,
 * batterySocPercent?}` as `hepek-meter-read` sends it.
 */
export function parseMintInput(msg: NodeMessage): MintInput {
  if (msg.topic === 'claim' || msg.payload === 'claim') return { kind: 'claim' };
  if (msg.topic === 'report' || msg.payload === 'report') return { kind: 'report' };
  const raw: unknown = msg.payload;
  if (typeof raw === 'number' || raw === undefined || raw === null || raw === '') return { kind: 'latest' };
  const p = raw as Record<string, unknown>;
  if (typeof p !== 'object' || Array.isArray(p))
    throw new InputError(
      'msg.payload',
      msg.payload,
      'a reading {importWh, exportWh, timestamp}, "claim" / "report" (or msg.topic claim / report), or a trigger (a number)',
    );
  let timeS: number | null = null;
  if (p.timestamp !== undefined && p.timestamp !== null) {
    const ms = typeof p.timestamp === 'number' ? p.timestamp * 1000 : Date.parse(String(p.timestamp));
    if (!Number.isFinite(ms) || ms < 0)
      throw new InputError('msg.payload.timestamp', p.timestamp, 'an ISO 8601 time or unix seconds');
    timeS = Math.floor(ms / 1000);
  }
  const soc = p.batterySocPercent;
  if (soc !== undefined && soc !== null && (typeof soc !== 'number' || !(soc >= 0 && soc <= 100)))
    throw new InputError('msg.payload.batterySocPercent', soc, 'a state of charge from 0 to 100 %');
  return {
    kind: 'reading',
    importWh: counter(p.importWh, 'msg.payload.importWh'),
    exportWh: counter(p.exportWh, 'msg.payload.exportWh'),
    timeS,
    batteryPermille: typeof soc === 'number' ? Math.round(soc * 10) : 0,
  };
}

/** The device's export account as MeterReadings keeps it. */
export interface RewardAccount {
  accruedWei: bigint;
  /** Carbon credits, mg CO2e. */
  carbonMg: bigint;
  lastSeq: bigint;
}

/** The report: accrued reward in wei (string) and ERGON, carbon credits in g and kg CO2e. */
export function rewardReport(account: RewardAccount) {
  return {
    accruedWei: account.accruedWei.toString(),
    accruedErgon: Number(account.accruedWei) / 1e18,
    carbonMg: account.carbonMg.toString(),
    carbonKg: Number(account.carbonMg) / 1e6,
    lastSeq: Number(account.lastSeq),
  };
}

export function mintStatus(account: RewardAccount): NodeStatus & { ergon: string; kg: string } {
  return {
    fill: 'green',
    shape: 'dot',
    ergon: (Number(account.accruedWei) / 1e18).toFixed(4),
    kg: (Number(account.carbonMg) / 1e6).toFixed(3),
  };
}

/** The message after a reading was signed and sent, or a claim made. */
export function mintMessage(
  msg: NodeMessage,
  account: RewardAccount,
  extra: {
    reading?: { id: string; seq: number; exportWh: number };
    claim?: { txHash: string; amountWei: bigint };
  },
): NodeMessage {
  msg.payload = {
    ...rewardReport(account),
    ...(extra.reading ? { reading: extra.reading } : {}),
    ...(extra.claim
      ? {
          claimed: {
            txHash: extra.claim.txHash,
            amountWei: extra.claim.amountWei.toString(),
            amountErgon: Number(extra.claim.amountWei) / 1e18,
          },
        }
      : {}),
  };
  return msg;
}
