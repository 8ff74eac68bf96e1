import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { registerGateway } from '../gateway/context';
import { ConfigError } from '../gateway/errors';
import { flowSource } from '../gateway/nodered/embedded';
import { currentConfigVersion } from '../nodes/shared/migrations';
import { NODE_TYPES, type NodeType } from '../nodes/types';
import hepekConfig from '../nodes/hepek-config/hepek-config';
import hepekMeterRead from '../nodes/hepek-meter-read/hepek-meter-read';
import hepekBalance from '../nodes/hepek-balance/hepek-balance';
import hepekRelay from '../nodes/hepek-relay/hepek-relay';
import { errorOf } from './helpers/assertions';
import { coreNode, helper, loggedErrors, until } from './helpers/node-red';
import { fakeGateway } from './helpers/fake-gateway';

const FLOWS_DIR = path.resolve(__dirname, '..', 'flows');
/** Node-RED core types our shipped flows may use. */
const CORE_TYPES = new Set([
  'tab',
  'comment',
  'debug',
  'inject',
  'catch',
  'status',
  'complete',
  'change',
  'switch',
]);
/** node-red-node-serialport's types (flows/p1-serial.json; a devDependency, see README). */
const SERIALPORT_TYPES = ['serial in', 'serial out', 'serial request', 'serial-port', 'serial control'];
const KNOWN_TYPES = new Set<string>([...CORE_TYPES, ...NODE_TYPES, ...SERIALPORT_TYPES]);

interface FlowNode {
  id: string;
  type: string;
  z?: string;
  wires?: string[][];
  config?: string;
  [key: string]: unknown;
}

const files = readdirSync(FLOWS_DIR).filter((f) => f.endsWith('.json'));

function loadFlow(file: string): FlowNode[] {
  return JSON.parse(readFileSync(path.join(FLOWS_DIR, file), 'utf8')) as FlowNode[];
}

// ---------------------------------------------------------------------------------------------
const shape = suite('flows/*.json');

shape('there is a default flow', () => {
  assert.ok(files.includes('default.json'));
});

shape('each flow parses, has unique ids and uses only known node types', () => {
  for (const file of files) {
    const flow = loadFlow(file);
    assert.ok(Array.isArray(flow), `${file} is an array of nodes`);
    const ids = flow.map((n) => n.id);
    assert.is(new Set(ids).size, ids.length, `${file}: ids are unique`);
    for (const n of flow) {
      assert.type(n.id, 'string', `${file}: every node has an id`);
      assert.ok(KNOWN_TYPES.has(n.type), `${file}: ${n.id} has unknown type ${n.type}`);
    }
  }
});

shape('wires, tabs and config references point at existing nodes', () => {
  for (const file of files) {
    const flow = loadFlow(file);
    const byId = new Map(flow.map((n) => [n.id, n]));
    for (const n of flow) {
      if (n.type === 'serial in')
        assert.is(byId.get(String(n.serial))?.type, 'serial-port', `${file}: ${n.id} uses a serial-port`);
      for (const target of (n.wires ?? []).flat())
        assert.ok(byId.has(target), `${file}: ${n.id} wires to ${target}`);
      if (n.z !== undefined) assert.is(byId.get(n.z)?.type, 'tab', `${file}: ${n.id} sits on a tab`);
      // hepek-meter-read reading raw bytes or its own meter needs no gateway; hepek-price-forecast runs its ONNX model on its own.
      const ownSource =
        n.type === 'hepek-meter-read' && ![undefined, '', 'gateway'].includes(n.source as string);
      if (
        n.type.startsWith('hepek-') &&
        n.type !== 'hepek-config' &&
        !ownSource &&
        n.type !== 'hepek-price-forecast'
      ) {
        assert.is(byId.get(n.config ?? '')?.type, 'hepek-config', `${file}: ${n.id} uses a hepek-config`);
      }
    }
  }
});

shape('each flow opens with a comment node saying what it shows', () => {
  for (const file of files) {
    const first = loadFlow(file).find((n) => n.type !== 'tab');
    assert.is(first?.type, 'comment', file);
    assert.ok(String(first?.name ?? '').length > 20, `${file}: the comment says something`);
  }
});

shape('every HEPEK node in a shipped flow is saved at its current config version', () => {
  for (const file of files)
    for (const n of loadFlow(file).filter((x) => x.type.startsWith('hepek-')))
      assert.is(
        (n as { configVersion?: unknown }).configVersion,
        currentConfigVersion(n.type as NodeType),
        `${file}: ${n.id}`,
      );
});

shape(
  'nodeRed.flow: "default" resolves to the shipped flow; a missing or non-array file is a ConfigError',
  () => {
    assert.is(flowSource('default'), path.join(FLOWS_DIR, 'default.json'));
    const dir = mkdtempSync(path.join(tmpdir(), 'hepek-flow-'));
    const missing = path.join(dir, 'missing.json');
    const missingErr = errorOf(() => flowSource(missing));
    assert.instance(missingErr, ConfigError);
    assert.match(
      missingErr.message,
      `nodeRed.flow: "${missing}" is not allowed; expected "default" or the path of an existing flow JSON file`,
    );
    const object = path.join(dir, 'object.json');
    writeFileSync(object, '{"id":"x"}');
    assert.match(
      errorOf(() => flowSource(object)).message,
      /nodeRed\.flow: .* the top level is not an array of nodes/,
    );
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '[{');
    assert.match(
      errorOf(() => flowSource(broken)).message,
      /nodeRed\.flow: .*a Node-RED flow file \(a JSON array of nodes\)/,
    );
  },
);

shape.run();

// ---------------------------------------------------------------------------------------------
const deploy = suite<{ unregister?: () => void }>('default flow in Node-RED');

deploy.before(() => helper.startServer());
deploy.after(() => helper.stopServer());
deploy.after.each(async (ctx) => {
  ctx.unregister?.();
  await helper.unload();
});

deploy('loads with the embedded gateway, logs no error, and drives the relay', async (ctx) => {
  const fake = fakeGateway(0.2);
  ctx.unregister = registerGateway(fake.context);
  const flow = loadFlow('default.json');
  await helper.load(
    [
      coreNode('90-comment.js'),
      coreNode('21-debug.js'),
      hepekConfig,
      hepekMeterRead,
      hepekBalance,
      hepekRelay,
    ],
    flow,
  );
  for (const n of flow) if (n.type !== 'tab') assert.ok(helper.getNode(n.id), `${n.id} is running`);

  fake.tick();
  await until(() => !fake.relay.state().on, 'the relay to open below the threshold');
  assert.is(fake.relay.state().reason, 'balance below threshold');

  fake.setErgon(5);
  fake.tick();
  await until(() => fake.relay.state().on, 'the relay to close after a top-up');
  assert.equal(loggedErrors(), []);
});

deploy.run();
