/**
 * Typed access to node-red-node-test-helper (it ships no types) and small waiting utilities, so
 * node tests wait for events with a bound instead of sleeping.
 */
import type { NodeMessage } from '../../nodes/shared/red';

export interface TestNode {
  id: string;
  type: string;
  on(event: 'input', listener: (msg: NodeMessage) => void): void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  removeListener(event: string, listener: (...args: unknown[]) => void): void;
  receive(msg: NodeMessage): void;
  status(s: object): void;
  [key: string]: unknown;
}

interface LogSpy {
  args: { level: number; id?: string; type?: string; msg: unknown }[][];
  ERROR: number;
  WARN: number;
}

export interface TestHelper {
  init(runtimePath: string, userSettings?: object): void;
  load(nodes: unknown, flow: object[], credentials?: object): Promise<void>;
  unload(): Promise<void>;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  getNode(id: string): TestNode;
  log(): LogSpy;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const helper = require('node-red-node-test-helper') as TestHelper;
helper.init(require.resolve('node-red'));

/** Node-RED's core nodes, for flows that use them (the helper preloads only catch/status/complete). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const coreNode = (file: string): unknown => require(`@node-red/nodes/core/common/${file}`);

/** Node-RED's core function-category nodes (switch, change). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const functionNode = (file: string): unknown => require(`@node-red/nodes/core/function/${file}`);

/** Flow nodes need x and y: Node-RED treats a node without a position as a config node. */
export const AT = { x: 100, y: 100 };

/** The one tab (id `f1`) every node test's flow lives on. */
export const flowTab = (label: string) => ({ id: 'f1', type: 'tab', label });
export const TAB = flowTab('test');

/** The hepek-config node the nodes under test point at (`config: 'cfg'`). */
export const CONFIG = { id: 'cfg', type: 'hepek-config', name: 'gateway', rpcUrl: '' };

/** The helper node the node under test is wired to (`wires: [['out']]`). */
export const OUT = { id: 'out', type: 'helper', z: 'f1', ...AT, wires: [] };

/** A catch node for the whole tab, wired to CAUGHT: what a user's Catch node would see. */
export const CATCH = {
  id: 'catch',
  type: 'catch',
  z: 'f1',
  ...AT,
  scope: null,
  uncaught: false,
  wires: [['caught']],
};
export const CAUGHT = { id: 'caught', type: 'helper', z: 'f1', ...AT, wires: [] };

/** Resolves with the next message a node receives, or rejects after `timeoutMs`. */
export function nextMessage(node: TestNode, timeoutMs = 2000): Promise<NodeMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      node.removeListener('input', listener as (...args: unknown[]) => void);
      reject(new Error(`no message at ${node.id} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (msg: NodeMessage): void => {
      clearTimeout(timer);
      node.removeListener('input', listener as (...args: unknown[]) => void);
      resolve(msg);
    };
    node.on('input', listener);
  });
}

/** Collects every message a node receives (for asserting that nothing else arrived). */
export function collect(node: TestNode): NodeMessage[] {
  const seen: NodeMessage[] = [];
  node.on('input', (msg: NodeMessage) => seen.push(msg));
  return seen;
}

/** Waits until `predicate` holds, checking after each macrotask; rejects after `timeoutMs`. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The text of every error Node-RED logged since the flow was loaded. */
export function loggedErrors(): string[] {
  const log = helper.log();
  return log.args
    .map((call) => call[0])
    .filter((entry) => entry.level === log.ERROR)
    .map((entry) => (entry.msg instanceof Error ? entry.msg.message : String(entry.msg)));
}

interface SpyCall {
  thisValue: unknown;
  args: unknown[];
}

export interface StatusShown {
  fill?: string;
  shape?: string;
  text?: string;
}

/** Every status this node set (the helper spies on Node.prototype, shared by all nodes). */
export function statuses(node: TestNode): StatusShown[] {
  const spy = node.status as unknown as { getCalls(): SpyCall[] };
  return spy
    .getCalls()
    .filter((call) => call.thisValue === node)
    .map((call) => call.args[0] as StatusShown);
}

export function lastStatus(node: TestNode): StatusShown | undefined {
  return statuses(node).at(-1);
}
