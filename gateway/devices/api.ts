/**
 * The device layer's capability interfaces, shaped like evcc's `api/api.go`: each one small, each
 * value documented with its unit — power in W, energy in Wh, state of charge in %, temperature in
 * °C. An adapter implements the ones it can; optional ones are detected once, at construction, with
 * the `has*` guards below, never by probing on every call.
 *
 * The relay interface (`RelayDevice`, `RelayState`) lives in `../context.ts` because the Node-RED
 * nodes already use it; it is re-exported here so adapters import one module.
 */
import type { RelayDevice, RelayState } from '../context';

export type { RelayDevice, RelayState };

/** Whether a device answers. Every MQTT and Modbus adapter has it; simulated ones are always online. */
export interface Availability {
  /** true once the device has said it is online (LWT, `online` topic, a Modbus answer). */
  available(): boolean;
  /** Calls `listener` on every change; returns the unsubscribe function. */
  onAvailability(listener: (available: boolean) => void): () => void;
}

export function hasAvailability(device: object): device is Availability {
  return (
    typeof (device as Partial<Availability>).available === 'function' &&
    typeof (device as Partial<Availability>).onAvailability === 'function'
  );
}

/** A device with something to release (MQTT subscriptions, a Modbus socket, timers). */
export interface Closable {
  close(): Promise<void>;
}

export function hasClose(device: object): device is Closable {
  return typeof (device as Partial<Closable>).close === 'function';
}

/** Indoor temperature measured by the device itself, °C. */
export interface TemperatureSensor {
  /** The newest temperature, °C, or null before the first one. */
  temperatureC(): number | null;
  /** Calls `listener` with each new temperature, °C. */
  onTemperature(listener: (temperatureC: number) => void): () => void;
}

export function hasTemperature(device: object): device is TemperatureSensor {
  return (
    typeof (device as Partial<TemperatureSensor>).temperatureC === 'function' &&
    typeof (device as Partial<TemperatureSensor>).onTemperature === 'function'
  );
}

// ---------------------------------------------------------------------------------------------
// Switches: the transport layer under relays and switched thermostats.

/** One on/off output (a Tasmota POWER channel, a Shelly switch, a Modbus coil, a simulated one). */
export interface SwitchDriver extends Availability, Closable {
  readonly kind: string;
  /** The output as the device last reported it; null before the first report. */
  reported(): boolean | null;
  /** Commands the output; resolves once the device echoes it, or rejects (DeviceUnavailableError). */
  switchTo(on: boolean): Promise<void>;
  /** Calls `listener` with every state the device reports (also changes made at the device). */
  onReport(listener: (on: boolean) => void): () => void;
}

// ---------------------------------------------------------------------------------------------
// Battery.

export interface BatteryLimits {
  /** Largest charging power the battery accepts, W (> 0). */
  maxChargeW: number;
  /** Largest discharging power, W (> 0). */
  maxDischargeW: number;
  /** Below this state of charge the battery is not discharged, %. */
  minSocPct: number;
  /** Above this state of charge the battery is not charged, %. */
  maxSocPct: number;
}

export interface BatteryState {
  /** State of charge, %, or null before the battery reported one. */
  socPct: number | null;
  /** Power the battery reports, W: positive while charging, negative while discharging. */
  powerW: number | null;
  /** The setpoint in force after limits, W: positive = charge, negative = discharge, 0 = idle. */
  setpointW: number;
  /** The setpoint that was asked for, W, before the power and SoC limits were applied. */
  requestedW: number;
  limits: BatteryLimits;
  /** Whether the battery answers. */
  available: boolean;
  /** ISO 8601 wall-clock time of the last setpoint change. */
  changedAt: string;
  /** Why the setpoint last changed, e.g. `price below 0.10 ERGON/kWh` or `SoC at maximum`. */
  reason: string;
}

/** What a battery command may change; omitted fields keep their value. */
export interface BatteryCommand {
  /** Charge (+) or discharge (−) power, W. */
  powerW?: number;
  minSocPct?: number;
  maxSocPct?: number;
}

/** What the battery hardware (or its model) is told and reports: no policy, no limits. */
export interface BatteryDriver extends Availability, Closable {
  readonly kind: string;
  /** Writes the charge (+) / discharge (−) setpoint, W. */
  writeSetpoint(powerW: number): Promise<void>;
  /** Calls `listener` with each report: SoC %, power W (+ charging). */
  onReport(listener: (report: { socPct?: number; powerW?: number }) => void): () => void;
}

export interface BatteryDevice extends Closable {
  readonly kind: string;
  state(): BatteryState;
  /** Applies a command within the limits; resolves with the state after it. */
  set(command: BatteryCommand, reason: string): Promise<BatteryState>;
  subscribe(listener: (state: BatteryState) => void): () => void;
}

// ---------------------------------------------------------------------------------------------
// Thermostat / AC / heat pump.

export const THERMOSTAT_MODES = ['heat', 'cool', 'auto', 'fan'] as const;
export type ThermostatMode = (typeof THERMOSTAT_MODES)[number];

export interface ThermostatSettings {
  /** Compressor / heater power: true = running. */
  on: boolean;
  mode: ThermostatMode;
  /** Target indoor temperature, °C. */
  setpointC: number;
}

export interface ThermostatState extends ThermostatSettings {
  /** Indoor temperature the device measures, °C, or null when it has no sensor or has not said. */
  indoorC: number | null;
  available: boolean;
  /** ISO 8601 wall-clock time `on` last changed. */
  changedAt: string;
  reason: string;
  /**
   * A switch that was asked for but is held back by the minimum on/off time, and when it will
   * happen (ISO 8601); null when nothing waits. A later opposite command cancels it.
   */
  pending: { on: boolean; at: string } | null;
}

export interface ThermostatCommand {
  on?: boolean;
  mode?: ThermostatMode;
  setpointC?: number;
}

/** What the thermostat hardware is told; the minimum on/off times are not its concern. */
export interface ThermostatDriver extends Availability, Closable {
  readonly kind: string;
  write(settings: ThermostatSettings): Promise<void>;
  /** Calls `listener` with what the device reports (all fields optional). */
  onReport(listener: (report: Partial<ThermostatSettings>) => void): () => void;
  /** Indoor temperature the device measures, °C; absent when it has no sensor. */
  indoorC?(): number | null;
}

export interface ThermostatDevice extends Closable {
  readonly kind: string;
  state(): ThermostatState;
  set(command: ThermostatCommand, reason: string): Promise<ThermostatState>;
  subscribe(listener: (state: ThermostatState) => void): () => void;
}
