/**
 * The time-series schema, in one place: every InfluxDB measurement HEPEK writes, its tags and its
 * fields with units. The InfluxDB writer builds its points from here, and the Grafana dashboard is
 * generated from here — add a field here, not in either of them.
 *
 * Field names are the JSON keys of the reading they come from (units in the names, like
 * everywhere in HEPEK); timestamps are the reading's own time (accelerated for the simulator),
 * written with ms precision. A point is keyed by measurement + tags + time, so writing the same
 * reading twice (a retry after a crash) stores it once.
 */
import type { IPoint } from 'influx';
import type { MeterReading } from '../context';

export type FieldType = 'float' | 'integer' | 'string';

export interface FieldSpec {
  /** Field key in InfluxDB, the same as the reading's JSON key. */
  name: string;
  type: FieldType;
  /** Unit symbol ('' for none): W, Wh, %, °C. */
  unit: string;
  description: string;
  /** Written only when the reading has it (e.g. batteryW only with a battery). */
  optional?: boolean;
}

export interface TagSpec {
  name: string;
  description: string;
}

export interface MeasurementSpec {
  name: string;
  description: string;
  tags: readonly TagSpec[];
  fields: readonly FieldSpec[];
}

const SERIAL_TAG: TagSpec = {
  name: 'serial',
  description: 'The HEPEK device serial (hepek/<serial>/… on MQTT).',
};

export const METER_MEASUREMENT: MeasurementSpec = Object.freeze<MeasurementSpec>({
  name: 'hepek_meter',
  description:
    'Every meter reading the gateway acknowledged (journaled, then published on hepek/<serial>/meter).',
  tags: [SERIAL_TAG, { name: 'source', description: 'The meter adapter: simulated, dsmr, modbus, …' }],
  fields: [
    {
      name: 'importWh',
      type: 'integer',
      unit: 'Wh',
      description: 'Cumulative energy imported from the grid.',
    },
    { name: 'exportWh', type: 'integer', unit: 'Wh', description: 'Cumulative energy exported to the grid.' },
    { name: 'powerW', type: 'float', unit: 'W', description: 'Net grid power: + importing, − exporting.' },
    { name: 'loadW', type: 'float', unit: 'W', description: 'Household consumption (heat pump included).' },
    { name: 'pvW', type: 'float', unit: 'W', description: 'PV production.' },
    {
      name: 'batteryW',
      type: 'float',
      unit: 'W',
      description: 'Battery grid-side power: + charging, − discharging.',
      optional: true,
    },
    {
      name: 'batterySocPercent',
      type: 'float',
      unit: '%',
      description: 'Battery state of charge.',
      optional: true,
    },
    {
      name: 'hvacW',
      type: 'float',
      unit: 'W',
      description: 'Heat pump / AC electric power.',
      optional: true,
    },
    { name: 'indoorC', type: 'float', unit: '°C', description: 'Indoor temperature.', optional: true },
    { name: 'outdoorC', type: 'float', unit: '°C', description: 'Outdoor temperature.', optional: true },
    { name: 'seq', type: 'integer', unit: '', description: 'Journal sequence number of the reading.' },
  ],
});

/** Every measurement, for the dashboard generator and the docs. */
export const MEASUREMENTS: readonly MeasurementSpec[] = Object.freeze([METER_MEASUREMENT]);

/** What the runtime journals: one entry per acknowledged reading. */
export interface MeterEntry {
  kind: 'meter';
  /** The meter adapter (`MeterSource.kind`). */
  source: string;
  reading: MeterReading & Record<string, unknown>;
}

export type JournalEntry = MeterEntry;

/**
 * The InfluxDB point for a journaled entry, or null when the entry cannot be one (an unknown kind,
 * a bad timestamp). Fields follow `METER_MEASUREMENT` exactly: integers rounded, null and missing
 * optional fields left out.
 */
export function entryToPoint(entry: JournalEntry, seq: number, serial: string): IPoint | null {
  if (entry?.kind !== 'meter') return null;
  const timestamp = Date.parse(entry.reading.timestamp);
  if (!Number.isFinite(timestamp)) return null;
  const source: Record<string, unknown> = { ...entry.reading, seq };
  const fields: Record<string, number> = {};
  for (const field of METER_MEASUREMENT.fields) {
    const value = source[field.name];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      if (field.optional) continue;
      return null;
    }
    fields[field.name] = field.type === 'integer' ? Math.round(value) : value;
  }
  return {
    measurement: METER_MEASUREMENT.name,
    tags: { serial, source: entry.source },
    fields,
    timestamp: new Date(timestamp),
  };
}
