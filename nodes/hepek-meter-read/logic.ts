/** Pure logic of `hepek-meter-read`: the messages it sends and the status it shows. */
import type { MeterReading } from '../../gateway/context';
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
