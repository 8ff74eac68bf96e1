/**
 * Pure logic of `hepek-demand-listener`: the DEMAND state machine — a verified event starts when
 * the meter's clock enters [start, end) and ends when it leaves it (or the event expires, is
 * replaced or cleared). No RED, timers or I/O; verification happens before (the gateway's money
 * path, or `verifyDemand` for a signed message given to the node).
 */
import type { DemandEvent } from '../../gateway/demand/types';
import { isDemandActive } from '../../gateway/demand/types';
import type { NodeMessage, NodeStatus } from '../shared/red';

export interface ListenerState {
  /** The newest verified event, or null. */
  event: DemandEvent | null;
  /** The id of the event in force when last looked, or null. */
  activeId: string | null;
}

export const INITIAL_LISTENER_STATE: ListenerState = { event: null, activeId: null };

export type Transition =
  | { kind: 'start'; event: DemandEvent }
  | { kind: 'end'; event: DemandEvent; why: 'ended' | 'replaced' | 'cleared' | 'expired' };

/**
 * Steps the state to `nowS` with the newest verified event (`event`; null = cleared). Returns the
 * new state and the transitions, an `end` before a `start` when one event replaces another.
 */
export function stepDemand(
  state: ListenerState,
  event: DemandEvent | null,
  nowS: number,
): { state: ListenerState; transitions: Transition[] } {
  const transitions: Transition[] = [];
  const wasActive = state.activeId !== null ? state.event : null;
  const active = event !== null && isDemandActive(event, nowS);
  if (wasActive && (!active || wasActive.id !== event!.id)) {
    const why =
      event === null
        ? 'cleared'
        : event.id !== wasActive.id
          ? 'replaced'
          : nowS >= event.expiry && nowS < event.end
            ? 'expired'
            : 'ended';
    transitions.push({ kind: 'end', event: wasActive, why });
  }
  if (active && (!wasActive || wasActive.id !== event.id)) transitions.push({ kind: 'start', event });
  return { state: { event, activeId: active ? event.id : null }, transitions };
}

/** `topic` is `start` or `end`; `payload` `{active, event}` (times unix seconds, targetKw in kW). */
export function transitionMessage(t: Transition): NodeMessage {
  return {
    topic: t.kind,
    payload: { active: t.kind === 'start', event: t.event, ...(t.kind === 'end' ? { why: t.why } : {}) },
  };
}

export function listenerStatus(state: ListenerState, nowS: number): NodeStatus & { key: string } {
  if (state.activeId && state.event) return { fill: 'red', shape: 'dot', key: 'status.active' };
  if (state.event && nowS < state.event.start) return { fill: 'yellow', shape: 'ring', key: 'status.coming' };
  return { fill: 'green', shape: 'ring', key: 'status.none' };
}
