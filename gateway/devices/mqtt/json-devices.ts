/**
 * Batteries and thermostats that speak plain JSON over MQTT (an ESPHome or Home Assistant bridge,
 * a vendor gateway, a script): HEPEK publishes commands to `<prefix>/set` and the device publishes
 * its state, retained, to `<prefix>/state`; an optional `<prefix>/online` (`true`/`false` or
 * `online`/`offline`) is its last will.
 *
 * Battery: `{"powerW": 1500}` (+ charge, − discharge, W) → state `{"socPct": 57, "powerW": 1480}`.
 * Thermostat: `{"on": true, "mode": "cool", "setpointC": 24}` → state adds `"indoorC": 26.1`.
 */
import { DeviceUnavailableError } from '../../errors';
import type { BatteryDriver, ThermostatDriver, ThermostatSettings } from '../api';
import { type ConfigReader } from '../config';
import { AvailabilityState, Listeners } from '../listeners';
import { attachTopics, type MqttLink } from './link';
import { safeJson } from './tasmota';

export interface JsonMqttConfig {
  /** Topic prefix; commands go to `<prefix>/set`, state comes from `<prefix>/state`. */
  prefix: string;
}

const PREFIX = {
  test: /^[^+#\s/](?:[^+#\s]*[^+#\s/])?$/,
  allowed: 'an MQTT topic prefix without +, #, spaces or a leading/trailing /',
};

export function readJsonMqttConfig(r: ConfigReader): JsonMqttConfig {
  return { prefix: r.requiredString('prefix', PREFIX) };
}

const ONLINE = new Set(['true', 'online', '1']);

abstract class JsonMqttDevice<R> {
  protected readonly availability: AvailabilityState;
  protected readonly reports: Listeners<R>;
  private readonly detach: () => void;

  constructor(
    protected readonly link: MqttLink,
    readonly config: JsonMqttConfig,
    onListenerError?: (err: unknown) => void,
  ) {
    this.availability = new AvailabilityState(onListenerError);
    this.reports = new Listeners(onListenerError);
    const p = config.prefix;
    this.detach = attachTopics(link, [`${p}/state`, `${p}/online`], (topic, text) => {
      if (topic === `${p}/online`) return this.availability.set(ONLINE.has(text.trim().toLowerCase()));
      const json = safeJson(text);
      if (json === null || typeof json !== 'object' || Array.isArray(json)) return;
      this.availability.set(true);
      const report = this.decode(json as Record<string, unknown>);
      if (report) this.reports.emit(report);
    });
  }

  protected abstract decode(json: Record<string, unknown>): R | null;

  protected get name(): string {
    return `mqtt ${this.config.prefix}`;
  }

  protected send(payload: Record<string, unknown>): void {
    if (!this.link.connected) throw new DeviceUnavailableError(this.name, 'the MQTT broker is not connected');
    this.link.publish(`${this.config.prefix}/set`, JSON.stringify(payload), { qos: 1 });
  }

  available(): boolean {
    return this.availability.get();
  }

  onAvailability(listener: (available: boolean) => void): () => void {
    return this.availability.subscribe(listener);
  }

  onReport(listener: (report: R) => void): () => void {
    return this.reports.add(listener);
  }

  async close(): Promise<void> {
    this.detach();
  }
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export class JsonMqttBattery
  extends JsonMqttDevice<{ socPct?: number; powerW?: number }>
  implements BatteryDriver
{
  readonly kind = 'mqtt';

  protected decode(json: Record<string, unknown>): { socPct?: number; powerW?: number } | null {
    const socPct = finite(json.socPct);
    const powerW = finite(json.powerW);
    return socPct === undefined && powerW === undefined ? null : { socPct, powerW };
  }

  async writeSetpoint(powerW: number): Promise<void> {
    this.send({ powerW });
  }
}

export class JsonMqttThermostat
  extends JsonMqttDevice<Partial<ThermostatSettings>>
  implements ThermostatDriver
{
  readonly kind = 'mqtt';
  private indoor: number | null = null;

  protected decode(json: Record<string, unknown>): Partial<ThermostatSettings> | null {
    const indoorC = finite(json.indoorC);
    if (indoorC !== undefined) this.indoor = indoorC;
    const report: Partial<ThermostatSettings> = {};
    if (typeof json.on === 'boolean') report.on = json.on;
    if (typeof json.mode === 'string') report.mode = json.mode as ThermostatSettings['mode'];
    const setpointC = finite(json.setpointC);
    if (setpointC !== undefined) report.setpointC = setpointC;
    return report;
  }

  indoorC(): number | null {
    return this.indoor;
  }

  async write(settings: ThermostatSettings): Promise<void> {
    this.send({ on: settings.on, mode: settings.mode, setpointC: settings.setpointC });
  }
}
