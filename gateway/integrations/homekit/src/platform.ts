/**
 * The HEPEK dynamic platform. One MQTT connection to the gateway's broker; each gateway part is its
 * own HomeKit accessory (supply relay → Outlet, thermostat → Thermostat, home battery → Battery,
 * indoor/outdoor → TemperatureSensor, "Allow demand response" → Switch). Values arrive as MQTT
 * messages and are pushed with updateCharacteristic; reads answer from that cache at once; writes
 * become the gateway's `…/set` commands. While the gateway's last will says `offline` (or the
 * broker is unreachable) reads and writes answer "No Response".
 *
 * Verified-plugin rules kept here: nothing happens without brokerUrl and serial; nothing is written
 * to disk (Homebridge itself caches the accessories in its storage dir); every callback catches its
 * own errors so no exception escapes into Homebridge.
 */
import type {
  API,
  Characteristic as CharacteristicClass,
  CharacteristicValue,
  DynamicPlatformPlugin,
  Logging,
  PlatformAccessory,
  PlatformConfig,
  Service as ServiceClass,
  WithUUID,
} from 'homebridge';
import type { MqttClient } from 'mqtt';
import { PLATFORM_NAME, PLUGIN_NAME, parseConfig, topicsFor, type HepekConfig } from './config';
import {
  batteryLevel,
  chargingState,
  clampSetpoint,
  currentState,
  lowBattery,
  modeToTarget,
  parseBattery,
  parseOnOff,
  parseRelay,
  parseThermostat,
  targetToMode,
  type BatteryState,
  type ThermostatState,
} from './mapping';

const SETPOINT_MIN_C = 10;
const SETPOINT_MAX_C = 30;

/** A concrete HAP service class (Service.Outlet, Service.Thermostat, …). */
type ServiceType = WithUUID<new (displayName?: string, subtype?: string) => ServiceClass>;
type CharacteristicType = WithUUID<new () => CharacteristicClass>;

interface Part {
  key: string;
  name: string;
  category: number;
  service: ServiceType;
  setup(service: ServiceClass): void;
}

export class HepekPlatform implements DynamicPlatformPlugin {
  private readonly cached = new Map<string, PlatformAccessory>();
  private readonly config: HepekConfig | null;
  private client: MqttClient | null = null;
  private online = false;
  private relayOn: boolean | null = null;
  private allowDemand: boolean | null = null;
  private thermostat: ThermostatState = { indoorC: null, outdoorC: null, setpointC: null, mode: null };
  private battery: BatteryState = { socPct: null, powerW: null };
  private readonly services = new Map<string, ServiceClass>();
  private lastError = '';

  constructor(
    private readonly log: Logging,
    rawConfig: PlatformConfig,
    private readonly api: API,
  ) {
    const parsed = parseConfig(rawConfig as Record<string, unknown>);
    if (!parsed.ok) {
      this.config = null;
      this.log.warn(parsed.reason);
      return;
    }
    this.config = parsed.config;
    this.api.on('didFinishLaunching', () => this.guard('start', () => this.start()));
    this.api.on('shutdown', () => this.guard('shutdown', () => this.client?.end(true)));
  }

  /** Homebridge hands back the accessories it cached; they are reused in start(). */
  configureAccessory(accessory: PlatformAccessory): void {
    this.cached.set(accessory.UUID, accessory);
  }

  private guard(what: string, fn: () => unknown): void {
    try {
      const result = fn();
      if (result instanceof Promise)
        result.catch((err: unknown) => this.log.error(`${what}: ${String(err)}`));
    } catch (err) {
      this.log.error(`${what}: ${(err as Error).message ?? String(err)}`);
    }
  }

  private noResponse(): Error {
    return new this.api.hap.HapStatusError(this.api.hap.HAPStatus.SERVICE_COMMUNICATION_FAILURE);
  }

  private reachable(): void {
    if (!this.online || !this.client?.connected) throw this.noResponse();
  }

  /** A getter that answers "No Response" while the gateway is unreachable, else `read()`. */
  private whenReachable<T>(read: () => T): () => T {
    return () => {
      this.reachable();
      return read();
    };
  }

  private publish(topic: string, payload: string): Promise<void> {
    const client = this.client;
    if (!client?.connected || !this.online) return Promise.reject(this.noResponse());
    return new Promise((resolve, reject) =>
      client.publish(topic, payload, { qos: 1 }, (err) => (err ? reject(this.noResponse()) : resolve())),
    );
  }

