/**
 * An in-memory switch: it confirms every command at once and is always available. The simulated
 * thermostat's output, and a stand-in for a real switch in tests.
 */
import type { SwitchDriver } from './api';
import { Listeners } from './listeners';

export class SimulatedSwitch implements SwitchDriver {
  readonly kind = 'simulated';
  private on: boolean;
  private readonly reports = new Listeners<boolean>();
  /** Every command received, in order (for tests and the simulated thermostat's statistics). */
  readonly commands: boolean[] = [];

  constructor(initialOn = false) {
    this.on = initialOn;
  }

  reported(): boolean {
    return this.on;
  }

  async switchTo(on: boolean): Promise<void> {
    this.commands.push(on);
    if (on === this.on) return;
    this.on = on;
    this.reports.emit(on);
  }

  /** A change made at the device (its button). */
  press(on: boolean): void {
    if (on === this.on) return;
    this.on = on;
    this.reports.emit(on);
  }

  onReport(listener: (on: boolean) => void): () => void {
    return this.reports.add(listener);
  }

  available(): boolean {
    return true;
  }

  onAvailability(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    this.reports.clear();
  }
}
