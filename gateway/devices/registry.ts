/**
 * The one registry of device types (evcc's `meter/_blueprint.go` shape): for each kind — relay,
 * battery, thermostat — a map from type name to a factory. A factory's `decode(raw, prefix)` turns
 * the raw options into a typed config with defaults (a ConfigError names any bad field) without
 * touching the network; `build(config, deps)` then calls the plain constructors. `fromConfig` does
 * both. The runtime checks every configured device with `decode` before it starts anything.
 */
import { ConfigError } from '../errors';
import { ModbusLink, type ModbusLinkConfig } from '../meters/modbus/link';
import type { BatteryDevice, RelayDevice, ThermostatDevice } from './api';
import { LimitedBattery, readBatteryLimits } from './battery';
import { systemClock, type Clock } from './clock';
import { ConfigReader } from './config';
import { ModbusBattery, ModbusSwitch, readModbusBatteryConfig, readModbusSwitchConfig } from './modbus';
import { JsonMqttBattery, JsonMqttThermostat, readJsonMqttConfig } from './mqtt/json-devices';
import type { MqttLink } from './mqtt/link';
import { readShellyConfig, ShellySwitch } from './mqtt/shelly';
import { readTasmotaConfig, TasmotaSwitch } from './mqtt/tasmota';
import { SimulatedRelay } from './sim-relay';
import type { SimulatedHome } from '../sim/home';
import {
  HomeBatteryDriver,
  HomeThermostatDriver,
  readSimulatedBattery,
  readSimulatedThermostat,
  SimulatedBatteryDriver,
  SimulatedThermostatDriver,
} from './sim-devices';
import { SwitchRelay } from './switch-relay';
import { SwitchThermostatDriver } from './switch-thermostat';
import { GuardedThermostat, readGuardConfig } from './thermostat';

/** What the adapters may need from the gateway. */
export interface DeviceDeps {
  /** The gateway's MQTT client; required by the tasmota, shelly and mqtt types. */
  mqtt?: MqttLink;
  clock?: Clock;
  /** Warnings: a listener that threw, a deferred thermostat switch that failed. */
  log?: (text: string) => void;
  /**
   * The gateway's simulated home: when it has a battery or a thermal model, the `simulated` battery
   * and thermostat drive those (so the simulated meter sees them) instead of models of their own.
   */
  home?: SimulatedHome;
}

export interface DeviceFactory<T> {
  /** One line for docs and errors. */
  readonly description: string;
  readonly needsMqtt: boolean;
  decode(raw: unknown, prefix: string): unknown;
  build(config: never, deps: DeviceDeps): T;
}

function factory<C, T>(
  description: string,
  needsMqtt: boolean,
  decode: (r: ConfigReader) => C,
  build: (config: C, deps: Required<Pick<DeviceDeps, 'clock'>> & DeviceDeps) => T,
): DeviceFactory<T> {
  return {
    description,
    needsMqtt,
    decode(raw, prefix) {
      const r = new ConfigReader(raw, prefix);
      const config = decode(r);
      r.done();
      return config;
    },
    build: build as unknown as (config: never, deps: DeviceDeps) => T,
  };
}

function mqttOf(deps: DeviceDeps, what: string): MqttLink {
  if (!deps.mqtt)
    throw new ConfigError(`${what}.type`, what, 'a device type that does not need MQTT, or an MQTT client');
  return deps.mqtt;
}

function warn(deps: DeviceDeps, what: string): (err: unknown) => void {
  return (err) => (deps.log ?? console.warn)(`${what}: ${(err as Error).message ?? String(err)}`);
}

const link = (config: ModbusLinkConfig, clock: Clock): ModbusLink => new ModbusLink(config, clock);