  private parts(config: HepekConfig): Part[] {
    const { Service, Characteristic } = this.api.hap;
    const { OUTLET, SWITCH, THERMOSTAT, OTHER, SENSOR } = {
      OUTLET: this.api.hap.Categories.OUTLET,
      SWITCH: this.api.hap.Categories.SWITCH,
      THERMOSTAT: this.api.hap.Categories.THERMOSTAT,
      OTHER: this.api.hap.Categories.OTHER,
      SENSOR: this.api.hap.Categories.SENSOR,
    };
    const t = topicsFor(config.serial);
    const C = Characteristic;
    const parts: Part[] = [
      {
        key: 'relay',
        name: 'Supply relay',
        category: OUTLET,
        service: Service.Outlet,
        setup: (s) => {
          s.getCharacteristic(C.On)
            .onGet(this.whenReachable(() => this.relayOn ?? false))
            .onSet((value: CharacteristicValue) => this.publish(t.relaySet, value ? 'ON' : 'OFF'));
          s.getCharacteristic(C.OutletInUse).onGet(() => this.relayOn ?? false);
        },
      },
      {
        key: 'demand',
        name: 'Allow demand response',
        category: SWITCH,
        service: Service.Switch,
        setup: (s) => {
          s.getCharacteristic(C.On)
            .onGet(this.whenReachable(() => this.allowDemand ?? true))
            .onSet((value: CharacteristicValue) => this.publish(t.demandAllowSet, value ? 'ON' : 'OFF'));
        },
      },
    ];
    if (config.thermostat)
      parts.push({
        key: 'thermostat',
        name: 'Thermostat',
        category: THERMOSTAT,
        service: Service.Thermostat,
        setup: (s) => {
          s.getCharacteristic(C.CurrentTemperature)
            .setProps({ minValue: -50, maxValue: 100 })
            .onGet(this.whenReachable(() => this.thermostat.indoorC ?? 0));
          s.getCharacteristic(C.TargetTemperature)
            .setProps({ minValue: SETPOINT_MIN_C, maxValue: SETPOINT_MAX_C, minStep: 0.5 })
            .onGet(
              this.whenReachable(() =>
                clampSetpoint(this.thermostat.setpointC ?? 20, SETPOINT_MIN_C, SETPOINT_MAX_C),
              ),
            )
            .onSet((value: CharacteristicValue) => this.publish(t.thermostatSetpointSet, String(value)));
          s.getCharacteristic(C.CurrentHeatingCoolingState).onGet(
            this.whenReachable(() => currentState(this.thermostat)),
          );
          s.getCharacteristic(C.TargetHeatingCoolingState)
            .onGet(this.whenReachable(() => modeToTarget(this.thermostat.mode)))
            .onSet((value: CharacteristicValue) =>
              this.publish(t.thermostatModeSet, targetToMode(Number(value))),
            );
          s.getCharacteristic(C.TemperatureDisplayUnits).onGet(() => C.TemperatureDisplayUnits.CELSIUS);
        },
      });
    if (config.battery)
      parts.push({
        key: 'battery',
        name: 'Home battery',
        category: OTHER,
        service: Service.Battery,
        setup: (s) => {
          s.getCharacteristic(C.BatteryLevel).onGet(this.whenReachable(() => batteryLevel(this.battery)));
          s.getCharacteristic(C.ChargingState).onGet(() => chargingState(this.battery));
          s.getCharacteristic(C.StatusLowBattery).onGet(() => lowBattery(this.battery));
        },
      });
    if (config.temperatureSensors)
      for (const [key, name, field] of [
        ['indoor', 'Indoor temperature', 'indoorC'],
        ['outdoor', 'Outdoor temperature', 'outdoorC'],
      ] as const)
        parts.push({
          key,
          name,
          category: SENSOR,
          service: Service.TemperatureSensor,
          setup: (s) => {
            s.getCharacteristic(C.CurrentTemperature)
              .setProps({ minValue: -50, maxValue: 100 })
              .onGet(this.whenReachable(() => this.thermostat[field] ?? 0));
          },
        });
    return parts;
  }

