/**
 * The one registry of meter types, evcc style: a type name → a factory that decodes untyped
 * config (settings, a node's fields) into a typed meter, naming the field of any refusal. The
 * runtime builds `settings.meter` from here and `hepek-meter-read` offers every type here as a
 * source. Adding a meter type is one line in METER_TYPES.
 */
import type { MeterSource } from '../context';
import { ConfigError } from '../errors';
import { SimulatedHome } from '../sim/home';
import { DsmrSerialMeter } from './dsmr/meter';
import { meterFromRegistry, MODBUS_METER_FIELDS } from './modbus';

/** A meter the owner starts and stops. */
export interface ManagedMeter extends MeterSource {
  start(): void;
  stop(): void | Promise<void>;
}

export interface MeterContext {
  /** The clock, ms since the epoch. */
  now?: () => number;
  /** Called when a reading listener throws; the meter carries on. */
  onListenerError?: (err: unknown) => void;
  /** Prefix for field names in errors, e.g. `meter.dsmr.`. */
  fieldPrefix?: string;
}

/** How a node's editor fields map onto a type's config: each field's name and value kind. */
export type FieldKind = 'number' | 'string';

export interface MeterType {
  readonly type: string;
  /** For editors and logs. */
  readonly label: string;
  /** The fields a node may set for this type (coerced from the editor's strings). */
  readonly fields: Readonly<Record<string, FieldKind>>;
  fromConfig(raw: unknown, ctx: MeterContext): ManagedMeter;
}

/** The simulated home (gateway/sim/home.ts): the embedded default's meter, any of its options. */
const simulated: MeterType = {
  type: 'simulated',
  label: 'simulated home',
  fields: {
    speed: 'number',
    intervalMs: 'number',
    pvPeakW: 'number',
    annualLoadKWh: 'number',
    seed: 'number',
  },
  fromConfig: (raw, ctx) =>
    SimulatedHome.fromConfig(
      raw,
      { now: ctx.now, onListenerError: ctx.onListenerError },
      ctx.fieldPrefix ?? '',
    ),
};

const dsmr: MeterType = {
  type: 'dsmr',
  label: 'DSMR P1 smart meter (serial)',
  fields: {
    port: 'string',
    profile: 'string',
    baudRate: 'number',
    dataBits: 'number',
    parity: 'string',
    stopBits: 'number',
    retryMs: 'number',
  },
  fromConfig: (raw, ctx) => DsmrSerialMeter.fromConfig(raw, ctx),
};

const modbus: MeterType = {
  type: 'modbus',
  label: 'Modbus meter (Eastron SDM630, SunSpec inverter)',
  fields: MODBUS_METER_FIELDS,
  fromConfig: (raw, ctx) => meterFromRegistry(raw, ctx),
};

export const METER_TYPES: readonly MeterType[] = [simulated, dsmr, modbus];

export function meterTypeNames(): string[] {
  return METER_TYPES.map((t) => t.type);
}

export function findMeterType(type: string): MeterType | undefined {
  return METER_TYPES.find((t) => t.type === type);
}

/** Builds a meter of `type` from untyped config; a ConfigError names the bad field. */
export function createMeter(
  type: string,
  raw: unknown,
  ctx: MeterContext = {},
  typeField = 'meter.type',
): ManagedMeter {
  const found = findMeterType(type);
  if (!found)
    throw new ConfigError(
      typeField,
      type,
      `one of ${meterTypeNames()
        .map((t) => JSON.stringify(t))
        .join(', ')}`,
    );
  return found.fromConfig(raw, ctx);
}
