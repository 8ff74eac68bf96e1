/**
 * Home Assistant over MQTT, on the gateway's own client (its last will `offline` on
 * `hepek/<serial>/status` is the entities' availability): publishes the device-based discovery
 * message (retained) on every connect and again whenever HA announces `online` on
 * `<prefix>/status`, publishes the spendable ERGON balance, and carries HA's commands to the
 * devices — the relay through the RelayDevice, the demand-response switch to whoever listens.
 * Thermostat commands go straight from HA to the documented `…/thermostat/…/set` topics that the
 * thermostat adapter consumes (README.md).
 */
import type { MqttClient } from 'mqtt';
import type { BalanceSource, RelayDevice } from '../../context';
import { InputError } from '../../errors';
import { hepekTopics } from '../topics';
import { buildDiscovery, type DiscoveryMessage } from './discovery';

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

  const onConnect = () => {
    client.subscribe([birthTopic, topics.relaySet, topics.demandAllowSet], { qos: 1 }, (err) => {
      if (err) report('subscribe')(err);
    });
    publishDiscovery().catch(report('discovery'));
    publishAllow().catch(report('demand switch state'));
    publishBalance().catch(report('balance'));
  };

  const onMessage = (topic: string, payload: Buffer) => {
    const text = payload.toString();
    try {
      if (topic === birthTopic) {
        if (text !== 'online') return;
        // HA (re)started: it needs the config again, then fresh states (meter/relay are retained).
        log.debug('home assistant: birth message, publishing discovery again');
        publishDiscovery()
          .then(() => Promise.all([publishAllow(), publishBalance()]))
          .catch(report('discovery'));
      } else if (topic === topics.relaySet) {
        const on = parseOnOff(topic, text);
        options.relay.set(on, 'Home Assistant').catch(report('relay'));
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
      client.off('connect', onConnect);
      client.off('message', onMessage);
      if (client.connected) client.unsubscribe([birthTopic, topics.relaySet, topics.demandAllowSet]);
    },
  };
}
