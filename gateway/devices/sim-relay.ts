/**
 * A simulated supply relay: remembers its state and tells subscribers when it changes. The
 * embedded default, a standalone `hepek-config` and the tests use it where a real installation
 * would switch a contactor over MQTT or Modbus.
 */
import type { RelayDevice, RelayState } from '../context';

export interface SimulatedRelayOptions {
  /** State at construction; a household starts supplied. Default true (closed). */
  initialOn?: boolean;
  /** Wall clock, ms since the epoch. */
  now?: () => number;
  /** Called when a state listener throws; the relay carries on. Default: console.error. */
  onListenerError?: (err: unknown) => void;
}

export class SimulatedRelay implements RelayDevice {
  readonly kind = 'simulated';
  private current: RelayState;
  private readonly now: () => number;
  private readonly onListenerError: (err: unknown) => void;
  private readonly listeners = new Set<(state: RelayState) => void>();

  constructor(options: SimulatedRelayOptions = {}) {
    this.now = options.now ?? Date.now;
    this.onListenerError =
      options.onListenerError ?? ((err) => console.error('simulated relay: a state listener threw', err));
    this.current = {
      on: options.initialOn ?? true,
      changedAt: new Date(this.now()).toISOString(),
      reason: 'initial',
    };
  }

  state(): RelayState {
    return { ...this.current };
  }

  async set(on: boolean, reason: string): Promise<RelayState> {
    if (this.current.on === on) return this.state();
    this.current = { on, changedAt: new Date(this.now()).toISOString(), reason };
    const snapshot = this.state();
    for (const listener of [...this.listeners]) {
      try {
        listener({ ...snapshot });
      } catch (err) {
        this.onListenerError(err);
      }
    }
    return snapshot;
  }

  subscribe(listener: (state: RelayState) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}
