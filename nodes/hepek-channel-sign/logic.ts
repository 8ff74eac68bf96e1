/**
 * Pure logic of `hepek-channel-sign`: what a consumption message may say, and the message sent for
 * the voucher the payer signed for it. No RED, timers or I/O.
 */
import type { VoucherJson } from '../../gateway/channel/messages';
import { InputError } from '../../gateway/errors';
import type { NodeMessage, NodeStatus } from '../shared/red';

/** A consumption to pay for: the cumulative import counter and the time it was read. */
export interface Consumption {
  /** Cumulative import counter, Wh. */
  importWh: number;
  /** Meter time of the counter, unix seconds; null = now on the meter's clock. */
  timeS: number | null;
}

function timeOf(value: unknown, field: string): number | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return Math.floor(ms / 1000);
  }
  throw new InputError(field, value, 'an ISO 8601 time or unix seconds (blank = now on the meter clock)');
}

/**
 * `msg.payload` is the import counter (Wh) or a reading `{importWh, timestamp}` — what
 * `hepek-meter-read` sends. Anything else is an InputError naming the field.
 */
export function parseConsumption(payload: unknown): Consumption {
  const reading =
    typeof payload === 'number' ? { importWh: payload } : (payload as Record<string, unknown> | null);
  if (typeof reading !== 'object' || reading === null || Array.isArray(reading))
    throw new InputError(
      'msg.payload',
      payload,
      'the import counter in Wh, or a reading {importWh, timestamp}',
    );
  const importWh = reading.importWh;
  if (typeof importWh !== 'number' || !Number.isFinite(importWh) || importWh < 0)
    throw new InputError('msg.payload.importWh', importWh, 'the cumulative import counter, Wh ≥ 0');
  return { importWh, timeS: timeOf(reading.timestamp, 'msg.payload.timestamp') };
}

/** What is sent: the voucher, the amount it added and whether the hub has it already. */
export interface VoucherReport {
  voucher: VoucherJson;
  /** What this consumption added to the channel, wei (0 when the counter was already billed). */
  addedWei: bigint;
  acked: boolean;
}

/**
 * `payload` is the signed voucher exactly as it goes to the hub; `voucher` carries the figures a
 * flow may want (ERGON as a number for display, wei as decimal strings).
 */
export function voucherMessage(msg: NodeMessage, report: VoucherReport): NodeMessage {
  msg.consumption = msg.payload;
  msg.payload = report.voucher;
  msg.voucher = {
    channelId: report.voucher.channelId,
    cumulativeAmountWei: report.voucher.cumulativeAmount,
    addedWei: report.addedWei.toString(),
    addedErgon: Number(report.addedWei) / 1e18,
    importWh: report.voucher.importWh,
    tariffId: report.voucher.tariffId,
    acked: report.acked,
  };
  return msg;
}

export function voucherStatus(report: VoucherReport): NodeStatus & { key: string; ergon: string } {
  const ergon = (Number(BigInt(report.voucher.cumulativeAmount)) / 1e18).toFixed(4);
  return report.acked
    ? { fill: 'green', shape: 'dot', key: 'status.acked', ergon }
    : { fill: 'yellow', shape: 'dot', key: 'status.sent', ergon };
}
