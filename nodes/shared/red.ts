/**
 * The small part of Node-RED's runtime API our nodes use, typed. `@types/node-red` is not a
 * dependency (Node-RED is only a peer), so these stay minimal and grow with what we call.
 */

export interface NodeMessage {
  _msgid?: string;
  topic?: string;
  payload?: unknown;
  [key: string]: unknown;
}

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export type SendFunction = (msg: NodeMessage | (NodeMessage | null)[] | null) => void;
export type DoneFunction = (err?: Error) => void;

export type InputHandler = (msg: NodeMessage, send: SendFunction, done: DoneFunction) => void | Promise<void>;
/** With two parameters Node-RED passes `removed` and waits for `done`; see its Node.close. */
export type CloseHandler = (removed: boolean, done: () => void) => void;

/** A node instance after `RED.nodes.createNode(this, def)`. */
export interface Node {
  readonly id: string;
  readonly type: string;
  readonly name?: string;
  on(event: 'input', handler: InputHandler): void;
  on(event: 'close', handler: CloseHandler): void;
  send(msg: NodeMessage | (NodeMessage | null)[] | null): void;
  status(status: NodeStatus): void;
  log(text: string): void;
  warn(text: string): void;
  error(text: string | Error, msg?: NodeMessage): void;
}

/** A node's saved configuration as the editor stores it (strings for most fields). */
export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
  [key: string]: unknown;
}

export interface NodeAPI {
  nodes: {
    createNode(node: Node, def: NodeDef): void;
    registerType(type: string, constructor: (this: Node, def: NodeDef) => void, opts?: object): void;
    getNode(id: string): Node | null;
  };
  /** Translates a message key of this node set's catalog (locales/<lang>/<type>.json). */
  _(key: string, substitutions?: Record<string, string | number>): string;
}
