/**
 * The payer's arithmetic (docs/money-path.md "Billing cycle"): pure functions, no I/O, no clock.
 *
 * A cycle's price is `deltaWh × weiPerKWh / 1000`, rounded down, the remainder carried to the next
 * cycle. Rather than carrying a remainder field by field, the state keeps the exact product sum
 * `exactMilliWei = Σ deltaWh × weiPerKWh` (units: wei/1000) and the voucher's cumulative amount is
 * always `exactMilliWei / 1000` — so Σ vouchers = ⌊Σ(delta × tariff) / 1000⌋ over any number of
 * cycles, whatever the tariffs, and no rounding error can accumulate.
 */
import { InputError } from '../errors';

export interface BillingState {
  /** The channel the cumulative amount belongs to (decimal string), or null before the first open. */
  channelId: string | null;
  /** The import counter billed up to, whole Wh. */
  billedImportWh: number;
  /** Σ deltaWh × weiPerKWh over this channel, plus the carry from the previous channel (wei / 1000). */
  exactMilliWei: bigint;
  /** exactMilliWei / 1000: what the newest voucher says, wei. */
  cumulativeAmount: bigint;
  /** Cycles billed in this channel (the next voucher's `cycle` is this value). */
  cycle: number;
  /** ⌊meter time / cycleSeconds⌋ of the last cycle end, or null before the first reading. */
  cycleIndex: number | null;
}

export function initialBilling(importWh: number): BillingState {
  return {
    channelId: null,
    billedImportWh: wholeWh(importWh, 'importWh'),
    exactMilliWei: 0n,
    cumulativeAmount: 0n,
    cycle: 0,
    cycleIndex: null,
  };
}

/** A meter's cumulative counter as whole Wh (the unit vouchers and on-chain readings use). */
export function wholeWh(importWh: number, field = 'importWh'): number {
  if (typeof importWh !== 'number' || !Number.isFinite(importWh) || importWh < 0)
    throw new InputError(field, importWh, 'a cumulative counter of Wh ≥ 0');
  return Math.floor(importWh);
}

export interface CycleBill {
  state: BillingState;
  /** Whole Wh billed in this cycle. */
  deltaWh: number;
  /** What this cycle added to the cumulative amount, wei (may be 0 while the carry builds up). */
  amountWei: bigint;
}

/**
 * Bills the import counter up to `importWh` at `weiPerKWh`. A counter that went backwards (a meter
 * swapped or reset) is refused rather than billed negatively.
 */
export function billTo(state: BillingState, importWh: number, weiPerKWh: bigint): CycleBill {
  const counter = wholeWh(importWh);
  if (counter < state.billedImportWh)
    throw new InputError(
      'importWh',
      importWh,
      `a counter ≥ the one already billed (${state.billedImportWh} Wh); a meter counter never goes back`,
    );
  if (weiPerKWh < 0n) throw new InputError('weiPerKWh', weiPerKWh, 'a price ≥ 0 wei per kWh');
  const deltaWh = counter - state.billedImportWh;
  const exactMilliWei = state.exactMilliWei + BigInt(deltaWh) * weiPerKWh;
  const cumulativeAmount = exactMilliWei / 1000n;
  return {
    state: {
      ...state,
      billedImportWh: counter,
      exactMilliWei,
      cumulativeAmount,
      cycle: state.cycle + 1,
    },
    deltaWh,
    amountWei: cumulativeAmount - state.cumulativeAmount,
  };
}

/**
 * The state for a new channel: the cumulative amount restarts at 0, the sub-wei carry of the old
 * channel goes along (so it is billed eventually), the counter stays where it was billed to.
 */
export function startChannel(state: BillingState, channelId: bigint): BillingState {
  const carry = state.exactMilliWei - state.cumulativeAmount * 1000n;
  return { ...state, channelId: channelId.toString(), exactMilliWei: carry, cumulativeAmount: 0n, cycle: 0 };
}

/** Which cycle a meter time (unix seconds) falls in. */
export function cycleIndexOf(timeS: number, cycleSeconds: number): number {
  return Math.floor(timeS / cycleSeconds);
}

/** ERGON (a number from settings) in wei, without floating-point drift in the last digits. */
export function ergonToWei(ergon: number, field = 'ergon'): bigint {
  if (!Number.isFinite(ergon) || ergon < 0) throw new InputError(field, ergon, 'a number of ERGON ≥ 0');
  // String(0.1) is "0.1" (the shortest exact decimal); toFixed only for exponent notation.
  const text = /e/i.test(String(ergon)) ? ergon.toFixed(18) : String(ergon);
  const [whole, frac = ''] = text.split('.');
  return BigInt(whole!) * 10n ** 18n + BigInt(frac.padEnd(18, '0').slice(0, 18));
}