export const RELAY_TYPES = {
  simulated: factory(
    'an in-memory relay (the embedded default)',
    false,
    (r) => ({ initialOn: r.boolean('initialOn', true) }),
    (c, deps) =>
      new SimulatedRelay({
        initialOn: c.initialOn,
        now: () => deps.clock.now(),
        onListenerError: warn(deps, 'relay'),
      }),
  ),
  tasmota: factory(
    'a Tasmota device over MQTT: cmnd/<topic>/POWER, stat/<topic>/POWER, tele/<topic>/LWT',
    true,
    readTasmotaConfig,
    (c, deps) =>
      new SwitchRelay(
        new TasmotaSwitch(mqttOf(deps, 'relay'), c, deps.clock, warn(deps, 'relay')),
        deps.clock,
        warn(deps, 'relay'),
      ),
  ),
  shelly: factory(
    'a Shelly Gen2 switch over MQTT: <prefix>/rpc Switch.Set, <prefix>/status/switch:<id>, <prefix>/online',
    true,
    readShellyConfig,
    (c, deps) =>
      new SwitchRelay(
        new ShellySwitch(mqttOf(deps, 'relay'), c, deps.clock, warn(deps, 'relay')),
        deps.clock,
        warn(deps, 'relay'),
      ),
  ),
  modbus: factory(
    'a coil of a Modbus relay module (TCP or RTU)',
    false,
    readModbusSwitchConfig,
    (c, deps) =>
      new SwitchRelay(
        new ModbusSwitch(link(c.link, deps.clock), c, deps.clock, warn(deps, 'relay')),
        deps.clock,
        warn(deps, 'relay'),
      ),
  ),
} satisfies Record<string, DeviceFactory<RelayDevice>>;

export const BATTERY_TYPES = {
  simulated: factory(
    "the simulated home's battery (settings.sim.battery) when it has one, else its own battery model on the clock",
    false,
    (r) => ({ sim: readSimulatedBattery(r), limits: readBatteryLimits(r) }),
    (c, deps) =>
      new LimitedBattery(
        deps.home?.battery
          ? new HomeBatteryDriver(deps.home)
          : new SimulatedBatteryDriver(
              { ...c.sim.model, maxChargeW: c.limits.maxChargeW, maxDischargeW: c.limits.maxDischargeW },
              c.sim.step,
              deps.clock,
            ),
        c.limits,
        deps.clock,
        warn(deps, 'battery'),
      ),
  ),
  mqtt: factory(
    'a battery speaking JSON over MQTT: <prefix>/set {powerW}, <prefix>/state {socPct, powerW}',
    true,
    (r) => ({ transport: readJsonMqttConfig(r), limits: readBatteryLimits(r) }),
    (c, deps) =>
      new LimitedBattery(
        new JsonMqttBattery(mqttOf(deps, 'battery'), c.transport, warn(deps, 'battery')),
        c.limits,
        deps.clock,
        warn(deps, 'battery'),
      ),
  ),
  modbus: factory(
    'a battery inverter with setpoint and SoC registers over Modbus (TCP or RTU)',
    false,
    (r) => ({ transport: readModbusBatteryConfig(r), limits: readBatteryLimits(r) }),
    (c, deps) =>
      new LimitedBattery(
        new ModbusBattery(link(c.transport.link, deps.clock), c.transport, deps.clock, warn(deps, 'battery')),
        c.limits,
        deps.clock,
        warn(deps, 'battery'),
      ),
  ),
} satisfies Record<string, DeviceFactory<BatteryDevice>>;

