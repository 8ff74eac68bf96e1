/** Pure logic of `hepek-thermostat`: which payloads are commands, and the status. */
import { THERMOSTAT_MODES, type ThermostatCommand, type ThermostatState } from '../../gateway/devices/api';
import { ConfigError, InputError } from '../../gateway/errors';
import { rejectUnknownFields } from '../shared/commands';
import type { NodeStatus } from '../shared/red';

export const THERMOSTAT_COMMANDS_ALLOWED =
  "true/false, 'on'/'off', a setpoint in °C, or {on?, mode?, setpointC?}";

/** The thermostat command in `msg.payload`, or an InputError naming it. Ranges are checked by the device. */
export function parseThermostatCommand(payload: unknown): ThermostatCommand {
  if (typeof payload === 'boolean') return { on: payload };
  if (typeof payload === 'number' && Number.isFinite(payload)) return { setpointC: payload };
  if (typeof payload === 'string') {
    const word = payload.trim().toLowerCase();
    if (word === 'on' || word === 'off') return { on: word === 'on' };
    if ((THERMOSTAT_MODES as readonly string[]).includes(word))
      return { mode: word as ThermostatCommand['mode'] };
  }
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
    const record = payload as Record<string, unknown>;
    const known = ['on', 'mode', 'setpointC'];
    rejectUnknownFields(record, known);
    if (record.on !== undefined && typeof record.on !== 'boolean')
      throw new InputError('msg.payload.on', record.on, 'true or false');
    if (record.mode !== undefined && !(THERMOSTAT_MODES as readonly unknown[]).includes(record.mode))
      throw new InputError('msg.payload.mode', record.mode, `one of ${THERMOSTAT_MODES.join(', ')}`);
    if (
      record.setpointC !== undefined &&
      (typeof record.setpointC !== 'number' || !Number.isFinite(record.setpointC))
    )
      throw new InputError('msg.payload.setpointC', record.setpointC, 'a temperature in °C');
    const command = record as ThermostatCommand;
    if (Object.keys(command).length > 0) return command;
  }
  throw new InputError('msg.payload', payload, THERMOSTAT_COMMANDS_ALLOWED);
}

export interface ThermostatStatus extends NodeStatus {
  key: 'status.on' | 'status.off' | 'status.pending' | 'status.unavailable';
  mode: string;
  setpoint: string;
  indoor: string;
  at: string;
}

function celsius(value: number | null): string {
  return value === null ? '?' : `${Math.round(value * 10) / 10}`;
}

export function thermostatStatus(state: ThermostatState): ThermostatStatus {
  const base = {
    mode: state.mode,
    setpoint: celsius(state.setpointC),
    indoor: celsius(state.indoorC),
    at: state.pending ? state.pending.at.slice(11, 19) : '',
  };
  if (!state.available) return { fill: 'grey', shape: 'ring', key: 'status.unavailable', ...base };
  if (state.pending) return { fill: 'yellow', shape: 'ring', key: 'status.pending', ...base };
  return state.on
    ? { fill: 'blue', shape: 'dot', key: 'status.on', ...base }
    : { fill: 'grey', shape: 'dot', key: 'status.off', ...base };
}

export function noThermostat(): ConfigError {
  return new ConfigError(
    'thermostat.type',
    'none',
    'a thermostat in the gateway settings ("thermostat": {"type": "simulated" | "tasmota" | "shelly" | "mqtt", "options": {…}})',
  );
}
