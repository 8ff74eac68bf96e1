/** Pure logic of `hepek-meter-read`: its sources, the messages it sends and the status it shows. */
import type { MeterReading } from '../../gateway/context';
import { ConfigError, InputError } from '../../gateway/errors';
import { TelegramError } from '../../gateway/meters/dsmr/parser';
import type { DsmrTelegram } from '../../gateway/meters/dsmr/types';
import { findMeterType, meterTypeNames } from '../../gateway/meters/registry';
import type { LinkStatus } from '../../gateway/meters/serial';
import { isBlank, optionalNumber, optionalString } from '../shared/fields';
import type { NodeMessage, NodeStatus } from '../shared/red';

export const METER_TOPIC = 'meter';

/** Power for a status line: `850 W`, `1.25 kW`, `12.5 kW` (magnitude; direction is separate). */
export function formatPower(powerW: number): string {
  const magnitude = Math.abs(powerW);
  if (magnitude < 1000) return `${Math.round(magnitude)} W`;
  const kW = magnitude / 1000;
  return `${kW < 10 ? kW.toFixed(2) : kW.toFixed(1)} kW`;
}

export type GridFlow = 'import' | 'export' | 'idle';

export function gridFlow(powerW: number): GridFlow {
  if (Math.abs(powerW) < 0.5) return 'idle';
  return powerW > 0 ? 'import' : 'export';
}

/** A status with a translation key (`status.<flow>`) and its substitution. */
export interface ReadingStatus extends NodeStatus {
  key: `status.${GridFlow}`;
  power: string;
}

export function readingStatus(reading: MeterReading): ReadingStatus {
  const flow = gridFlow(reading.powerW);
  return {
    fill: flow === 'export' ? 'green' : flow === 'import' ? 'blue' : 'grey',
    shape: 'dot',
    key: `status.${flow}`,
    power: formatPower(reading.powerW),
  };
}

/** The message for a new reading from the meter. */
export function readingMessage(reading: MeterReading): NodeMessage {
  return { topic: METER_TOPIC, payload: reading };
}

/** A poll: the incoming message, carrying the newest reading (other properties pass through). */
export function pollMessage(msg: NodeMessage, reading: MeterReading): NodeMessage {
  msg.topic = METER_TOPIC;
  msg.payload = reading;
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Sources: the gateway's meter, raw P1 bytes arriving as messages, or a meter of any registered
// type that the node runs itself (gateway/meters/registry.ts — a new type there is a new source).

/** `gateway` (the hepek-config's meter), `raw` (P1 bytes in msg.payload), or a registered meter type. */
export type MeterReadSource = 'gateway' | 'raw' | (string & {});

export interface MeterReadConfig {
  source: MeterReadSource;
  /** The registered type's config, coerced from the editor's strings (only for registry sources). */
  meter?: Record<string, unknown>;
}

export function meterReadSources(): string[] {
  return ['gateway', 'raw', ...meterTypeNames()];
}

/**
 * Decodes a saved node: `source` (blank = `gateway`, as saved before sources existed) and, for a
 * registered meter type, the fields that type declares; numbers are coerced, blanks dropped so
 * the type's defaults apply. The type's own fromConfig then checks ranges and names bad fields.
 */
export function normaliseMeterReadConfig(def: Record<string, unknown>): MeterReadConfig {
  const raw = def.source;
  const source = isBlank(raw) ? 'gateway' : typeof raw === 'string' ? raw.trim() : raw;
  if (typeof source !== 'string' || !meterReadSources().includes(source))
    throw new ConfigError('source', raw, `one of ${meterReadSources().join(', ')}`);
  const type = findMeterType(source);
  if (!type) return { source };
  const meter: Record<string, unknown> = {};
  for (const [field, kind] of Object.entries(type.fields)) {
    const value = def[field];
    if (isBlank(value)) continue;
    meter[field] =
      kind === 'number'
        ? optionalNumber(value, field, { allowed: `a number for ${type.label}` })
        : optionalString(value, field);
  }
  return { source, meter };
}

/** The bytes of a raw-input message: a string (its code units as bytes) or a Buffer. */
export function rawPayloadBytes(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (payload instanceof Uint8Array)
    return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (typeof payload === 'string') return Buffer.from(payload, 'latin1');
  throw new InputError(
    'msg.payload',
    payload,
    'P1 telegram bytes as a string or Buffer (e.g. from a serial in node)',
  );
}

/** The message for a decoded telegram: the reading as payload, every decoded value in msg.telegram. */
export function telegramMessage(
  base: NodeMessage,
  reading: MeterReading | null,
  telegram: DsmrTelegram,
): NodeMessage {
  base.topic = METER_TOPIC;
  base.payload = reading;
  base.telegram = telegram;
  return base;
}

/** Status for a refused telegram: red ring with the reason. */
export function problemStatus(err: TelegramError | Error): NodeStatus & { key: string; reason: string } {
  const reason = err instanceof TelegramError ? err.problem : 'error';
  return { fill: 'red', shape: 'ring', key: 'status.refused', reason };
}

/** Status for a serial link state. */
export function linkStatus(status: LinkStatus): NodeStatus & { key: string } {
  switch (status.state) {
    case 'open':
      return { fill: 'green', shape: 'ring', key: 'status.open' };
    case 'connecting':
      return { fill: 'yellow', shape: 'ring', key: 'status.connecting' };
    case 'lost':
      return { fill: 'red', shape: 'ring', key: 'status.lost' };
    default:
      return { fill: 'grey', shape: 'ring', key: 'status.closed' };
  }
}
