/**
 * A Tasmota output over MQTT (https://tasmota.github.io/docs/MQTT/): commands go to
 * `cmnd/<topic>/POWER<n>` (`ON`/`OFF`, empty = query), the device answers on
 * `stat/<topic>/POWER<n>` and `stat/<topic>/RESULT` (`{"POWER":"ON"}`), reports every TelePeriod
 * on `tele/<topic>/STATE`, its sensors on `tele/<topic>/SENSOR` and its liveness (retained last
 * will) on `tele/<topic>/LWT` (`Online` / `Offline`). Channel 1 of a single-relay device is
 * `POWER`; channel n of a multi-relay device is `POWERn`.
 */
import { DeviceUnavailableError } from '../../errors';
import type { SwitchDriver, TemperatureSensor } from '../api';
import { systemClock, type Clock } from '../clock';
import { ConfigReader } from '../config';
import { ReportedSwitch } from './reported-switch';
import { attachTopics, Waiters, type MqttLink } from './link';

export interface TasmotaConfig {
  /** The device's Tasmota `Topic` (no `/`, `+` or `#`). */
  topic: string;
  /** Relay channel, 1 to 8. */
  channel: number;
  /** Tasmota's `FullTopic` pattern; `%prefix%` is cmnd/stat/tele, `%topic%` the topic. */
  fullTopic: string;
  /** How long a command may wait for the device's echo, ms. */
  commandTimeoutMs: number;
}

export const MQTT_TOPIC_LEVEL = {
  test: /^[^/+#\s]+$/,
  allowed: 'an MQTT topic level without /, +, # or spaces',
};

export function tasmotaConfig(raw: unknown, prefix = 'options'): TasmotaConfig {
  const r = new ConfigReader(raw, prefix);
  const config = readTasmotaConfig(r);
  r.done();
  return config;
}

/** Reads the Tasmota fields of an options object that may hold more (a thermostat's limits). */
export function readTasmotaConfig(r: ConfigReader): TasmotaConfig {
  return {
    topic: r.requiredString('topic', MQTT_TOPIC_LEVEL),
    channel: r.number('channel', 1, {
      min: 1,
      max: 8,
      integer: true,
      allowed: 'a relay channel from 1 to 8',
    }),
    fullTopic: r.string('fullTopic', '%prefix%/%topic%/', {
      test: /%prefix%.*%topic%|%topic%.*%prefix%/,
      allowed: 'a Tasmota FullTopic containing %prefix% and %topic%, e.g. "%prefix%/%topic%/"',
    }),
    commandTimeoutMs: r.number('commandTimeoutMs', 5000, {
      min: 100,
      max: 60000,
      integer: true,
      allowed: 'an integer from 100 to 60000 ms',
    }),
  };
}

const ON_WORDS = new Set(['ON', '1', 'TRUE']);
const OFF_WORDS = new Set(['OFF', '0', 'FALSE']);

function parsePower(text: string): boolean | null {
  const word = text.trim().toUpperCase();
  if (ON_WORDS.has(word)) return true;
  if (OFF_WORDS.has(word)) return false;
  return null;
}

/** The first `Temperature` in a Tasmota SENSOR payload (`{"DS18B20":{"Temperature":21.4}}`), °C. */
export function tasmotaTemperatureC(payload: unknown): number | null {
  if (payload === null || typeof payload !== 'object') return null;
  const record = payload as Record<string, unknown>;
  const fahrenheit = record.TempUnit === 'F';
  for (const value of Object.values(record)) {
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      const t = (value as Record<string, unknown>).Temperature;
      if (typeof t === 'number' && Number.isFinite(t)) return fahrenheit ? ((t - 32) * 5) / 9 : t;
    }
  }
  return null;
}

export class TasmotaSwitch extends ReportedSwitch implements SwitchDriver, TemperatureSensor {
  readonly kind = 'tasmota';
  /** Counts reports, so a command waits for a report that came after it. */
  private reportSeq = 0;
  private lwt: 'Online' | 'Offline' | null = null;
  private readonly waiters: Waiters;
  private readonly detach: () => void;
  private readonly power: string;
  private closed = false;

  constructor(
    private readonly link: MqttLink,
    readonly config: TasmotaConfig,
    private readonly clock: Clock = systemClock,
    onListenerError?: (err: unknown) => void,
  ) {
    super(onListenerError);
    this.waiters = new Waiters(clock);
    this.power = config.channel === 1 ? 'POWER' : `POWER${config.channel}`;
    const stat = this.topic('stat');
    const tele = this.topic('tele');
    this.detach = attachTopics(
      link,
      [
        ...new Set([`${stat}${this.power}`, `${stat}POWER${config.channel}`]),
        `${stat}RESULT`,
        `${tele}STATE`,
        `${tele}SENSOR`,
        `${tele}LWT`,
      ],
      (topic, text) => this.onMessage(topic.slice(topic.lastIndexOf('/') + 1), text),
      // An empty POWER command asks the device for its state: known at start, and after a reconnect.
      () => void link.publish(`${this.topic('cmnd')}${this.power}`, ''),
    );
  }

  /** `cmnd/<topic>/` etc. under the configured FullTopic. */
  topic(prefix: 'cmnd' | 'stat' | 'tele'): string {
    const full = this.config.fullTopic.replace('%prefix%', prefix).replace('%topic%', this.config.topic);
    return full.endsWith('/') ? full : `${full}/`;
  }

  private get name(): string {
    return `tasmota ${this.config.topic}`;
  }

  private onMessage(last: string, text: string): void {
    if (last === 'LWT') {
      this.lwt = text.trim() === 'Online' ? 'Online' : text.trim() === 'Offline' ? 'Offline' : this.lwt;
      this.availability.set(this.lwt === 'Online');
      return;
    }
    if (last === 'SENSOR') {
      const t = tasmotaTemperatureC(safeJson(text));
      if (t !== null) {
        this.temperature = t;
        this.temperatures.emit(t);
      }
      return;
    }
    let on: boolean | null = null;
    if (last === 'RESULT' || last === 'STATE') {
      const json = safeJson(text) as Record<string, unknown> | null;
      const value = json?.[this.power] ?? json?.[`POWER${this.config.channel}`];
      if (typeof value === 'string') on = parsePower(value);
    } else {
      on = parsePower(text);
    }
    if (on === null) return;
    // Anything the device says means it is there, even before its LWT arrives.
    if (this.lwt !== 'Offline') this.availability.set(true);
    this.state = on;
    this.reportSeq++;
    this.reports.emit(on);
    this.waiters.poke();
  }

  async switchTo(on: boolean): Promise<void> {
    if (this.closed) throw new DeviceUnavailableError(this.name, 'adapter is closed');
    if (this.lwt === 'Offline')
      throw new DeviceUnavailableError(this.name, `is offline (${this.topic('tele')}LWT says Offline)`);
    if (!this.link.connected) throw new DeviceUnavailableError(this.name, 'the MQTT broker is not connected');
    // Expect a fresh echo: a retained or earlier report of the same state does not confirm this command.
    const seq = this.reportSeq;
    this.link.publish(`${this.topic('cmnd')}${this.power}`, on ? 'ON' : 'OFF', { qos: 1 });
    await this.waiters.wait(
      () => this.reportSeq > seq && this.state === on,
      this.config.commandTimeoutMs,
      this.name,
      `did not confirm ${this.power} ${on ? 'ON' : 'OFF'} on ${this.topic('stat')}${this.power}`,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    this.waiters.failAll(new DeviceUnavailableError(this.name, 'adapter closed while a command waited'));
  }
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
