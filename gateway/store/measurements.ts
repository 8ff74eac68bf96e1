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

export const PRICE_MEASUREMENT: MeasurementSpec = Object.freeze<MeasurementSpec>({
  name: 'hepek_price',
  description:
    'The energy price this HEPEK bills at (the hub-signed tariff in force) and the forecast for the same time, from the ledger journal.',
  tags: [SERIAL_TAG],
  fields: [
    {
      name: 'priceErgonPerKWh',
      type: 'float',
      unit: 'ERGON/kWh',
      description: 'The tariff in force at this time.',
      optional: true,
    },
    {
      name: 'forecastErgonPerKWh',
      type: 'float',
      unit: 'ERGON/kWh',
      description: 'The price forecast for this time.',
      optional: true,
    },
  ],
});

/** The ERGON flows of a HEPEK wallet, each a cumulative total (the dashboard differences them). */
export const ERGON_FLOWS = ['paid', 'reward', 'market', 'purchased'] as const;
export type ErgonFlow = (typeof ERGON_FLOWS)[number];

const FLOW_TEXT: Record<ErgonFlow, string> = {
  paid: 'paid to the hub through the payment channel (acknowledged vouchers)',
  reward: 'earned as export rewards (MeterReadings)',
  market: 'received from market sales (EnergyMarket settlements)',
  purchased: 'bought through the purchase webhook (Purchase receipts minted)',
};

export const ERGON_MEASUREMENT: MeasurementSpec = Object.freeze<MeasurementSpec>({
  name: 'hepek_ergon',
  description:
    'Cumulative ERGON of this HEPEK by flow since its first start; one point each time a flow moves, carrying all four totals.',
  tags: [SERIAL_TAG],
  fields: ERGON_FLOWS.map((flow) => ({
    name: `${flow}Ergon`,
    type: 'float' as const,
    unit: 'ERGON',
    description: `Total ERGON ${FLOW_TEXT[flow]}.`,
  })),
});

/** Every measurement, for the dashboard generator and the docs. */
export const MEASUREMENTS: readonly MeasurementSpec[] = Object.freeze([
  METER_MEASUREMENT,
  PRICE_MEASUREMENT,
  ERGON_MEASUREMENT,
]);

/** What the runtime journals: one entry per acknowledged reading. */
export interface MeterEntry {
  kind: 'meter';
  /** The meter adapter (`MeterSource.kind`). */
  source: string;
  reading: MeterReading & Record<string, unknown>;
}

/** The ledger journal (gateway/store/ledger.ts): a price observed at `timestamp`. */
export interface PriceEntry {
  kind: 'price';
  timestamp: string;
  priceErgonPerKWh?: number;
  forecastErgonPerKWh?: number;
}

/** The ledger journal: `flow` moved by `deltaWei`; `totalsWei` are every flow's totals after it. */
export interface ErgonEntry {
  kind: 'ergon';
  timestamp: string;
  flow: ErgonFlow;
  /** ERGON base units (wei) as a decimal string, like everywhere on the money path. */
  deltaWei: string;
  totalsWei: Record<ErgonFlow, string>;
  /** What moved it: a payment id, a voucher id, an offer id, a transaction hash. */
  ref?: string;
}

export type JournalEntry = MeterEntry | PriceEntry | ErgonEntry;

/** wei (decimal string) → ERGON as a float, exact to the float's precision. */
export function weiToErgon(wei: string): number {
  const value = BigInt(wei);
  const whole = value / 10n ** 18n;
  return Number(whole) + Number(value - whole * 10n ** 18n) / 1e18;
}

/**
 * The InfluxDB point for a journaled entry, or null when the entry cannot be one (an unknown kind,
 * a bad timestamp, no value). Fields follow the measurement specs exactly: integers rounded, null
 * and missing optional fields left out.
 */
export function entryToPoint(entry: JournalEntry, seq: number, serial: string): IPoint | null {
  switch (entry?.kind) {
    case 'meter':
      return meterPoint(entry, seq, serial);
    case 'price': {
      const timestamp = Date.parse(entry.timestamp);
      if (!Number.isFinite(timestamp)) return null;
      const fields: Record<string, number> = {};
      for (const field of PRICE_MEASUREMENT.fields) {
        const value = (entry as unknown as Record<string, unknown>)[field.name];
        if (typeof value === 'number' && Number.isFinite(value)) fields[field.name] = value;
      }
      if (Object.keys(fields).length === 0) return null;
      return {
        measurement: PRICE_MEASUREMENT.name,
        tags: { serial },
        fields,
        timestamp: new Date(timestamp),
      };
    }
    case 'ergon': {
      const timestamp = Date.parse(entry.timestamp);
      if (!Number.isFinite(timestamp)) return null;
      const fields: Record<string, number> = {};
      for (const flow of ERGON_FLOWS) {
        const wei = entry.totalsWei?.[flow];
        if (typeof wei !== 'string' || !/^\d+$/.test(wei)) return null;
        fields[`${flow}Ergon`] = weiToErgon(wei);
      }
      return {
        measurement: ERGON_MEASUREMENT.name,
        tags: { serial },
        fields,
        timestamp: new Date(timestamp),
      };
    }
    default:
      return null;
  }
}

function meterPoint(entry: MeterEntry, seq: number, serial: string): IPoint | null {
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
