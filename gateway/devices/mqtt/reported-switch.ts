/**
 * The reported side that the MQTT switches (Tasmota, Shelly) share: the last on/off and
 * temperature the device reported, its availability, and the listeners of each. A subclass feeds
 * these from its own topics and decides when a report counts (Shelly only emits a changed
 * temperature, Tasmota every SENSOR reading).
 */
import { AvailabilityState, Listeners } from '../listeners';

export abstract class ReportedSwitch {
  /** The last reported on/off; null until the device has said. */
  protected state: boolean | null = null;
  /** The last reported temperature, °C; null when the device has none. */
  protected temperature: number | null = null;
  protected readonly availability: AvailabilityState;
  protected readonly reports: Listeners<boolean>;
  protected readonly temperatures: Listeners<number>;

  constructor(onListenerError?: (err: unknown) => void) {
    this.availability = new AvailabilityState(onListenerError);
    this.reports = new Listeners(onListenerError);
    this.temperatures = new Listeners(onListenerError);
  }

  reported(): boolean | null {
    return this.state;
  }

  temperatureC(): number | null {
    return this.temperature;
  }

  onTemperature(listener: (temperatureC: number) => void): () => void {
    return this.temperatures.add(listener);
  }

  available(): boolean {
    return this.availability.get();
  }

  onAvailability(listener: (available: boolean) => void): () => void {
    return this.availability.subscribe(listener);
  }

  onReport(listener: (on: boolean) => void): () => void {
    return this.reports.add(listener);
  }
}