  private async start(): Promise<void> {
    const config = this.config!;
    const { Characteristic } = this.api.hap;
    const wanted = new Set<string>();
    const fresh: PlatformAccessory[] = [];
    for (const part of this.parts(config)) {
      const uuid = this.api.hap.uuid.generate(`hepek:${config.serial}:${part.key}`);
      wanted.add(uuid);
      let accessory = this.cached.get(uuid);
      if (!accessory) {
        accessory = new this.api.platformAccessory(part.name, uuid, part.category);
        fresh.push(accessory);
      }
      accessory
        .getService(this.api.hap.Service.AccessoryInformation)!
        .setCharacteristic(Characteristic.Manufacturer, 'HEPEK')
        .setCharacteristic(Characteristic.Model, `HEPEK ${part.name.toLowerCase()}`)
        .setCharacteristic(Characteristic.SerialNumber, `${config.serial}-${part.key}`);
      const service =
        accessory.getService(part.service.UUID) ?? accessory.addService(new part.service(part.name));
      part.setup(service);
      this.services.set(part.key, service);
    }
    if (fresh.length > 0) this.api.registerPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, fresh);
    const stale = [...this.cached.values()].filter((a) => !wanted.has(a.UUID));
    if (stale.length > 0) this.api.unregisterPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, stale);

    const mqtt = await import('mqtt');
    const t = topicsFor(config.serial);
    const client = mqtt.connect(config.brokerUrl, {
      clientId: `homebridge-hepek-${config.serial}-${Math.random().toString(16).slice(2, 8)}`,
      reconnectPeriod: 5000,
      connectTimeout: 10_000,
      ...(config.username !== undefined ? { username: config.username } : {}),
      ...(config.password !== undefined ? { password: config.password } : {}),
    });
    this.client = client;
    client.on('connect', () => {
      this.lastError = '';
      this.log.info(`connected to ${config.brokerUrl} for gateway ${config.serial}`);
      client.subscribe([t.status, t.relay, t.thermostat, t.battery, t.demandAllow], { qos: 1 }, (err) => {
        if (err) this.log.warn(`subscribe: ${err.message}`);
      });
    });
    client.on('error', (err) => {
      // Log each distinct error once, not on every reconnect attempt.
      if (err.message !== this.lastError) this.log.warn(`mqtt: ${err.message}`);
      this.lastError = err.message;
    });
    client.on('message', (topic, payload) =>
      this.guard('message', () => this.onMessage(t, topic, payload.toString())),
    );
  }

  private update(key: string, characteristic: CharacteristicType, value: CharacteristicValue): void {
    this.services.get(key)?.updateCharacteristic(characteristic, value);
  }

  private onMessage(t: ReturnType<typeof topicsFor>, topic: string, text: string): void {
    const C = this.api.hap.Characteristic;
    if (topic === t.status) {
      this.online = text === 'online';
      return;
    }
    if (topic === t.relay) {
      const on = parseRelay(text);
      if (on === null) return this.log.debug(`ignored relay payload ${text}`);
      this.relayOn = on;
      this.update('relay', C.On, on);
      this.update('relay', C.OutletInUse, on);
    } else if (topic === t.demandAllow) {
      const allow = parseOnOff(text);
      if (allow === null) return this.log.debug(`ignored demand-allow payload ${text}`);
      this.allowDemand = allow;
      this.update('demand', C.On, allow);
    } else if (topic === t.thermostat) {
      const state = parseThermostat(text);
      if (!state) return this.log.debug(`ignored thermostat payload ${text}`);
      this.thermostat = state;
      if (state.indoorC !== null) {
        this.update('thermostat', C.CurrentTemperature, state.indoorC);
        this.update('indoor', C.CurrentTemperature, state.indoorC);
      }
      if (state.outdoorC !== null) this.update('outdoor', C.CurrentTemperature, state.outdoorC);
      if (state.setpointC !== null)
        this.update(
          'thermostat',
          C.TargetTemperature,
          clampSetpoint(state.setpointC, SETPOINT_MIN_C, SETPOINT_MAX_C),
        );
      this.update('thermostat', C.TargetHeatingCoolingState, modeToTarget(state.mode));
      this.update('thermostat', C.CurrentHeatingCoolingState, currentState(state));
    } else if (topic === t.battery) {
      const state = parseBattery(text);
      if (!state) return this.log.debug(`ignored battery payload ${text}`);
      this.battery = state;
      this.update('battery', C.BatteryLevel, batteryLevel(state));
      this.update('battery', C.ChargingState, chargingState(state));
      this.update('battery', C.StatusLowBattery, lowBattery(state));
    }
  }
}
