/**
 * Home Assistant over MQTT, on the gateway's own client (its last will `offline` on
 * `hepek/<serial>/status` is the entities' availability): publishes the device-based discovery
 * message (retained) on every connect and again whenever HA announces `online` on
 * `<prefix>/status`, publishes the spendable ERGON balance, and carries HA's commands to the
 * devices — the relay through the RelayDevice, the demand-response switch to whoever listens.
 * With a thermostat adapter it publishes its state and applies HA's setpoint/mode commands; battery
 * SoC and temperatures that come with the meter readings are republished for HA (README.md).
 */
import type { MqttClient } from 'mqtt';
import type { BalanceSource, MeterReading, MeterSource, RelayDevice } from '../../context';
import { InputError } from '../../errors';
import { hepekTopics } from '../topics';
import {
  buildDiscovery,
  SETPOINT_MAX_C,
  SETPOINT_MIN_C,
  THERMOSTAT_MODES,
  type DiscoveryMessage,
  type HaThermostatMode,
} from './discovery';

/** What the integration needs of a thermostat adapter (gateway/devices' ThermostatDevice fits). */
export interface ThermostatControl {
  state(): { on: boolean; mode: string; setpointC: number; indoorC: number | null };
  set(
    command: { on?: boolean; mode?: 'heat' | 'cool' | 'auto' | 'fan'; setpointC?: number },
    reason: string,
  ): Promise<unknown>;
  subscribe(
    listener: (state: { on: boolean; mode: string; setpointC: number; indoorC: number | null }) => void,
  ): () => void;
}

export interface HomeAssistantOptions {
  client: MqttClient;
  serial: string;
  version: string;
  /** HA's discovery prefix, `homeassistant` unless HA was reconfigured. */
  prefix: string;
  relay: RelayDevice;
  /** Read every `balanceIntervalMs` and published on `hepek/<serial>/balance`; omit to publish nothing. */
  balance?: BalanceSource;
  balanceIntervalMs: number;
  /**
   * When given, its state is published on `hepek/<serial>/thermostat` and HA's setpoint and mode
   * commands are applied to it; without one, those topics are left to whoever owns the thermostat.
   */
  thermostat?: ThermostatControl;
  /**
   * The meter: readings that carry battery or temperature fields (the simulated home's
   * `batterySocPercent`, `batteryW`, `indoorC`, `outdoorC`) feed the `battery` topic and, without a
   * thermostat adapter, the temperatures on the `thermostat` topic.
   */
  meter?: MeterSource;
  /** Outdoor temperature for the thermostat topic, °C; null when unknown. */
  outdoorC?: () => number | null;
  /** Whether the household takes part in demand response, until someone switches it. */
  allowDemand?: boolean;
  onAllowDemandChange?: (allow: boolean) => void;
  configurationUrl?: string | null;
  log: { warn(line: string): void; info(line: string): void; debug(line: string): void };
}

export interface HomeAssistantIntegration {
  readonly discovery: DiscoveryMessage;
  allowDemand(): boolean;
  /** Publishes the discovery message now (also done on connect and on HA's birth message). */
  publishDiscovery(): Promise<void>;
  /** Reads and publishes the balance now. */
  publishBalance(): Promise<void>;
  stop(): void;
}

/** Parses HA's `ON` / `OFF` command payloads. */
export function parseOnOff(topic: string, payload: string): boolean {
  if (payload === 'ON') return true;
  if (payload === 'OFF') return false;
  throw new InputError(topic, payload, '"ON" or "OFF"');
}

/** HA's setpoint command: °C within the limits the climate entity offers. */
export function parseSetpoint(topic: string, payload: string): number {
  const value = Number(payload);
  if (payload.trim() === '' || !Number.isFinite(value) || value < SETPOINT_MIN_C || value > SETPOINT_MAX_C)
    throw new InputError(topic, payload, `a temperature from ${SETPOINT_MIN_C} to ${SETPOINT_MAX_C} °C`);
  return value;
}

export function parseMode(topic: string, payload: string): HaThermostatMode {
  if (!THERMOSTAT_MODES.includes(payload as HaThermostatMode))
    throw new InputError(topic, payload, `one of ${THERMOSTAT_MODES.join(', ')}`);
  return payload as HaThermostatMode;
}

/** The adapter's state as HA's climate sees it (its `on: false` is HA's `off`, `fan` is `fan_only`). */
export function haMode(state: { on: boolean; mode: string }): string {
  if (!state.on) return 'off';
  return state.mode === 'fan' ? 'fan_only' : state.mode;
}

