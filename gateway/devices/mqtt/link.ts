/**
 * The part of an MQTT client the device adapters use. The gateway's own mqtt.js client fits (the
 * devices talk through the gateway's broker, embedded or `broker.url`); so does a test's client.
 * Each adapter subscribes to its topics only and removes its listener on close, so many adapters
 * share one client.
 */
import { DeviceUnavailableError } from '../../errors';
import type { Clock } from '../clock';

export interface MqttLink {
  readonly connected: boolean;
  publish(topic: string, message: string, opts?: { qos?: 0 | 1 | 2; retain?: boolean }): unknown;
  subscribe(topic: string | string[], opts?: { qos?: 0 | 1 | 2 }): unknown;
  unsubscribe(topic: string | string[]): unknown;
  on(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
  on(event: 'connect', listener: () => void): unknown;
  removeListener(event: 'message', listener: (topic: string, payload: Buffer) => void): unknown;
  removeListener(event: 'connect', listener: () => void): unknown;
}

/** Subscribes `topics` and routes matching messages to `handler`; returns the undo. */
export function attachTopics(
  link: MqttLink,
  topics: string[],
  handler: (topic: string, text: string) => void,
  onConnect?: () => void,
): () => void {
  const wanted = new Set(topics);
  const onMessage = (topic: string, payload: Buffer): void => {
    if (wanted.has(topic)) handler(topic, payload.toString('utf8'));
  };
  const connect = (): void => {
    onConnect?.();
  };
  link.on('message', onMessage);
  link.on('connect', connect);
  link.subscribe(topics, { qos: 1 });
  if (link.connected) onConnect?.();
  return () => {
    link.removeListener('message', onMessage);
    link.removeListener('connect', connect);
    link.unsubscribe(topics);
  };
}

/**
 * Waits until `check()` holds — re-checked whenever `poke` is called — or rejects after
 * `timeoutMs` on `clock` with a DeviceUnavailableError built from `device` and `what`.
 */
export class Waiters {
  private readonly waiting = new Set<{
    check: () => boolean;
    timer: unknown;
    resolve: () => void;
    reject: (err: Error) => void;
  }>();

  constructor(private readonly clock: Clock) {}

  wait(check: () => boolean, timeoutMs: number, device: string, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const entry = {
        check,
        resolve,
        reject,
        timer: this.clock.schedule(() => {
          this.waiting.delete(entry);
          reject(new DeviceUnavailableError(device, `${what} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiting.add(entry);
    });
  }

  poke(): void {
    for (const entry of [...this.waiting]) {
      if (entry.check()) {
        this.waiting.delete(entry);
        this.clock.cancel(entry.timer);
        entry.resolve();
      }
    }
  }

  /** Rejects everything still waiting (on close). */
  failAll(err: Error): void {
    for (const entry of [...this.waiting]) {
      this.waiting.delete(entry);
      this.clock.cancel(entry.timer);
      entry.reject(err);
    }
  }
}
