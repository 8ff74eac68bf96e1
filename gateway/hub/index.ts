/**
 * The operator's hub as a service: `startHub(options)` opens the books, connects to the broker
 * (as `hub@hepek` when a broker secret is given), publishes the configured tariffs retained and
 * starts the periodic tick. The returned `Hub` is the running hub; `hub.stop()` ends the tick, lets
 * requests in flight finish, disconnects and closes the books.
 *
 * The in-process hub of the embedded default (gateway/runtime.ts) and the standalone `hepek hub`
 * (cli-command.ts) both start here; see README.md in this folder.
 */
import type { IClientOptions } from 'mqtt';
import { brokerCredentialsFor } from '../broker/auth';
import { ConfigError } from '../errors';
import { Hub, type HubOptions } from './hub';
import type { Tariff } from '../chain/typed-data';
import { parseTariff } from './protocol';

export { Hub, ChainUnavailable, noDelay, type HubOptions, type HubContracts } from './hub';
export { HubStore } from './store';
export { VoucherVerifier, judgeVoucher, type ChannelBook, type Refusal } from './verify';
export * from './protocol';
export type { Tariff };

/** The tunables of a hub, as settings or CLI flags give them. */
export interface HubSettings {
  /** Region of the DEMAND events and tariffs this hub broadcasts. */
  region: string;
  /** Close a channel when its newest voucher reaches this share of the deposit, percent (0 = never). */
  closeSpentPercent: number;
  /** Close every channel holding a voucher this often, seconds (0 = never). */
  closeIntervalSeconds: number;
  /** Readings per MeterReadings.submitReadings transaction. */
  readingBatchSize: number;
  /** How long a registry answer (device key, active) is reused, seconds. */
  deviceCacheSeconds: number;
  /** Period of the tick (chain events, exits, closes, reading batches, queued relays), ms. */
  tickMs: number;
}

export const HUB_DEFAULTS: HubSettings = {
  region: 'default',
  closeSpentPercent: 90,
  closeIntervalSeconds: 86_400,
  readingBatchSize: 50,
  deviceCacheSeconds: 300,
  tickMs: 5000,
};

const LIMITS: Record<Exclude<keyof HubSettings, 'region'>, [number, number, string]> = {
  closeSpentPercent: [0, 100, 'percent of the deposit, an integer from 0 (never) to 100'],
  closeIntervalSeconds: [0, 365 * 86_400, 'seconds, an integer from 0 (never) to 31536000'],
  readingBatchSize: [1, 500, 'readings per transaction, an integer from 1 to 500'],
  deviceCacheSeconds: [0, 86_400, 'seconds, an integer from 0 to 86400'],
  tickMs: [50, 3_600_000, 'milliseconds, an integer from 50 to 3600000'],
};

/** Defaults + `raw`, each field checked; errors name `${fieldPrefix}${field}`. */
export function parseHubSettings(raw: Partial<HubSettings>, fieldPrefix = 'hub.'): HubSettings {
  const out: HubSettings = { ...HUB_DEFAULTS };
  for (const [key, value] of Object.entries(raw) as Array<[keyof HubSettings, unknown]>) {
    if (value === undefined) continue;
    if (key === 'region') {
      if (typeof value !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(value) || /[/+#]/.test(value))
        throw new ConfigError(
          `${fieldPrefix}region`,
          value,
          'a region name of 1 to 128 printable characters without / + # (an MQTT topic level)',
        );
      out.region = value;
      continue;
    }
    const limits = LIMITS[key];
    if (!limits)
      throw new ConfigError(
        `${fieldPrefix}${String(key)}`,
        value,
        `one of ${Object.keys(HUB_DEFAULTS).join(', ')}`,
      );
    const [min, max, allowed] = limits;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
      throw new ConfigError(`${fieldPrefix}${key}`, value, allowed);
    out[key] = value;
  }
  return out;
}

export interface StartHubOptions
  extends Omit<HubOptions, keyof Omit<HubSettings, 'tickMs'>>, Partial<HubSettings> {
  broker: {
    /** mqtt://, mqtts://, ws:// or wss:// URL of the broker the devices use. */
    url: string;
    /**
     * The operator's broker secret (gateway/broker/secret.ts): the hub logs in as `hub@hepek`
     * with the password derived from it. null/absent: no login, or whatever `client` carries.
     */
    secret?: string | null;
    /** Anything else mqtt.js takes (client id, TLS, keepalive); overrides the defaults. */
    client?: IClientOptions;
  };
  /** Tariffs signed and published retained at start (on their own region's topic). */
  tariffs?: Tariff[];
}

/**
 * Opens, connects and starts a hub. Fails (and leaves nothing running) when the books cannot be
 * opened or the broker refuses the hub; a chain that does not answer only delays channel reloads.
 */
export async function startHub(options: StartHubOptions): Promise<Hub> {
  const { broker, tariffs = [], tickMs, ...rest } = options;
  const settings = parseHubSettings(
    {
      region: rest.region,
      closeSpentPercent: rest.closeSpentPercent,
      closeIntervalSeconds: rest.closeIntervalSeconds,
      readingBatchSize: rest.readingBatchSize,
      deviceCacheSeconds: rest.deviceCacheSeconds,
      tickMs,
    },
    '',
  );
  if (typeof broker.url !== 'string' || !/^(mqtts?|wss?):\/\/\S+$/.test(broker.url))
    throw new ConfigError('broker.url', broker.url, 'an mqtt://, mqtts://, ws:// or wss:// URL');
  const clean = tariffs.map((t, i) => parseTariff(t, `tariffs[${i}]`));
  const hub = await Hub.open({ ...rest, ...settings });
  try {
    const login = broker.secret ? brokerCredentialsFor(broker.secret, { service: 'hub' }) : {};
    await hub.connect(broker.url, { ...login, ...broker.client });
    for (const tariff of clean) await hub.publishTariff(tariff);
    await hub.tick();
    hub.start(settings.tickMs);
  } catch (err) {
    await hub.stop().catch(() => undefined);
    throw err;
  }
  return hub;
}