export function startHomeAssistant(options: HomeAssistantOptions): HomeAssistantIntegration {
  const { client, log } = options;
  const topics = hepekTopics(options.serial);
  const birthTopic = `${options.prefix}/status`;
  const discovery = buildDiscovery({
    serial: options.serial,
    version: options.version,
    prefix: options.prefix,
    configurationUrl: options.configurationUrl ?? null,
  });
  const discoveryText = JSON.stringify(discovery.payload);
  let allowDemand = options.allowDemand ?? true;
  let stopped = false;

  const publish = (topic: string, payload: string, retain: boolean) =>
    new Promise<void>((resolve, reject) => {
      if (!client.connected) return resolve();
      client.publish(topic, payload, { qos: 1, retain }, (err) => (err ? reject(err) : resolve()));
    });
  const report = (what: string) => (err: unknown) =>
    log.warn(`home assistant: ${what}: ${(err as Error).message}`);

  const publishDiscovery = () => publish(discovery.topic, discoveryText, true);
  const publishAllow = () => publish(topics.demandAllow, allowDemand ? 'ON' : 'OFF', true);
  const publishBalance = async () => {
    if (!options.balance) return;
    const balance = await options.balance.read();
    await publish(topics.balance, JSON.stringify(balance), true);
  };

  const thermostat = options.thermostat;
  const publishThermostat = () => {
    if (!thermostat) return Promise.resolve();
    const s = thermostat.state();
    const payload = {
      indoorC: s.indoorC,
      outdoorC: options.outdoorC?.() ?? outdoorFromMeter,
      setpointC: s.setpointC,
      mode: haMode(s),
    };
    return publish(topics.thermostat, JSON.stringify(payload), true);
  };
  const unsubscribeThermostat = thermostat?.subscribe(() => {
    publishThermostat().catch(report('thermostat state'));
  });
  // Battery SoC and temperatures that arrive with the meter readings, republished when they change.
  let lastBattery = '';
  let lastTemperatures = '';
  let outdoorFromMeter: number | null = null;
  const num = (r: Record<string, unknown>, key: string) =>
    typeof r[key] === 'number' && Number.isFinite(r[key]) ? (r[key] as number) : null;
  const unsubscribeMeter = options.meter?.subscribe((reading: MeterReading) => {
    const r = reading as unknown as Record<string, unknown>;
    const socPct = num(r, 'batterySocPercent');
    if (socPct !== null) {
      const text = JSON.stringify({ socPct, powerW: num(r, 'batteryW') });
      // Remembered only once sent: a reading while disconnected must not suppress the next one.
      if (client.connected && text !== lastBattery) {
        lastBattery = text;
        publish(topics.battery, text, true).catch(report('battery state'));
      }
    }
    outdoorFromMeter = num(r, 'outdoorC');
    const indoorC = num(r, 'indoorC');
    if (!thermostat && (indoorC !== null || outdoorFromMeter !== null)) {
      const text = JSON.stringify({ indoorC, outdoorC: outdoorFromMeter, setpointC: null, mode: null });
      if (client.connected && text !== lastTemperatures) {
        lastTemperatures = text;
        publish(topics.thermostat, text, true).catch(report('temperatures'));
      }
    }
  });
  const commandTopics = [
    birthTopic,
    topics.relaySet,
    topics.demandAllowSet,
    ...(thermostat ? [topics.thermostatSetpointSet, topics.thermostatModeSet] : []),
  ];

  const onConnect = () => {
    // A broker restart may have lost retained states: send them again with the next reading.
    lastBattery = '';
    lastTemperatures = '';
    client.subscribe(commandTopics, { qos: 1 }, (err) => {
      if (err) report('subscribe')(err);
    });
    publishDiscovery().catch(report('discovery'));
    publishAllow().catch(report('demand switch state'));
    publishBalance().catch(report('balance'));
    publishThermostat().catch(report('thermostat state'));
  };

  const onMessage = (topic: string, payload: Buffer) => {
    const text = payload.toString();
    try {
      if (topic === birthTopic) {
        if (text !== 'online') return;
        // HA (re)started: it needs the config again, then fresh states (meter/relay are retained).
        log.debug('home assistant: birth message, publishing discovery again');
        publishDiscovery()
          .then(() => Promise.all([publishAllow(), publishBalance(), publishThermostat()]))
          .catch(report('discovery'));
      } else if (topic === topics.relaySet) {
        const on = parseOnOff(topic, text);
        options.relay.set(on, 'Home Assistant').catch(report('relay'));
      } else if (thermostat && topic === topics.thermostatSetpointSet) {
        thermostat
          .set({ setpointC: parseSetpoint(topic, text) }, 'Home Assistant')
          .catch(report('thermostat'));
      } else if (thermostat && topic === topics.thermostatModeSet) {
        const mode = parseMode(topic, text);
        const command =
          mode === 'off' ? { on: false } : { on: true, mode: mode === 'fan_only' ? ('fan' as const) : mode };
        thermostat.set(command, 'Home Assistant').catch(report('thermostat'));
      } else if (topic === topics.demandAllowSet) {
        allowDemand = parseOnOff(topic, text);
        options.onAllowDemandChange?.(allowDemand);
        publishAllow().catch(report('demand switch state'));
      }
    } catch (err) {
      report('command refused')(err);
    }
  };

  client.on('connect', onConnect);
  client.on('message', onMessage);
  if (client.connected) onConnect();
  const timer = options.balance
    ? setInterval(() => {
        if (!stopped)
          publishBalance().catch((err) => log.debug(`home assistant: balance: ${(err as Error).message}`));
      }, options.balanceIntervalMs)
    : null;
  timer?.unref();

  return {
    discovery,
    allowDemand: () => allowDemand,
    publishDiscovery,
    publishBalance,
    stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      unsubscribeThermostat?.();
      unsubscribeMeter?.();
      client.off('connect', onConnect);
      client.off('message', onMessage);
      if (client.connected) client.unsubscribe(commandTopics);
    },
  };
}
