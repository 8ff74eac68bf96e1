/**
 * Modbus meters: `fromConfig(raw)` decodes the options into a typed config with defaults and builds
 * a `ModbusMeter`. Models: `sdm630` (Eastron SDM630, input registers) and `sunspec` (a SunSpec
 * inverter, model 101/102/103, found in its model chain).
 *
 *   { "model": "sdm630", "host": "192.168.1.50", "port": 502, "unitId": 1 }
 *   { "model": "sunspec", "path": "/dev/ttyUSB0", "baudRate": 9600, "unitId": 1, "usage": "pv" }
 */
import { systemClock, type Clock } from '../../devices/clock';
import { ConfigReader } from '../../devices/config';
import { ModbusLink, readModbusLinkConfig, type ModbusLinkConfig } from './link';
import { SDM630, SUNSPEC_INVERTER_103 } from './maps';
import { ModbusMeter, type MeterUsage, type ModbusMeterOptions } from './meter';

export { ModbusLink, type ModbusLinkConfig } from './link';
export { ModbusMeter, toReading, type ModbusReading, type PhaseValues, type MeterUsage } from './meter';
export { SDM630, SUNSPEC_INVERTER_103 } from './maps';

export const MODBUS_METER_MODELS = ['sdm630', 'sunspec'] as const;
export type ModbusMeterModel = (typeof MODBUS_METER_MODELS)[number];

export interface ModbusMeterConfig {
  model: ModbusMeterModel;
  usage: MeterUsage;
  link: ModbusLinkConfig;
  intervalMs: number;
  /** SunSpec base address ('SunS'); ignored for the SDM630. */
  sunspecBase: number;
}

export function decodeModbusMeterConfig(raw: unknown, prefix = 'meter.options'): ModbusMeterConfig {
  const r = new ConfigReader(raw, prefix);
  const model = r.oneOf('model', 'sdm630', MODBUS_METER_MODELS);
  const config: ModbusMeterConfig = {
    model,
    usage: r.oneOf('usage', model === 'sunspec' ? 'pv' : 'grid', ['grid', 'pv'] as const),
    link: readModbusLinkConfig(r, { unitId: 1, baudRate: 9600 }),
    intervalMs: r.number('intervalMs', 1000, {
      min: 100,
      max: 3_600_000,
      integer: true,
      allowed: 'an integer from 100 to 3600000 ms',
    }),
    sunspecBase: r.oneOf('sunspecBase', 40000, [0, 40000, 50000]),
  };
  r.done();
  return config;
}

export interface ModbusMeterDeps {
  clock?: Clock;
  log?: (text: string) => void;
}

/** The meter's options for a decoded config: the model's register map, and its SunSpec base. */
function meterOptions(config: ModbusMeterConfig, clock: Clock): ModbusMeterOptions {
  return {
    map: config.model === 'sdm630' ? SDM630 : SUNSPEC_INVERTER_103,
    usage: config.usage,
    intervalMs: config.intervalMs,
    sunspecBase: config.model === 'sunspec' ? config.sunspecBase : null,
    clock,
  };
}

/** The meter-type registry's entry point: options → a ready (not yet started) meter. */
export function fromConfig(raw: unknown, deps: ModbusMeterDeps = {}, prefix = 'meter.options'): ModbusMeter {
  const config = decodeModbusMeterConfig(raw, prefix);
  const clock = deps.clock ?? systemClock;
  return new ModbusMeter(new ModbusLink(config.link, clock), {
    ...meterOptions(config, clock),
    log: deps.log,
  });
}

/** What the meter-type registry (gateway/meters/registry.ts) passes to a factory. */
export interface MeterRegistryContext {
  now?: () => number;
  onListenerError?: (err: unknown) => void;
  /** Prefix for field names in errors, e.g. `meter.modbus.`. */
  fieldPrefix?: string;
}

/** The editor fields of a `modbus` meter and their kinds, for `hepek-meter-read`. */
export const MODBUS_METER_FIELDS = {
  model: 'string',
  usage: 'string',
  host: 'string',
  port: 'number',
  path: 'string',
  baudRate: 'number',
  unitId: 'number',
  intervalMs: 'number',
} as const;

/** A Modbus meter whose `stop()` also closes its connection, as the meter registry expects. */
class ManagedModbusMeter extends ModbusMeter {
  override stop(): Promise<void> {
    return this.close();
  }
}

/**
 * The meter registry's entry point:
 * `{ type: 'modbus', label: 'Modbus meter (Eastron SDM630, SunSpec inverter)', fields: MODBUS_METER_FIELDS, fromConfig: meterFromRegistry }`.
 */
export function meterFromRegistry(raw: unknown, ctx: MeterRegistryContext = {}): ModbusMeter {
  const prefix = (ctx.fieldPrefix ?? 'meter.modbus.').replace(/\.$/, '');
  const config = decodeModbusMeterConfig(raw, prefix);
  const clock: Clock = ctx.now ? { ...systemClock, now: ctx.now } : systemClock;
  return new ManagedModbusMeter(new ModbusLink(config.link, clock), meterOptions(config, clock));
}
