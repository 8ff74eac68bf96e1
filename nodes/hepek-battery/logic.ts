/** Pure logic of `hepek-battery`: which payloads are commands, and the status. */
import type { BatteryCommand, BatteryState } from '../../gateway/devices/api';
import { checkBatteryCommand } from '../../gateway/devices/battery';
import { ConfigError, InputError } from '../../gateway/errors';
import { rejectUnknownFields } from '../shared/commands';
import type { NodeStatus } from '../shared/red';
import { formatPower } from '../hepek-meter-read/logic';

export const BATTERY_COMMANDS_ALLOWED =
  "a power in W (+ charge, − discharge), 'idle', or {powerW?, minSocPct?, maxSocPct?}";

/** The battery command in `msg.payload`, or an InputError naming it. */
export function parseBatteryCommand(payload: unknown): BatteryCommand {
  if (typeof payload === 'number' && Number.isFinite(payload)) return { powerW: payload };
  if (typeof payload === 'string') {
    const word = payload.trim().toLowerCase();
    if (word === 'idle' || word === 'stop') return { powerW: 0 };
    if (word !== '' && Number.isFinite(Number(word))) return { powerW: Number(word) };
  }
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
    const record = payload as Record<string, unknown>;
    const known = ['powerW', 'minSocPct', 'maxSocPct'];
    rejectUnknownFields(record, known);
    const command = record as BatteryCommand;
    checkBatteryCommand(command);
    if (known.some((key) => record[key] !== undefined)) return { ...command };
  }
  throw new InputError('msg.payload', payload, BATTERY_COMMANDS_ALLOWED);
}

export interface BatteryStatus extends NodeStatus {
  key: 'status.charging' | 'status.discharging' | 'status.idle' | 'status.unavailable';
  power: string;
  soc: string;
}

export function batteryStatus(state: BatteryState): BatteryStatus {
  const soc = state.socPct === null ? '?' : `${Math.round(state.socPct)}`;
  const power = formatPower(state.setpointW);
  if (!state.available) return { fill: 'grey', shape: 'ring', key: 'status.unavailable', power, soc };
  if (state.setpointW > 0) return { fill: 'green', shape: 'dot', key: 'status.charging', power, soc };
  if (state.setpointW < 0) return { fill: 'yellow', shape: 'dot', key: 'status.discharging', power, soc };
  return { fill: 'grey', shape: 'dot', key: 'status.idle', power, soc };
}

/** The error when the gateway has no battery. */
export function noBattery(): ConfigError {
  return new ConfigError(
    'battery.type',
    'none',
    'a battery in the gateway settings ("battery": {"type": "simulated" | "mqtt" | "modbus", "options": {…}})',
  );
}
