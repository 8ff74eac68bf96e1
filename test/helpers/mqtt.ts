/** Subscribing test clients: wait, with a deadline, for what a gateway publishes. */
import mqtt, { type IClientOptions } from 'mqtt';

/**
 * Collects the messages on `topic` (retained ones included) until one satisfies `accept`, and
 * returns all of them; rejects after `timeoutMs` showing the last few it saw.
 */
export async function waitForMessages(
  url: string,
  topic: string,
  accept: (text: string) => boolean,
  timeoutMs: number,
  options: IClientOptions = {},
): Promise<string[]> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options });
  const seen: string[] = [];
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no accepted message on ${topic} within ${timeoutMs} ms; saw ${JSON.stringify(seen.slice(-3))}`,
            ),
          ),
        timeoutMs,
      );
      client.on('message', (_t, payload) => {
        seen.push(payload.toString());
        if (accept(seen.at(-1)!)) {
          clearTimeout(timer);
          resolve(seen);
        }
      });
      client.subscribeAsync(topic).catch(reject);
    });
  } finally {
    await client.endAsync();
  }
}

/** The same for JSON payloads: returns the parsed messages, the accepted one last. */
export async function waitForJson<T>(
  url: string,
  topic: string,
  accept: (message: T) => boolean,
  timeoutMs: number,
  options: IClientOptions = {},
): Promise<T[]> {
  const texts = await waitForMessages(
    url,
    topic,
    (text) => accept(JSON.parse(text) as T),
    timeoutMs,
    options,
  );
  return texts.map((text) => JSON.parse(text) as T);
}
