/**
 * A Shelly Gen2/Gen3 switch over MQTT (https://shelly-api-docs.shelly.cloud/gen2/General/RPCChannels#mqtt):
 * JSON-RPC requests go to `<prefix>/rpc` (`{"id", "src", "method": "Switch.Set", "params": {"id", "on"}}`)
 * and the answer to `<src>/rpc`; with "generic status update" on, the device publishes
 * `<prefix>/status/switch:<id>` (`{"output": true, "temperature": {"tC": 41.2}, …}`) and
 * `NotifyStatus` events on `<prefix>/events/rpc`; `<prefix>/online` is its retained last will
 * (`true` / `false`).
 */
import { randomBytes } from 'node:crypto';
import { DeviceUnavailableError } from '../../errors';
import type { SwitchDriver, TemperatureSensor } from '../api';
import { systemClock, type Clock } from '../clock';
import { ConfigReader } from '../config';
import { attachTopics, type MqttLink } from './link';
import { ReportedSwitch } from './reported-switch';
import { safeJson } from './tasmota';

export interface ShellyConfig {
  /** The device's MQTT topic prefix (default on the device: its id, e.g. `shellyplus1-a8032ab12345`). */
  prefix: string;
  /** Switch component id, 0 to 3. */
  switchId: number;
  /** Our RPC source id; answers arrive on `<src>/rpc`. */
  src: string;
  commandTimeoutMs: number;
}

const PREFIX = {
  test: /^[^+#\s/](?:[^+#\s]*[^+#\s/])?$/,
  allowed: 'an MQTT topic prefix without +, #, spaces or a leading/trailing /',
};

export function shellyConfig(raw: unknown, prefix = 'options'): ShellyConfig {
  const r = new ConfigReader(raw, prefix);
  const config = readShellyConfig(r);
  r.done();
  return config;
}

/** Reads the Shelly fields of an options object that may hold more. */
export function readShellyConfig(r: ConfigReader): ShellyConfig {
  return {
    prefix: r.requiredString('prefix', PREFIX),
    switchId: r.number('switchId', 0, { min: 0, max: 3, integer: true, allowed: 'a switch id from 0 to 3' }),
    src: r.string('src', `hepek-${randomBytes(4).toString('hex')}`, PREFIX),
    commandTimeoutMs: r.number('commandTimeoutMs', 5000, {
      min: 100,
      max: 60000,
      integer: true,
      allowed: 'an integer from 100 to 60000 ms',
    }),
  };
}

interface RpcAnswer {
  id?: unknown;
  result?: Record<string, unknown>;
  error?: { code?: unknown; message?: unknown };
}

export class ShellySwitch extends ReportedSwitch implements SwitchDriver, TemperatureSensor {
  readonly kind = 'shelly';
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (result: Record<string, unknown>) => void; reject: (err: Error) => void; timer: unknown }
  >();
  private readonly detach: () => void;
  private readonly component: string;
  private closed = false;

  constructor(
    private readonly link: MqttLink,
    readonly config: ShellyConfig,
    private readonly clock: Clock = systemClock,
    onListenerError?: (err: unknown) => void,
  ) {
    super(onListenerError);
    this.component = `switch:${config.switchId}`;
    const p = config.prefix;
    this.detach = attachTopics(
      link,
      [`${p}/online`, `${p}/status/${this.component}`, `${p}/events/rpc`, `${config.src}/rpc`],
      (topic, text) => this.onMessage(topic, text),
      () => {
        this.call('Switch.GetStatus', { id: config.switchId }).then(
          (result) => this.onStatus(result),
          () => undefined, // an offline device answers nothing; its `online` topic says so
        );
      },
    );
  }

  private get name(): string {
    return `shelly ${this.config.prefix}`;
  }

  private onMessage(topic: string, text: string): void {
    const p = this.config.prefix;
    if (topic === `${p}/online`) {
      this.availability.set(text.trim() === 'true');
      return;
    }
    const json = safeJson(text);
    if (json === null || typeof json !== 'object') return;
    if (topic === `${this.config.src}/rpc`) return this.onAnswer(json as RpcAnswer);
    if (topic === `${p}/status/${this.component}`) return this.onStatus(json as Record<string, unknown>);
    const event = json as { method?: unknown; params?: Record<string, unknown> };
    if (event.method === 'NotifyStatus' && event.params?.[this.component]) {
      this.onStatus(event.params[this.component] as Record<string, unknown>);
    }
  }

  private onStatus(status: Record<string, unknown>): void {
    const tC = (status.temperature as { tC?: unknown } | undefined)?.tC;
    if (typeof tC === 'number' && Number.isFinite(tC) && tC !== this.temperature) {
      this.temperature = tC;
      this.temperatures.emit(tC);
    }
    if (typeof status.output !== 'boolean') return;
    this.availability.set(true);
    this.state = status.output;
    this.reports.emit(status.output);
  }

  private onAnswer(answer: RpcAnswer): void {
    const id = typeof answer.id === 'number' ? answer.id : NaN;
    const waiting = this.pending.get(id);
    if (!waiting) return;
    this.pending.delete(id);
    this.clock.cancel(waiting.timer);
    if (answer.error) {
      waiting.reject(
        new DeviceUnavailableError(
          this.name,
          `refused the request: error ${String(answer.error.code)} ${String(answer.error.message ?? '')}`.trim(),
        ),
      );
    } else {
      this.availability.set(true);
      waiting.resolve(answer.result ?? {});
    }
  }

  /** One JSON-RPC call; resolves with its `result`. */
  call(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new DeviceUnavailableError(this.name, 'adapter is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = this.clock.schedule(() => {
        this.pending.delete(id);
        reject(
          new DeviceUnavailableError(
            this.name,
            `did not answer ${method} on ${this.config.src}/rpc within ${this.config.commandTimeoutMs} ms`,
          ),
        );
      }, this.config.commandTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.link.publish(
        `${this.config.prefix}/rpc`,
        JSON.stringify({ id, src: this.config.src, method, params }),
        { qos: 1 },
      );
    });
  }

  async switchTo(on: boolean): Promise<void> {
    if (!this.link.connected) throw new DeviceUnavailableError(this.name, 'the MQTT broker is not connected');
    await this.call('Switch.Set', { id: this.config.switchId, on });
    // The answer confirms the switch; the status topic may follow or may be off on the device.
    if (this.state !== on) {
      this.state = on;
      this.reports.emit(on);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    for (const [id, waiting] of this.pending) {
      this.clock.cancel(waiting.timer);
      waiting.reject(new DeviceUnavailableError(this.name, 'adapter closed while a request waited'));
      this.pending.delete(id);
    }
  }
}
