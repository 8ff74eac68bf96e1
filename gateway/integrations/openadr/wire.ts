/**
 * The VEN in the running gateway: DEMAND events the household follows go on the DemandBoard, which
 * publishes `{active, event}` retained on `hepek/<serial>/demand` for rules, flows, devices, Home
 * Assistant and Homebridge; whether it follows them is the "allow demand response" switch.
 */
import type { MqttClient } from 'mqtt';
import type { Settings } from '../../../settings';
import type { Logger } from '../../log';
import { hepekTopics } from '../topics';
import { DemandBoard } from './board';
import { OpenAdrVen } from './ven';

/** Starts polling; returns the stop function. */
export function startOpenAdr(
  settings: Settings,
  serial: string,
  client: MqttClient,
  allowDemand: () => boolean,
  log: Logger,
): () => Promise<void> {
  const o = settings.integrations.openadr;
  const topic = hepekTopics(serial).demand;
  const board = new DemandBoard((state) => {
    if (client.connected) client.publish(topic, JSON.stringify(state), { qos: 1, retain: true });
  });
  const token = process.env[o.tokenEnv] ?? null;
  if (!token) log.warn(`openadr: ${o.tokenEnv} is not set; polling ${o.vtnUrl} without a bearer token`);
  const ven = new OpenAdrVen({
    baseUrl: o.vtnUrl!,
    token,
    venName: o.venName ?? serial,
    region: o.region,
    pollIntervalMs: o.pollIntervalMs,
    async onDemand(event) {
      const follow = allowDemand();
      if (follow) board.set(event);
      else board.remove([event.id]);
      log.info(`openadr: DEMAND ${event.id} level ${event.level} → ${follow ? 'opt in' : 'opt out'}`);
      return follow;
    },
    onCancel: (ids) => board.remove(ids),
    log,
  });
  ven.start();
  return async () => {
    await ven.stop();
    board.stop();
  };
}
