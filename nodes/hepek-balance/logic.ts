/**
 * Pure logic of `hepek-balance`: its settings, the below-threshold state machine with hysteresis,
 * and the message it sends. No RED, timers or I/O.
 */
import type { SpendableBalance } from '../../gateway/context';
import { optionalNumber } from '../shared/fields';
import type { NodeMessage, NodeStatus } from '../shared/red';

export interface BalanceSettings {
  /** Overrides the config's threshold when set, ERGON. */
  lowThresholdErgon?: number;
  /** Once below, stay below until spendable ≥ threshold + this, ERGON. */
  hysteresisErgon: number;
}

export function normaliseBalanceDef(def: Record<string, unknown>): BalanceSettings {
  return {
    lowThresholdErgon: optionalNumber(def.lowThresholdErgon, 'lowThresholdErgon', {
      min: 0,
      allowed: "a number of ERGON ≥ 0, or blank for the config's threshold",
    }),
    hysteresisErgon:
      optionalNumber(def.hysteresisErgon, 'hysteresisErgon', {
        min: 0,
        allowed: 'a number of ERGON ≥ 0 (0 = no hysteresis)',
      }) ?? 0,
  };
}

/** `unknown` until the first read; then whether the balance counts as below the threshold. */
export type ThresholdState = 'unknown' | 'above' | 'below';

/**
 * The next state after reading `spendableErgon`. Entering `below` needs spendable < threshold;
 * leaving it needs spendable ≥ threshold + hysteresis, so a balance hovering at the threshold
 * does not toggle the relay on every read.
 */
export function nextThresholdState(
  state: ThresholdState,
  spendableErgon: number,
  thresholdErgon: number,
  hysteresisErgon: number,
): Exclude<ThresholdState, 'unknown'> {
  if (state === 'below') return spendableErgon >= thresholdErgon + hysteresisErgon ? 'above' : 'below';
  return spendableErgon < thresholdErgon ? 'below' : 'above';
}

export interface BalanceReport extends SpendableBalance {
  lowThresholdErgon: number;
  belowThreshold: boolean;
}

/**
 * Decorates the incoming message: `reading` keeps what came in, `balance` is the report and
 * `payload` the relay command (true = keep the supply on).
 */
export function balanceMessage(msg: NodeMessage, report: BalanceReport): NodeMessage {
  msg.reading = msg.payload;
  msg.balance = report;
  msg.payload = !report.belowThreshold;
  return msg;
}

/** Spendable ERGON for a status line, e.g. `12.35`. */
export function formatErgon(ergon: number): string {
  return ergon >= 1000 ? ergon.toFixed(0) : ergon.toFixed(2);
}

export interface BalanceStatus extends NodeStatus {
  key: 'status.above' | 'status.below';
  ergon: string;
  threshold: string;
}

export function balanceStatus(report: BalanceReport): BalanceStatus {
  return {
    fill: report.belowThreshold ? 'red' : 'green',
    shape: report.belowThreshold ? 'ring' : 'dot',
    key: report.belowThreshold ? 'status.below' : 'status.above',
    ergon: formatErgon(report.spendableErgon),
    threshold: formatErgon(report.lowThresholdErgon),
  };
}
