/**
 * Home Assistant MQTT discovery, device-based (one retained message on
 * `<prefix>/device/<object_id>/config` with `dev`, `o` and `cmps`), built as plain data from the
 * serial and version. Pure: no MQTT, no timers; integration.ts publishes it and rules.ts checks it.
 */
import { hepekTopics } from '../topics';

export interface DiscoveryOptions {
  serial: string;
  /** The gateway's package version (device `sw` and origin `sw`). */
  version: string;
  /** HA's discovery prefix (HA default `homeassistant`). */
  prefix: string;
  /** Where the gateway's editor answers, shown as the device's configuration URL; null to omit. */
  configurationUrl?: string | null;
}

export interface DiscoveryMessage {
  topic: string;
  payload: Record<string, unknown>;
}

/** HA allows only `[a-zA-Z0-9_-]` in discovery topic ids; a serial may also hold dots. */
export function haObjectId(serial: string): string {
  return `hepek_${serial.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
}

/** Thermostat setpoint limits offered to HA, °C. */
export const SETPOINT_MIN_C = 10;
export const SETPOINT_MAX_C = 30;
/** HA climate modes offered; the thermostat adapter's `fan` is HA's `fan_only`, its `on: false` is `off`. */
export const THERMOSTAT_MODES = ['off', 'heat', 'cool', 'auto', 'fan_only'] as const;
export type HaThermostatMode = (typeof THERMOSTAT_MODES)[number];
export const PLAN_ACTIONS = ['charge', 'discharge', 'idle'] as const;

export function buildDiscovery(options: DiscoveryOptions): DiscoveryMessage {
  const t = hepekTopics(options.serial);
  const id = haObjectId(options.serial);
  const uid = (key: string) => `${id}_${key}`;
  const kWh = (field: string) => `{{ (value_json.${field} / 1000) | round(3) }}`;
  const onOff = (expr: string) => `{{ 'ON' if ${expr} else 'OFF' }}`;

  const sensor = (key: string, config: Record<string, unknown>) => ({
    p: 'sensor',
    unique_id: uid(key),
    ...config,
  });
  const powerW = (key: string, name: string, topic: string, field: string) =>
    sensor(key, {
      name,
      state_topic: topic,
      value_template: `{{ value_json.${field} }}`,
      device_class: 'power',
      state_class: 'measurement',
      unit_of_measurement: 'W',
    });
  const temperature = (key: string, name: string, field: string) =>
    sensor(key, {
      name,
      state_topic: t.thermostat,
      value_template: `{{ value_json.${field} }}`,
      device_class: 'temperature',
      state_class: 'measurement',
      unit_of_measurement: '°C',
    });

  const cmps: Record<string, Record<string, unknown>> = {
    // What the Energy dashboard accepts as grid consumption / return to grid.
    grid_import: sensor('grid_import', {
      name: 'Grid import',
      state_topic: t.meter,
      value_template: kWh('importWh'),
      device_class: 'energy',
      state_class: 'total_increasing',
      unit_of_measurement: 'kWh',
      suggested_display_precision: 2,
    }),
    grid_export: sensor('grid_export', {
      name: 'Grid export',
      state_topic: t.meter,
      value_template: kWh('exportWh'),
      device_class: 'energy',
      state_class: 'total_increasing',
      unit_of_measurement: 'kWh',
      suggested_display_precision: 2,
    }),
    grid_power: powerW('grid_power', 'Grid power', t.meter, 'powerW'),
    load_power: powerW('load_power', 'Household load', t.meter, 'loadW'),
    pv_power: powerW('pv_power', 'PV power', t.meter, 'pvW'),
    battery_soc: sensor('battery_soc', {
      name: 'Battery',
      state_topic: t.battery,
      value_template: '{{ value_json.socPct }}',
      device_class: 'battery',
      state_class: 'measurement',
      unit_of_measurement: '%',
    }),
    battery_power: powerW('battery_power', 'Battery power', t.battery, 'powerW'),
    relay: {
      p: 'switch',
      unique_id: uid('relay'),
      name: 'Supply relay',
      device_class: 'switch',
      state_topic: t.relay,
      value_template: onOff('value_json.on'),
      command_topic: t.relaySet,
      payload_on: 'ON',
      payload_off: 'OFF',
      state_on: 'ON',
      state_off: 'OFF',
    },
    thermostat: {
      p: 'climate',
      unique_id: uid('thermostat'),
      name: 'Thermostat',
      modes: [...THERMOSTAT_MODES],
      mode_command_topic: t.thermostatModeSet,
      mode_state_topic: t.thermostat,
      mode_state_template: '{{ value_json.mode }}',
      temperature_command_topic: t.thermostatSetpointSet,
      temperature_state_topic: t.thermostat,
      temperature_state_template: '{{ value_json.setpointC }}',
      current_temperature_topic: t.thermostat,
      current_temperature_template: '{{ value_json.indoorC }}',
      min_temp: SETPOINT_MIN_C,
      max_temp: SETPOINT_MAX_C,
      temp_step: 0.5,
      temperature_unit: 'C',
      precision: 0.1,
    },
    indoor_temperature: temperature('indoor_temperature', 'Indoor temperature', 'indoorC'),
    outdoor_temperature: temperature('outdoor_temperature', 'Outdoor temperature', 'outdoorC'),
    demand_active: {
      p: 'binary_sensor',
      unique_id: uid('demand_active'),
      name: 'DEMAND active',
      state_topic: t.demand,
      value_template: onOff('value_json.active'),
      payload_on: 'ON',
      payload_off: 'OFF',
      json_attributes_topic: t.demand,
      json_attributes_template: '{{ (value_json.event or {}) | tojson }}',
    },
    demand_allow: {
      p: 'switch',
      unique_id: uid('demand_allow'),
      name: 'Allow demand response',
      device_class: 'switch',
      state_topic: t.demandAllow,
      command_topic: t.demandAllowSet,
      payload_on: 'ON',
      payload_off: 'OFF',
      state_on: 'ON',
      state_off: 'OFF',
    },
    ergon_balance: sensor('ergon_balance', {
      name: 'ERGON balance',
      state_topic: t.balance,
      value_template: '{{ value_json.spendableErgon }}',
      state_class: 'measurement',
      unit_of_measurement: 'ERGON',
      suggested_display_precision: 3,
      icon: 'mdi:wallet',
    }),
    price_current: sensor('price_current', {
      name: 'Price',
      state_topic: t.price,
      value_template: '{{ value_json.currentErgonPerKWh }}',
      state_class: 'measurement',
      unit_of_measurement: 'ERGON/kWh',
      suggested_display_precision: 4,
      icon: 'mdi:cash',
    }),
    price_forecast: sensor('price_forecast', {
      name: 'Price forecast next hour',
      state_topic: t.price,
      value_template: '{{ value_json.nextErgonPerKWh }}',
      state_class: 'measurement',
      unit_of_measurement: 'ERGON/kWh',
      suggested_display_precision: 4,
      json_attributes_topic: t.price,
      json_attributes_template: '{{ {"forecast": value_json.forecast} | tojson }}',
      icon: 'mdi:chart-line',
    }),
    battery_plan: sensor('battery_plan', {
      name: 'Battery plan',
      state_topic: t.plan,
      value_template: '{{ value_json.action }}',
      device_class: 'enum',
      options: [...PLAN_ACTIONS],
      json_attributes_topic: t.plan,
      json_attributes_template:
        '{{ {"setpointW": value_json.setpointW, "until": value_json.until, "steps": value_json.steps} | tojson }}',
    }),
    stored_energy_value: sensor('stored_energy_value', {
      name: 'Stored energy value',
      state_topic: t.plan,
      value_template: '{{ value_json.storedEnergyValueErgon }}',
      state_class: 'measurement',
      unit_of_measurement: 'ERGON',
      suggested_display_precision: 3,
      icon: 'mdi:battery-heart-variant',
    }),
    degradation_cost: sensor('degradation_cost', {
      name: 'Battery degradation cost',
      state_topic: t.plan,
      value_template: '{{ value_json.degradationCostErgonPerKWh }}',
      state_class: 'measurement',
      unit_of_measurement: 'ERGON/kWh',
      suggested_display_precision: 4,
      entity_category: 'diagnostic',
    }),
  };

  const dev: Record<string, unknown> = {
    ids: [id],
    name: `HEPEK ${options.serial}`,
    mf: 'HEPEK',
    mdl: 'HEPEK smart-energy gateway',
    sw: options.version,
    sn: options.serial,
  };
  if (options.configurationUrl) dev.cu = options.configurationUrl;

  return {
    topic: `${options.prefix}/device/${id}/config`,
    payload: {
      dev,
      o: { name: 'hepek', sw: options.version },
      avty_t: t.status,
      pl_avail: 'online',
      pl_not_avail: 'offline',
      qos: 1,
      cmps,
    },
  };
}
