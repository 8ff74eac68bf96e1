/**
 * The supply relay on any switch driver (Tasmota, Shelly, Modbus coil): the state is what the
 * device last reported, a command resolves once the device confirmed it, and a change made at the
 * device (its button, its own web page) is followed with reason `changed at the device`.
 */
import type { RelayDevice, RelayState, SwitchDriver } from './api';
import { systemClock, type Clock } from './clock';
import { Listeners } from './listeners';

export class SwitchRelay implements RelayDevice {
  private current: RelayState;
  private readonly listeners: Listeners<RelayState>;
  private readonly unsubscribe: Array<() => void>;
  /** The reason of a command in flight, so its echo is recorded with it. */
  private commanding: { on: boolean; reason: string } | null = null;

  constructor(
    readonly driver: SwitchDriver,
    private readonly clock: Clock = systemClock,
    onListenerError?: (err: unknown) => void,
    /** What to show before the device reported; a household is supplied unless told otherwise. */
    assumeOn = true,
  ) {
    this.listeners = new Listeners(onListenerError);
    const reported = driver.reported();
    this.current = {
      on: reported ?? assumeOn,
      changedAt: new Date(clock.now()).toISOString(),
      reason: reported === null ? 'initial (not yet reported by the device)' : 'initial',
      available: driver.available(),
    };
    this.unsubscribe = [
      driver.onReport((on) => {
        // The first report replaces what was assumed at start; it is not a change.
        if (this.current.reason.startsWith('initial (')) return this.update({ on, reason: 'initial' });
        if (on === this.current.on) return;
        const reason = this.commanding?.on === on ? this.commanding.reason : 'changed at the device';
        this.update({ on, reason });
      }),
      driver.onAvailability((available) => this.update({ available })),
    ];
  }

  get kind(): string {
    return this.driver.kind;
  }

  private update(change: Partial<RelayState>): void {
    const next = { ...this.current, ...change };
    if (change.on !== undefined && change.on !== this.current.on)
      next.changedAt = new Date(this.clock.now()).toISOString();
    this.current = next;
    this.listeners.emit(this.state());
  }

  state(): RelayState {
    return { ...this.current };
  }

  async set(on: boolean, reason: string): Promise<RelayState> {
    if (this.current.on === on && this.driver.reported() === on) return this.state();
    this.commanding = { on, reason };
    try {
      await this.driver.switchTo(on);
    } finally {
      this.commanding = null;
    }
    if (this.current.on !== on) this.update({ on, reason });
    return this.state();
  }

  subscribe(listener: (state: RelayState) => void): () => void {
    return this.listeners.add(listener);
  }

  async close(): Promise<void> {
    for (const undo of this.unsubscribe) undo();
    this.listeners.clear();
    await this.driver.close();
  }
}
