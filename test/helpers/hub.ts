/**
 * Hub fixtures: a hub on the channels fixture's chain (its payee wallet), an embedded broker, and
 * a device-side MQTT client that publishes requests and waits for the ack of each id.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { Hub, type HubOptions } from '../../gateway/hub/hub';
import { hubTopics, parseAck, type Ack, type RequestKind } from '../../gateway/hub/protocol';
import { DEV_CHAIN_ID } from './chain';
import type { Fixture } from './channels';

/** A log that keeps every line, so a test can assert what was logged and why. */
export function recordingLog(): HubOptions['log'] & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (l) => lines.push(l), warn: (l) => lines.push(l) };
}

/** Opens a hub over the fixture's deployment in a fresh temp folder (or `over.dir`). */
export async function startHub(f: Fixture, over: Partial<HubOptions> = {}): Promise<Hub> {
  return Hub.open(await hubOptions(f, over));
}

/** The options of a hub over the fixture's deployment (payee wallet, temp folder, quiet log). */
export async function hubOptions(f: Fixture, over: Partial<HubOptions> = {}): Promise<HubOptions> {
  return {
    provider: f.chain.provider,
    wallet: f.hub,
    chainId: DEV_CHAIN_ID,
    contracts: {
      PaymentChannels: f.deployment.channels,
      GatewayRegistry: await f.registry.getAddress(),
      MeterReadings: null,
    },
    dir: over.dir ?? mkdtempSync(path.join(os.tmpdir(), 'hepek-hub-')),
    region: 'nl',
    closeSpentPercent: 0,
    closeIntervalSeconds: 0,
    readingBatchSize: 50,
    deviceCacheSeconds: 60,
    log: { info: () => {}, warn: () => {} },
    ...over,
  };
}

/** A device side: publishes requests (QoS 1) and resolves each with the hub's ack of its id. */
export interface DeviceClient {
  client: MqttClient;
  /** Every ack received, in arrival order, with the serial it was addressed to. */
  acks: Array<{ serial: string; ack: Ack }>;
  /** Publishes `payload` on the request topic and waits (up to timeoutMs) for the ack of `id`. */
  request(
    serial: string,
    kind: RequestKind,
    payload: string | object,
    id: string,
    timeoutMs?: number,
  ): Promise<Ack>;
  /** Waits for the ack of `id` to `serial` without publishing (e.g. one settled later). */
  ackOf(serial: string, id: string, timeoutMs?: number): Promise<Ack>;
  close(): Promise<void>;
}

/**
 * `ackFilter`: what to subscribe for acks — every serial's by default (an admin or anonymous
 * login); a device login may only subscribe its own, `hubTopics.ack(serial)`.
 */
export async function deviceClient(
  url: string,
  options: IClientOptions = {},
  ackFilter = 'hepek/+/hub/ack',
): Promise<DeviceClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options });
  const acks: DeviceClient['acks'] = [];
  const waiters = new Map<string, Array<(ack: Ack) => void>>();
  client.on('message', (topic, payload) => {
    const m = /^hepek\/([^/]+)\/hub\/ack$/.exec(topic);
    if (!m) return;
    const ack = parseAck(JSON.parse(payload.toString()));
    acks.push({ serial: m[1]!, ack });
    const key = `${m[1]} ${ack.id}`;
    for (const resolve of waiters.get(key) ?? []) resolve(ack);
    waiters.delete(key);
  });
  await client.subscribeAsync(ackFilter, { qos: 1 });
  const ackOf = (serial: string, id: string, timeoutMs = 10_000) =>
    new Promise<Ack>((resolve, reject) => {
      const key = `${serial} ${id}`;
      const timer = setTimeout(
        () => reject(new Error(`no ack for ${key} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const list = waiters.get(key) ?? [];
      list.push((ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
      waiters.set(key, list);
    });
  return {
    client,
    acks,
    ackOf,
    async request(serial, kind, payload, id, timeoutMs) {
      const waiting = ackOf(serial, id, timeoutMs);
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      await client.publishAsync(hubTopics.request(serial, kind), text, { qos: 1 });
      return waiting;
    },
    close: () => client.endAsync(),
  };
}
