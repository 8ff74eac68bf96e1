/**
 * The plugin's configuration, checked once. A platform block without brokerUrl and serial is "not
 * configured": the plugin then does nothing at all (verified-plugin rule), it only says so.
 */
export const PLUGIN_NAME = 'homebridge-hepek';
export const PLATFORM_NAME = 'HEPEK';

export interface HepekConfig {
  name: string;
  brokerUrl: string;
  serial: string;
  username?: string;
  password?: string;
  thermostat: boolean;
  battery: boolean;
  temperatureSensors: boolean;
}

export type ConfigResult = { ok: true; config: HepekConfig } | { ok: false; reason: string };

const URL_PATTERN = /^(mqtts?|wss?):\/\/\S+$/;
const SERIAL_PATTERN = /^[A-Za-z0-9._-]{3,64}$/;

function flag(raw: Record<string, unknown>, key: string): boolean | string {
  const value = raw[key];
  if (value === undefined) return true;
  if (typeof value === 'boolean') return value;
  return `${key}: ${JSON.stringify(value)} is not allowed; expected true or false`;
}

export function parseConfig(raw: Record<string, unknown> | undefined): ConfigResult {
  if (!raw || (raw.brokerUrl === undefined && raw.serial === undefined))
    return { ok: false, reason: 'not configured yet (set brokerUrl and serial); doing nothing' };
  if (typeof raw.brokerUrl !== 'string' || !URL_PATTERN.test(raw.brokerUrl))
    return {
      ok: false,
      reason: `brokerUrl: ${JSON.stringify(raw.brokerUrl)} is not allowed; expected an mqtt://, mqtts://, ws:// or wss:// URL`,
    };
  if (typeof raw.serial !== 'string' || !SERIAL_PATTERN.test(raw.serial))
    return {
      ok: false,
      reason: `serial: ${JSON.stringify(raw.serial)} is not allowed; expected 3 to 64 letters, digits, dots, dashes or underscores`,
    };
  for (const key of ['username', 'password'])
    if (raw[key] !== undefined && typeof raw[key] !== 'string')
      return { ok: false, reason: `${key}: ${JSON.stringify(raw[key])} is not allowed; expected a string` };
  const flags: Record<string, boolean> = {};
  for (const key of ['thermostat', 'battery', 'temperatureSensors']) {
    const value = flag(raw, key);
    if (typeof value === 'string') return { ok: false, reason: value };
    flags[key] = value;
  }
  return {
    ok: true,
    config: {
      name: typeof raw.name === 'string' && raw.name ? raw.name : PLATFORM_NAME,
      brokerUrl: raw.brokerUrl,
      serial: raw.serial,
      ...(typeof raw.username === 'string' ? { username: raw.username } : {}),
      ...(typeof raw.password === 'string' ? { password: raw.password } : {}),
      thermostat: flags.thermostat!,
      battery: flags.battery!,
      temperatureSensors: flags.temperatureSensors!,
    },
  };
}

/** The gateway's topics this plugin uses (the contract is in the gateway's homeassistant/README.md). */
export function topicsFor(serial: string) {
  const base = `hepek/${serial}`;
  return {
    status: `${base}/status`,
    relay: `${base}/relay`,
    relaySet: `${base}/relay/set`,
    battery: `${base}/battery`,
    thermostat: `${base}/thermostat`,
    thermostatSetpointSet: `${base}/thermostat/setpoint/set`,
    thermostatModeSet: `${base}/thermostat/mode/set`,
    demandAllow: `${base}/demand/allow`,
    demandAllowSet: `${base}/demand/allow/set`,
  };
}
