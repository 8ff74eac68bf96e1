/**
 * Reading what MeterReadings said about a relayed batch: which entries were accepted and why the
 * others were skipped, with the reason by name (the contract's `Rejection` enum, in order).
 */
import type { Log, TransactionReceipt } from 'ethers';
import { MeterReadings__factory } from './types';

/** MeterReadings.Rejection, index = the enum value carried by ReadingRejected. */
export const REJECTION_REASONS = [
  'None',
  'InvalidSignature',
  'InvalidSigner',
  'DeviceNotActive',
  'BatteryOutOfRange',
  'SeqNotIncreasing',
  'TimestampNotAfterLast',
  'TimestampInFuture',
  'ImportDecreased',
  'ExportDecreased',
  'ExportAboveRated',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface BatchOutcome {
  accepted: Array<{ deviceId: string; seq: bigint }>;
  rejected: Array<{ deviceId: string; seq: bigint; reason: RejectionReason }>;
}

const iface = MeterReadings__factory.createInterface();

/** Sorts the ReadingAccepted / ReadingRejected events of `readings` in a receipt, in batch order. */
export function batchOutcome(receipt: Pick<TransactionReceipt, 'logs'>, readings: string): BatchOutcome {
  const outcome: BatchOutcome = { accepted: [], rejected: [] };
  for (const log of receipt.logs as readonly Log[]) {
    if (log.address.toLowerCase() !== readings.toLowerCase()) continue;
    const parsed = iface.parseLog(log);
    if (parsed?.name === 'ReadingAccepted')
      outcome.accepted.push({ deviceId: parsed.args[0] as string, seq: parsed.args[1] as bigint });
    else if (parsed?.name === 'ReadingRejected')
      outcome.rejected.push({
        deviceId: parsed.args[0] as string,
        seq: parsed.args[1] as bigint,
        reason: REJECTION_REASONS[Number(parsed.args[2])] ?? 'None',
      });
  }
  return outcome;
}

/**
 * The fate of each entry of a relayed batch, in batch order. MeterReadings emits exactly one
 * ReadingAccepted or ReadingRejected per entry, in order, so the k-th event is the k-th entry's —
 * which tells apart two entries with the same (deviceId, seq), where batchOutcome cannot.
 */
export function batchEntryResults(
  receipt: Pick<TransactionReceipt, 'logs'>,
  readings: string,
): Array<{ deviceId: string; seq: bigint; reason: RejectionReason | null }> {
  const results: Array<{ deviceId: string; seq: bigint; reason: RejectionReason | null }> = [];
  for (const log of receipt.logs as readonly Log[]) {
    if (log.address.toLowerCase() !== readings.toLowerCase()) continue;
    const parsed = iface.parseLog(log);
    if (parsed?.name === 'ReadingAccepted')
      results.push({ deviceId: parsed.args[0] as string, seq: parsed.args[1] as bigint, reason: null });
    else if (parsed?.name === 'ReadingRejected')
      results.push({
        deviceId: parsed.args[0] as string,
        seq: parsed.args[1] as bigint,
        reason: REJECTION_REASONS[Number(parsed.args[2])] ?? 'None',
      });
  }
  return results;
}
