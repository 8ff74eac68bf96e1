/**
 * Pure helpers of the nodes that command a gateway device (relay, battery, thermostat): the
 * reason a message gives, the reply message, and the refusal of unknown command fields.
 */
import { InputError } from '../../gateway/errors';
import type { NodeMessage } from './red';

/** `msg.reason` trimmed, or undefined when the message gives none (missing, not a string, blank). */
export function givenReason(msg: NodeMessage): string | undefined {
  return typeof msg.reason === 'string' && msg.reason.trim() !== '' ? msg.reason.trim() : undefined;
}

/** Why a device is commanded: `msg.reason` when given, else a plain command. */
export function commandReason(msg: NodeMessage): string {
  return givenReason(msg) ?? 'command';
}

/** The message sent after a command: the incoming one with the device's new state as payload. */
export function stateMessage(msg: NodeMessage, state: unknown): NodeMessage {
  msg.payload = state;
  return msg;
}

/** Refuses an object command with a field outside `known`, naming the first such field. */
export function rejectUnknownFields(record: Record<string, unknown>, known: readonly string[]): void {
  const unknown = Object.keys(record).find((k) => !known.includes(k));
  if (unknown !== undefined)
    throw new InputError(`msg.payload.${unknown}`, record[unknown], `one of the fields ${known.join(', ')}`);
}