export const THERMOSTAT_TYPES = {
  simulated: factory(
    "the simulated home's heat pump (settings.sim.thermal) when it has one, else its own RC house on the clock",
    false,
    (r) => ({ sim: readSimulatedThermostat(r), guard: readGuardConfig(r) }),
    (c, deps) =>
      new GuardedThermostat(
        deps.home?.thermal
          ? new HomeThermostatDriver(deps.home)
          : new SimulatedThermostatDriver(c.sim.model, c.sim.step, deps.clock),
        c.guard,
        deps.clock,
        warn(deps, 'thermostat'),
      ),
  ),
  tasmota: factory(
    'an AC or heater on a Tasmota output (on/off; mode and setpoint kept by HEPEK)',
    true,
    (r) => ({ transport: readTasmotaConfig(r), guard: readGuardConfig(r) }),
    (c, deps) =>
      new GuardedThermostat(
        new SwitchThermostatDriver(
          new TasmotaSwitch(mqttOf(deps, 'thermostat'), c.transport, deps.clock, warn(deps, 'thermostat')),
        ),
        c.guard,
        deps.clock,
        warn(deps, 'thermostat'),
      ),
  ),
  shelly: factory(
    'an AC or heater on a Shelly Gen2 output (on/off; mode and setpoint kept by HEPEK)',
    true,
    (r) => ({ transport: readShellyConfig(r), guard: readGuardConfig(r) }),
    (c, deps) =>
      new GuardedThermostat(
        new SwitchThermostatDriver(
          new ShellySwitch(mqttOf(deps, 'thermostat'), c.transport, deps.clock, warn(deps, 'thermostat')),
        ),
        c.guard,
        deps.clock,
        warn(deps, 'thermostat'),
      ),
  ),
  mqtt: factory(
    'a thermostat speaking JSON over MQTT: <prefix>/set {on, mode, setpointC}, <prefix>/state',
    true,
    (r) => ({ transport: readJsonMqttConfig(r), guard: readGuardConfig(r) }),
    (c, deps) =>
      new GuardedThermostat(
        new JsonMqttThermostat(mqttOf(deps, 'thermostat'), c.transport, warn(deps, 'thermostat')),
        c.guard,
        deps.clock,
        warn(deps, 'thermostat'),
      ),
  ),
} satisfies Record<string, DeviceFactory<ThermostatDevice>>;

export const DEVICE_TYPES = {
  relay: RELAY_TYPES as Record<string, DeviceFactory<RelayDevice>>,
  battery: BATTERY_TYPES as Record<string, DeviceFactory<BatteryDevice>>,
  thermostat: THERMOSTAT_TYPES as Record<string, DeviceFactory<ThermostatDevice>>,
};

export type DeviceKind = keyof typeof DEVICE_TYPES;
type DeviceOf<K extends DeviceKind> = K extends 'relay'
  ? RelayDevice
  : K extends 'battery'
    ? BatteryDevice
    : ThermostatDevice;

/** Adds a type at run time (a plugin, a test double). */
export function registerDeviceType<K extends DeviceKind>(
  kind: K,
  type: string,
  entry: DeviceFactory<DeviceOf<K>>,
): void {
  (DEVICE_TYPES[kind] as Record<string, DeviceFactory<DeviceOf<K>>>)[type] = entry;
}

function entryOf<K extends DeviceKind>(kind: K, type: string): DeviceFactory<DeviceOf<K>> {
  const entry = (DEVICE_TYPES[kind] as Record<string, DeviceFactory<DeviceOf<K>>>)[type];
  if (!entry)
    throw new ConfigError(
      `${kind}.type`,
      type,
      `one of ${Object.keys(DEVICE_TYPES[kind])
        .map((t) => JSON.stringify(t))
        .join(', ')}`,
    );
  return entry;
}

/** Checks a device's type and options without building it (no I/O). Returns the typed config. */
export function decodeDevice(
  kind: DeviceKind,
  type: string,
  options: unknown,
  prefix = `${kind}.options`,
): unknown {
  return entryOf(kind, type).decode(options, prefix);
}

/** Builds a device of `kind` from its type name and raw options. */
export function fromConfig<K extends DeviceKind>(
  kind: K,
  type: string,
  options: unknown,
  deps: DeviceDeps = {},
  prefix = `${kind}.options`,
): DeviceOf<K> {
  const entry = entryOf(kind, type);
  const config = entry.decode(options, prefix);
  if (entry.needsMqtt && !deps.mqtt)
    throw new ConfigError(`${kind}.type`, type, 'a type that does not need MQTT: no MQTT client was given');
  return entry.build(config as never, { ...deps, clock: deps.clock ?? systemClock });
}
