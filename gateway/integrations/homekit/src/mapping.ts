/**
 * Pure translation between the gateway's MQTT payloads and HomeKit characteristic values, so the
 * platform code only moves values around. HomeKit enums: heating/cooling state 0 off, 1 heat,
 * 2 cool, target adds 3 auto; charging state 0 not charging, 1 charging.
 */
export type GatewayMode = 'off' | 'heat' | 'cool' | 'auto';
const MODES: GatewayMode[] = ['off', 'heat', 'cool', 'auto'];

export interface ThermostatState {
  indoorC: number | null;
  outdoorC: number | null;
  setpointC: number | null;
  mode: GatewayMode | null;
}

export interface BatteryState {
  socPct: number | null;
  powerW: number | null;
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function object(text: string): Record<string, unknown> | null {
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** `{on}` on the relay topic; null when the payload is not one. */
export function parseRelay(text: string): boolean | null {
  const o = object(text);
  return o && typeof o.on === 'boolean' ? o.on : null;
}

export function parseThermostat(text: string): ThermostatState | null {
  const o = object(text);
  if (!o) return null;
  return {
    indoorC: finite(o.indoorC),
    outdoorC: finite(o.outdoorC),
    setpointC: finite(o.setpointC),
    mode: MODES.includes(o.mode as GatewayMode) ? (o.mode as GatewayMode) : null,
  };
}

export function parseBattery(text: string): BatteryState | null {
  const o = object(text);
  if (!o) return null;
  return { socPct: finite(o.socPct), powerW: finite(o.powerW) };
}

export function parseOnOff(text: string): boolean | null {
  return text === 'ON' ? true : text === 'OFF' ? false : null;
}

/** HomeKit TargetHeatingCoolingState ↔ the gateway's mode. */
export function modeToTarget(mode: GatewayMode | null): number {
  return mode === null ? 0 : MODES.indexOf(mode);
}
export function targetToMode(value: number): GatewayMode {
  const mode = MODES[value];
  if (!mode) throw new RangeError(`TargetHeatingCoolingState ${value} is not 0, 1, 2 or 3`);
  return mode;
}

/**
 * CurrentHeatingCoolingState: what the unit is doing now (no auto). In `auto` it heats below the
 * setpoint and cools above it.
 */
export function currentState(t: ThermostatState): number {
  if (t.mode === 'heat') return 1;
  if (t.mode === 'cool') return 2;
  if (t.mode === 'auto' && t.indoorC !== null && t.setpointC !== null)
    return t.indoorC < t.setpointC ? 1 : t.indoorC > t.setpointC ? 2 : 0;
  return 0;
}

export function batteryLevel(b: BatteryState): number {
  return b.socPct === null ? 0 : Math.max(0, Math.min(100, Math.round(b.socPct)));
}

export function chargingState(b: BatteryState): number {
  return b.powerW !== null && b.powerW > 0 ? 1 : 0;
}

/** StatusLowBattery: 1 below 20 %. */
export function lowBattery(b: BatteryState): number {
  return b.socPct !== null && b.socPct < 20 ? 1 : 0;
}

/** HomeKit wants a setpoint inside the characteristic's range. */
export function clampSetpoint(c: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, c));
}
