/**
 * What the supply relay does when the gateway loses its balance or chain link — a documented
 * setting, `relay.onChainLoss`:
 *
 * - `hold` (default): leave the relay as it is; the household keeps whatever it had.
 * - `open`: cut the supply; nothing is consumed that cannot be billed (pre-paid installations).
 * - `close`: keep the supply on; comfort and safety first (medical devices, heat pumps in winter).
 *
 * The watch reads the spendable balance every `checkMs`; once no read has succeeded for
 * `lossAfterMs`, the link counts as lost and the action runs once. When a read succeeds again the
 * link is back and the relay is left to the flow (the next balance check decides), so the policy
 * never fights a rule.
 */
import type { BalanceSource, RelayDevice } from '../context';
import { systemClock, type Clock } from './clock';

export const CHAIN_LOSS_ACTIONS = ['hold', 'open', 'close'] as const;
export type ChainLossAction = (typeof CHAIN_LOSS_ACTIONS)[number];

export interface ChainWatchOptions {
  relay: RelayDevice;
  balance: BalanceSource;
  action: ChainLossAction;
  /** Time between balance reads, ms. */
  checkMs: number;
  /** How long reads may fail before the link counts as lost, ms. */
  lossAfterMs: number;
  clock?: Clock;
  log?: (text: string) => void;
}

export interface ChainLinkStatus {
  /** false once no balance read has succeeded for lossAfterMs. */
  linked: boolean;
  /** ISO time of the last successful read, or null before the first. */
  lastOkAt: string | null;
  /** The last failure's message while failing, else null. */
  lastError: string | null;
  action: ChainLossAction;
}

export class ChainWatch {
  private readonly clock: Clock;
  private readonly log: (text: string) => void;
  private lastOk: number;
  private lastOkSeen = false;
  private lastError: string | null = null;
  private lost = false;
  private timer: unknown = null;
  private running = false;

  constructor(private readonly options: ChainWatchOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? ((text) => console.warn(text));
    // Counting from start-up: a gateway that boots without a chain waits lossAfterMs like any other.
    this.lastOk = this.clock.now();
  }

  status(): ChainLinkStatus {
    return {
      linked: !this.lost,
      lastOkAt: this.lastOkSeen ? new Date(this.lastOk).toISOString() : null,
      lastError: this.lastError,
      action: this.options.action,
    };
  }

  /** One balance read and whatever follows from it. Never throws. */
  async check(): Promise<void> {
    try {
      await this.options.balance.read();
      this.lastOk = this.clock.now();
      this.lastOkSeen = true;
      this.lastError = null;
      if (this.lost) {
        this.lost = false;
        this.log('chain link back: the relay is left to the flow again');
      }
      return;
    } catch (err) {
      this.lastError = (err as Error).message ?? String(err);
    }
    if (this.lost || this.clock.now() - this.lastOk < this.options.lossAfterMs) return;
    this.lost = true;
    const { action, relay } = this.options;
    const reason = `chain link lost (relay.onChainLoss = ${action}): ${this.lastError}`;
    this.log(reason);
    if (action === 'hold') return;
    try {
      await relay.set(action === 'close', reason);
    } catch (err) {
      this.log(`relay.onChainLoss: switching the relay failed: ${(err as Error).message}`);
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const loop = (): void => {
      if (!this.running) return;
      void this.check().finally(() => {
        if (this.running) this.timer = this.clock.schedule(loop, this.options.checkMs);
      });
    };
    this.timer = this.clock.schedule(loop, this.options.checkMs);
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.timer = null;
  }
}
