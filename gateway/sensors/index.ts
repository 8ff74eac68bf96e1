/**
 * Sensors: single values with a unit, for rules, dashboards and Home Assistant. Each one is
 * derived from a device the gateway already has — import/export power and energy from the meter,
 * battery level from the battery, indoor temperature from the thermostat — or read from an MQTT
 * topic (an outdoor temperature from a weather station, a Tasmota SENSOR payload).
 */
import type { MeterReading, MeterSource } from '../context';
import type { BatteryDevice, BatteryState, ThermostatDevice, ThermostatState } from '../devices/api';
import { ConfigReader } from '../devices/config';
import { Listeners } from '../devices/listeners';
import { attachTopics, type MqttLink } from '../devices/mqtt/link';
import { safeJson } from '../devices/mqtt/tasmota';

export type Quantity = 'power' | 'energy' | 'stateOfCharge' | 'temperature';
export const UNITS = { power: 'W', energy: 'Wh', stateOfCharge: '%', temperature: '°C' } as const;
export type Unit = (typeof UNITS)[Quantity];

export interface SensorValue {
  /** e.g. `importPowerW`, `batteryLevelPct`, `outdoorTemperatureC`. */
  id: string;
  quantity: Quantity;
  unit: Unit;
  value: number;
  /** ISO 8601 time of the value. */
  at: string;
}

export interface Sensor {
  readonly id: string;
  readonly quantity: Quantity;
  readonly unit: Unit;
  /** The newest value, or null before the first. */
  read(): SensorValue | null;
  subscribe(listener: (value: SensorValue) => void): () => void;
}

/** A sensor fed by `update`; the others are built on it. */
export class ValueSensor implements Sensor {
  readonly unit: Unit;
  private newest: SensorValue | null = null;
  private readonly listeners = new Listeners<SensorValue>();

  constructor(
    readonly id: string,
    readonly quantity: Quantity,
    private readonly now: () => number = Date.now,
  ) {
    this.unit = UNITS[quantity];
  }

  update(value: number | null | undefined, at?: string): void {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    this.newest = {
      id: this.id,
      quantity: this.quantity,
      unit: this.unit,
      value,
      at: at ?? new Date(this.now()).toISOString(),
    };
    this.listeners.emit({ ...this.newest });
  }

  read(): SensorValue | null {
    return this.newest ? { ...this.newest } : null;
  }

  subscribe(listener: (value: SensorValue) => void): () => void {
    return this.listeners.add(listener);
  }
}

/** Import and export power (W, both ≥ 0) and the cumulative counters (Wh) of a meter. */
export function meterSensors(meter: MeterSource): { sensors: ValueSensor[]; stop: () => void } {
  const sensors = {
    importPowerW: new ValueSensor('importPowerW', 'power'),
    exportPowerW: new ValueSensor('exportPowerW', 'power'),
    importEnergyWh: new ValueSensor('importEnergyWh', 'energy'),
    exportEnergyWh: new ValueSensor('exportEnergyWh', 'energy'),
  };
  const update = (r: MeterReading): void => {
    sensors.importPowerW.update(Math.max(0, r.powerW), r.timestamp);
    sensors.exportPowerW.update(Math.max(0, -r.powerW), r.timestamp);
    sensors.importEnergyWh.update(r.importWh, r.timestamp);
    sensors.exportEnergyWh.update(r.exportWh, r.timestamp);
  };
  const latest = meter.latest();
  if (latest) update(latest);
  return { sensors: Object.values(sensors), stop: meter.subscribe(update) };
}

/** Battery level, %. */
export function batterySensors(battery: BatteryDevice): { sensors: ValueSensor[]; stop: () => void } {
  const level = new ValueSensor('batteryLevelPct', 'stateOfCharge');
  const update = (s: BatteryState): void => level.update(s.socPct);
  update(battery.state());
  return { sensors: [level], stop: battery.subscribe(update) };
}

/** Indoor temperature, °C, as the thermostat measures it. */
export function thermostatSensors(thermostat: ThermostatDevice): {
  sensors: ValueSensor[];
  stop: () => void;
} {
  const indoor = new ValueSensor('indoorTemperatureC', 'temperature');
  const update = (s: ThermostatState): void => indoor.update(s.indoorC);
  update(thermostat.state());
  return { sensors: [indoor], stop: thermostat.subscribe(update) };
}

export interface MqttSensorConfig {
  id: string;
  quantity: Quantity;
  /** Topic carrying the value (no wildcards). */
  topic: string;
  /** Dotted path into a JSON payload (`AM2301.Temperature`); empty = the payload is the number. */
  path: string;
}

const ID = {
  test: /^[A-Za-z][A-Za-z0-9]*$/,
  allowed: 'a camelCase identifier ending in its unit, e.g. outdoorTemperatureC',
};
const TOPIC = { test: /^[^+#\s]+$/, allowed: 'an MQTT topic without wildcards or spaces' };

export function decodeMqttSensor(raw: unknown, prefix: string): MqttSensorConfig {
  const r = new ConfigReader(raw, prefix);
  const config: MqttSensorConfig = {
    id: r.requiredString('id', ID),
    quantity: r.oneOf('quantity', 'temperature', [
      'power',
      'energy',
      'stateOfCharge',
      'temperature',
    ] as const),
    topic: r.requiredString('topic', TOPIC),
    path: r.string('path', '', { test: /^[^\s]*$/, allowed: 'a dotted JSON path without spaces' }),
  };
  r.done();
  return config;
}

/** The value at a dotted path of a JSON payload, or the payload itself as a number. */
export function valueAt(text: string, path: string): number | null {
  if (path === '') {
    const n = Number(text.trim());
    return text.trim() !== '' && Number.isFinite(n) ? n : null;
  }
  let node = safeJson(text);
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object') return null;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'number' && Number.isFinite(node) ? node : null;
}

/** A sensor read from an MQTT topic; `close()` unsubscribes. */
export class MqttSensor extends ValueSensor {
  private readonly detach: () => void;

  constructor(
    link: MqttLink,
    readonly config: MqttSensorConfig,
  ) {
    super(config.id, config.quantity);
    this.detach = attachTopics(link, [config.topic], (_topic, text) =>
      this.update(valueAt(text, config.path)),
    );
  }

  close(): void {
    this.detach();
  }
}
