/**
 * A thermostat that is a switched appliance: an AC, heater or heat pump on a Tasmota or Shelly
 * output. Only on/off reaches the device; its mode and setpoint are kept and reported by HEPEK
 * (the appliance regulates with its own thermostat). The indoor temperature is the switch's own
 * sensor when it has one (Tasmota `tele/<topic>/SENSOR`, Shelly `temperature.tC`).
 */
import { hasTemperature, type SwitchDriver, type ThermostatDriver, type ThermostatSettings } from './api';

export class SwitchThermostatDriver implements ThermostatDriver {
  constructor(readonly output: SwitchDriver) {}

  get kind(): string {
    return this.output.kind;
  }

  async write(settings: ThermostatSettings): Promise<void> {
    if (this.output.reported() !== settings.on) await this.output.switchTo(settings.on);
  }

  onReport(listener: (report: Partial<ThermostatSettings>) => void): () => void {
    const undo = [this.output.onReport((on) => listener({ on }))];
    // A new indoor temperature is news for the thermostat's subscribers too.
    if (hasTemperature(this.output)) undo.push(this.output.onTemperature(() => listener({})));
    return () => undo.forEach((u) => u());
  }

  indoorC(): number | null {
    return hasTemperature(this.output) ? this.output.temperatureC() : null;
  }

  available(): boolean {
    return this.output.available();
  }

  onAvailability(listener: (available: boolean) => void): () => void {
    return this.output.onAvailability(listener);
  }

  close(): Promise<void> {
    return this.output.close();
  }
}
