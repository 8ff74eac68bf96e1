/**
 * The one way a node reports a failed message: a red status saying what went wrong and
 * `done(err)`, which logs it and hands it to any Catch node on the flow (the message is kept).
 */
import type { DoneFunction, Node } from './red';

const STATUS_MAX = 60;

export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A status line short enough for the editor, from an error's message. */
export function statusText(err: Error): string {
  const text = err.message.replace(/\s+/g, ' ');
  return text.length > STATUS_MAX ? `${text.slice(0, STATUS_MAX - 1)}…` : text;
}

export function failInput(node: Node, err: unknown, done: DoneFunction): void {
  const error = toError(err);
  node.status({ fill: 'red', shape: 'ring', text: statusText(error) });
  done(error);
}

/** For failures outside a message (at start-up, in a subscription): red status and the log. */
export function failOutsideInput(node: Node, err: unknown): void {
  const error = toError(err);
  node.status({ fill: 'red', shape: 'ring', text: statusText(error) });
  node.error(error);
}

/**
 * A node's settings, normalised once from its definition. A bad definition shows on the node at
 * deploy (red status, log) and fails every message with that same error, naming the field.
 */
export function settingsOnce<S>(node: Node, normalise: () => S): () => S {
  try {
    const settings = normalise();
    return () => settings;
  } catch (err) {
    const failure = toError(err);
    failOutsideInput(node, failure);
    return () => {
      throw failure;
    };
  }
}
