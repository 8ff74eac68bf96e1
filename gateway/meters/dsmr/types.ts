/**
 * A decoded DSMR P1 telegram. Units are normalised: energy in whole Wh, power in whole W, volts,
 * amperes, gas and water in m³ as the meter reports them. A value the telegram does not carry is
 * null; nothing is invented.
 */

/** Cumulative energy registers, Wh. */
export interface EnergyRegisters {
  /**
   * Tariff 1 (DSMR: low / night; Belgium: day), Wh. A meter with a single total register (no
   * tariff registers) reports it here, with `t2` 0. null: the telegram has no such register.
   */
  t1: number | null;
  /** Tariff 2 (DSMR: normal / day; Belgium: night), Wh. */
  t2: number | null;
  /** The sum over all tariffs, Wh (the meter's own total register when it sends one). */
  total: number | null;
  /** Tariffs 3 and 4 of meters that have them (e.g. E.ON Hungary), Wh. */
  t3?: number;
  t4?: number;
}

export type MbusType = 'gas' | 'water' | 'heat' | 'cooling' | 'electricity' | 'unknown';

/** One M-Bus device behind the meter (gas, water, heat), with its own time stamp. */
export interface MbusReading {
  /** The M-Bus channel, 1..4 (the B of OBIS 0-B:24.2.1). */
  channel: number;
  type: MbusType;
  /** The meter reading: m³ for gas and water, GJ for heat in GJ, Wh for kWh readings; null if absent. */
  value: number | null;
  /** `m3`, `GJ`, `Wh`, ... as normalised, or null when the meter sends a bare number. */
  unit: string | null;
  /** When the M-Bus device captured `value` (ISO 8601 UTC), or null when unknown or invalid. */
  timestamp: string | null;
  /** The M-Bus device type code (0-B:24.1.0): 3 gas, 4 heat, 7 water, ...; null if absent. */
  deviceType: number | null;
  /** The device's equipment identifier (hex-decoded when it is printable text). */
  equipmentId: string | null;
  /** Valve position (0-B:24.4.0), when sent. */
  valve: number | null;
}

export interface PhaseValues {
  /** Instantaneous voltage, V. */
  voltageV: number | null;
  /** Instantaneous current, A. */
  currentA: number | null;
  /** Active power imported on this phase, W. */
  powerImportW: number | null;
  /** Active power exported on this phase, W. */
  powerExportW: number | null;
}

export interface TelegramCrc {
  /** The CRC the meter sent (4 upper-case hex digits), or null when the telegram has none. */
  given: string | null;
  /** CRC16/ARC computed over the bytes from `/` through `!`. */
  computed: string;
  /** given === computed; null when the telegram carries no CRC (DSMR 2.2 / 3.0). */
  valid: boolean | null;
}

export interface DsmrTelegram {
  energyImportWh: EnergyRegisters;
  energyExportWh: EnergyRegisters;
  /** Active power taken from the grid now, W (1-0:1.7.0). */
  powerImportW: number | null;
  /** Active power fed into the grid now, W (1-0:2.7.0). */
  powerExportW: number | null;
  /** The meter's clock (0-0:1.0.0) in ISO 8601 UTC, or null when absent or invalid. */
  timestamp: string | null;
  mbus: MbusReading[];
  crc: TelegramCrc;
  /** The identification line without its `/`, e.g. `ISk5\2MT382-1000`. */
  header: string;
  /** The first three letters of the identification line (the manufacturer's FLAG id). */
  manufacturer: string;
  /** The P1 version: `5.0`, `4.2`, ... from 1-3:0.2.8; null when the meter does not say (DSMR 2.2/3.0). */
  version: string | null;
  /** `dsmr`, `e-mucs` (Belgian Fluvius) or `luxembourg` (Smarty). */
  variant: 'dsmr' | 'e-mucs' | 'luxembourg';
  /** Belgian e-MUCS version information (0-0:96.1.4), e.g. `50217`. */
  emucsVersion: string | null;
  /** The meter's equipment identifier, hex-decoded when it is printable text. */
  equipmentId: string | null;
  /** Tariff indicator (0-0:96.14.0): 1 or 2. */
  tariff: number | null;
  phases: { l1: PhaseValues; l2: PhaseValues; l3: PhaseValues };
  /** Number of power failures in any phase (0-0:96.7.21). */
  powerFailures: number | null;
  /** Number of long power failures in any phase (0-0:96.7.9). */
  longPowerFailures: number | null;
  /** Voltage sags / swells per phase (1-0:32.32.0 ... 1-0:72.36.0). */
  voltageSags: { l1: number | null; l2: number | null; l3: number | null };
  voltageSwells: { l1: number | null; l2: number | null; l3: number | null };
  /** Belgian current average demand (1-0:1.4.0), W. */
  averageDemandW: number | null;
  /** Belgian maximum demand of the running month (1-0:1.6.0). */
  maxDemandMonth: { timestamp: string | null; powerW: number | null } | null;
  /** Breaker / switch position (0-0:96.3.10). */
  breakerState: number | null;
  /** Text message (0-0:96.13.0), hex-decoded when printable; null when empty. */
  textMessage: string | null;
  /** Every other object, by OBIS reference, with its raw value groups, e.g. `(000000747*varh)`. */
  other: Record<string, string>;
  /** Oddities that did not stop decoding (a malformed line, a missing unit, bytes after the CRC). */
  warnings: string[];
}

/** Why a telegram was refused. */
export type TelegramProblem =
  | 'no-telegram' // no `/` identification line at all
  | 'truncated' // the telegram ends (or the next one starts) before its `!`
  | 'crc-mismatch' // the CRC does not match the bytes
  | 'crc-missing' // a DSMR 4+ telegram without its CRC
  | 'too-long'; // more bytes than any telegram has (a stream without `!`)
