/** Pure logic of `hepek-relay`: which payloads are commands, the reason, and the status. */
import type { RelayState } from '../../gateway/context';
import { InputError } from '../../gateway/errors';
import { givenReason } from '../shared/commands';
import type { NodeMessage, NodeStatus } from '../shared/red';

export const RELAY_COMMANDS_ALLOWED = "true/false, 'on'/'off', 1/0 or {on: true|false}";

/** The relay command in `msg.payload`, or an InputError naming it. Strings ignore case and spaces. */
export function parseRelayCommand(payload: unknown): boolean {
  if (typeof payload === 'boolean') return payload;
  if (payload === 1 || payload === 0) return payload === 1;
  if (typeof payload === 'string') {
    const word = payload.trim().toLowerCase();
    if (word === 'on') return true;
    if (word === 'off') return false;
  }
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
    const on = (payload as { on?: unknown }).on;
    if (typeof on === 'boolean') return on;
  }
  throw new InputError('msg.payload', payload, RELAY_COMMANDS_ALLOWED);
}

/**
 * Why the relay switches: `msg.reason` when given, else what a `hepek-balance` upstream decided
 * (its `msg.balance.belowThreshold`), else a plain command.
 */
export function relayReason(msg: NodeMessage): string {
  const given = givenReason(msg);
  if (given !== undefined) return given;
  const balance = msg.balance as { belowThreshold?: unknown } | undefined;
  if (balance && typeof balance === 'object' && typeof balance.belowThreshold === 'boolean') {
    return balance.belowThreshold ? 'balance below threshold' : 'balance above threshold';
  }
  return 'command';
}

export interface RelayStatus extends NodeStatus {
  key: 'status.on' | 'status.off' | 'status.unavailable';
}

/** Green dot closed, red ring open, grey ring when a real relay (Tasmota, Shelly, Modbus) does not answer. */
export function relayStatus(state: RelayState): RelayStatus {
  if (state.available === false) return { fill: 'grey', shape: 'ring', key: 'status.unavailable' };
  return state.on
    ? { fill: 'green', shape: 'dot', key: 'status.on' }
    : { fill: 'red', shape: 'ring', key: 'status.off' };
}
