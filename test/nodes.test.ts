import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { registerGateway } from '../gateway/context';
import { ConfigError, DeviceUnavailableError } from '../gateway/errors';
import { currentConfigVersion, migrateConfig } from '../nodes/shared/migrations';
import { NODE_FILES, NODE_TYPES, nodeSource } from '../nodes/types';
import type { NodeMessage } from '../nodes/shared/red';
import hepekConfig from '../nodes/hepek-config/hepek-config';
import hepekMeterRead from '../nodes/hepek-meter-read/hepek-meter-read';
import hepekBalance from '../nodes/hepek-balance/hepek-balance';
import hepekRelay from '../nodes/hepek-relay/hepek-relay';
import {
  AT,
  CATCH,
  CAUGHT,
  collect,
  CONFIG,
  helper,
  lastStatus,
  loggedErrors,
  nextMessage,
  OUT,
  TAB,
  until,
} from './helpers/node-red';
import { fakeGateway, WALLET, type Fake } from './helpers/fake-gateway';

const ROOT = path.resolve(__dirname, '..');
const NODES = [hepekConfig, hepekMeterRead, hepekBalance, hepekRelay];

function node(id: string, type: string, extra: Record<string, unknown> = {}, wires: string[] = ['out']) {
  return { id, type, z: 'f1', ...AT, config: 'cfg', ...extra, wires: [wires] };
}

/** One suite per node type, each with a fresh embedded gateway and a clean runtime. */
function nodeSuite(name: string, options: { embedded?: boolean } = { embedded: true }) {
  const s = suite<{ fake: Fake; unregister?: () => void }>(name, {} as { fake: Fake });
  s.before(() => helper.startServer());
  s.after(() => helper.stopServer());
  s.before.each((ctx) => {
    ctx.fake = fakeGateway();
    if (options.embedded) ctx.unregister = registerGateway(ctx.fake.context);
  });
  s.after.each(async (ctx) => {
    ctx.unregister?.();
    await helper.unload();
  });
  return s;
}

// ---------------------------------------------------------------------------------------------
const meterRead = nodeSuite('hepek-meter-read');

meterRead('sends each new reading as {topic: meter, payload}', async ({ fake }) => {
  await helper.load(NODES, [TAB, CONFIG, node('meter', 'hepek-meter-read'), OUT]);
  const out = helper.getNode('out');
  for (let i = 0; i < 2; i++) {
    const arrived = nextMessage(out);
    const reading = fake.tick();
    const msg = await arrived;
    assert.is(msg.topic, 'meter');
    assert.equal(msg.payload, reading);
  }
  assert.is(lastStatus(helper.getNode('meter'))?.shape, 'dot');
});

meterRead('any input polls the newest reading, keeping the message', async ({ fake }) => {
  await helper.load(NODES, [TAB, CONFIG, node('meter', 'hepek-meter-read'), OUT]);
  const out = helper.getNode('out');
  const pushed = nextMessage(out);
  const reading = fake.tick();
  await pushed;
  const polled = nextMessage(out);
  helper.getNode('meter').receive({ payload: 'tick', requestId: 7 });
  const msg = await polled;
  assert.equal(msg.payload, reading);
  assert.is(msg.topic, 'meter');
  assert.is(msg.requestId, 7);
});

meterRead('a poll before the first reading goes to Catch', async () => {
  await helper.load(NODES, [TAB, CONFIG, node('meter', 'hepek-meter-read'), OUT, CATCH, CAUGHT]);
  const out = collect(helper.getNode('out'));
  const caught = nextMessage(helper.getNode('caught'));
  helper.getNode('meter').receive({ payload: 1 });
  const msg = await caught;
  assert.match((msg.error as { message: string }).message, 'has not produced a reading yet');
  assert.is(out.length, 0);
});

meterRead.run();

// ---------------------------------------------------------------------------------------------
const balance = nodeSuite('hepek-balance');

balance('above the threshold: payload true, msg.balance and msg.reading set', async ({ fake }) => {
  fake.setErgon(5);
  await helper.load(NODES, [TAB, CONFIG, node('bal', 'hepek-balance'), OUT]);
  const arrived = nextMessage(helper.getNode('out'));
  helper.getNode('bal').receive({ payload: { powerW: 300 } });
  const msg = await arrived;
  assert.is(msg.payload, true);
  assert.equal(msg.reading, { powerW: 300 });
  const report = msg.balance as Record<string, unknown>;
  assert.is(report.spendableErgon, 5);
  assert.is(report.lowThresholdErgon, 1, "the gateway's default threshold");
  assert.is(report.belowThreshold, false);
  assert.is(report.wallet, WALLET);
  assert.is(report.channelUnspentWei, '0');
  assert.is(lastStatus(helper.getNode('bal'))?.fill, 'green');
});

balance("below the node's own threshold: payload false", async ({ fake }) => {
  fake.setErgon(5);
  await helper.load(NODES, [TAB, CONFIG, node('bal', 'hepek-balance', { lowThresholdErgon: '10' }), OUT]);
  const arrived = nextMessage(helper.getNode('out'));
  helper.getNode('bal').receive({ payload: null });
  const msg = await arrived;
  assert.is(msg.payload, false);
  assert.is((msg.balance as { lowThresholdErgon: number }).lowThresholdErgon, 10);
  assert.is(lastStatus(helper.getNode('bal'))?.fill, 'red');
});

balance('hysteresis: once below, stays below until threshold + hysteresis', async ({ fake }) => {
  await helper.load(NODES, [TAB, CONFIG, node('bal', 'hepek-balance', { hysteresisErgon: '0.5' }), OUT]);
  const steps: [ergon: number, keepOn: boolean][] = [
    [0.9, false],
    [1.2, false],
    [1.5, true],
    [1.2, true],
    [0.99, false],
  ];
  for (const [ergon, keepOn] of steps) {
    fake.setErgon(ergon);
    const arrived = nextMessage(helper.getNode('out'));
    helper.getNode('bal').receive({ payload: ergon });
    assert.is((await arrived).payload, keepOn, `${ergon} ERGON`);
  }
});

balance('an RPC failure goes to Catch with a red status and no output', async ({ fake }) => {
  fake.fail(
    new DeviceUnavailableError('http://127.0.0.1:8545', 'cannot read the ERGON balance: ECONNREFUSED'),
  );
  await helper.load(NODES, [TAB, CONFIG, node('bal', 'hepek-balance'), OUT, CATCH, CAUGHT]);
  const out = collect(helper.getNode('out'));
  const caught = nextMessage(helper.getNode('caught'));
  helper.getNode('bal').receive({ payload: 1 });
  const msg = await caught;
  assert.match((msg.error as { message: string }).message, 'http://127.0.0.1:8545');
  assert.is(out.length, 0);
  assert.is(lastStatus(helper.getNode('bal'))?.fill, 'red');
});

balance.run();

// ---------------------------------------------------------------------------------------------
const relay = nodeSuite('hepek-relay');

relay('switches on true, "off" and {on: false}, sending the state each time', async ({ fake }) => {
  await helper.load(NODES, [TAB, CONFIG, node('relay', 'hepek-relay'), OUT]);
  const out = helper.getNode('out');
  const cases: [name: string, msg: NodeMessage, on: boolean, reason: string][] = [
    ['boolean false', { payload: false }, false, 'command'],
    ['boolean true', { payload: true, reason: 'top-up' }, true, 'top-up'],
    ["'off'", { payload: 'off' }, false, 'command'],
    ['{on:false} when already open', { payload: { on: false }, reason: 'ignored' }, false, 'command'],
  ];
  for (const [name, msg, on, reason] of cases) {
    const arrived = nextMessage(out);
    helper.getNode('relay').receive(msg);
    const state = (await arrived).payload as { on: boolean; reason: string };
    assert.is(state.on, on, name);
    assert.is(state.reason, reason, name);
    assert.is(fake.relay.state().on, on, name);
  }
  assert.equal(lastStatus(helper.getNode('relay')), {
    fill: 'red',
    shape: 'ring',
    text: 'hepek-relay.status.off',
  });
});

relay('a node saved by a newer HEPEK is refused with configVersion named, via Catch', async () => {
  await helper.load(NODES, [
    TAB,
    CONFIG,
    node('relay', 'hepek-relay', { configVersion: 99 }),
    OUT,
    CATCH,
    CAUGHT,
  ]);
  const caught = nextMessage(helper.getNode('caught'));
  helper.getNode('relay').receive({ payload: true });
  const message = ((await caught).error as { message: string }).message;
  assert.match(message, 'configVersion: 99 is not allowed; expected at most 1');
  assert.match(message, 'saved by a newer HEPEK');
  assert.is(lastStatus(helper.getNode('relay'))?.fill, 'red');
});

relay('rejects "maybe" naming msg.payload, via Catch, with no output', async ({ fake }) => {
  await helper.load(NODES, [TAB, CONFIG, node('relay', 'hepek-relay'), OUT, CATCH, CAUGHT]);
  const out = collect(helper.getNode('out'));
  const caught = nextMessage(helper.getNode('caught'));
  helper.getNode('relay').receive({ payload: 'maybe' });
  const message = ((await caught).error as { message: string }).message;
  assert.match(message, 'msg.payload: "maybe" is not allowed');
  assert.match(message, "'on'/'off'");
  assert.is(out.length, 0);
  assert.is(fake.relay.state().on, true, 'relay untouched');
  assert.is(lastStatus(helper.getNode('relay'))?.fill, 'red');
});

relay('without a Catch node, bad payloads are logged naming msg.payload and the value', async () => {
  await helper.load(NODES, [TAB, CONFIG, node('relay', 'hepek-relay'), OUT]);
  const out = collect(helper.getNode('out'));
  const cases: [name: string, payload: unknown, shown: string][] = [
    ['a word', 'maybe', '"maybe"'],
    ['another number', 2, '2'],
    ['null', null, 'null'],
    ['{on} not boolean', { on: 'yes' }, '{"on":"yes"}'],
  ];
  for (const [name, payload, shown] of cases) {
    helper.getNode('relay').receive({ payload });
    await until(() => loggedErrors().some((e) => e.includes(`msg.payload: ${shown} is not allowed`)), name);
  }
  assert.is(out.length, 0);
});

relay('the status follows a switch made elsewhere', async ({ fake }) => {
  await helper.load(NODES, [TAB, CONFIG, node('relay', 'hepek-relay'), OUT]);
  const relayNode = helper.getNode('relay');
  assert.is(lastStatus(relayNode)?.fill, 'green');
  await fake.relay.set(false, 'billing loop');
  assert.is(lastStatus(relayNode)?.fill, 'red');
});

relay.run();

// ---------------------------------------------------------------------------------------------
const config = nodeSuite('hepek-config', { embedded: false });

config('blank rpcUrl and no gateway in the process: a clear error naming rpcUrl', async () => {
  await helper.load(NODES, [TAB, CONFIG, node('relay', 'hepek-relay'), OUT, CATCH, CAUGHT]);
  const relayNode = helper.getNode('relay');
  assert.is(lastStatus(relayNode)?.fill, 'red');
  assert.match(lastStatus(relayNode)?.text ?? '', 'rpcUrl');
  const caught = nextMessage(helper.getNode('caught'));
  relayNode.receive({ payload: true });
  const message = ((await caught).error as { message: string }).message;
  assert.match(message, 'rpcUrl');
  assert.match(message, 'no HEPEK gateway runs in this process');
});

config('a bad tokenAddress is an error naming tokenAddress', async () => {
  const bad = { ...CONFIG, rpcUrl: 'http://127.0.0.1:1', tokenAddress: '0x1234', wallet: WALLET };
  await helper.load(NODES, [TAB, bad, node('bal', 'hepek-balance'), OUT, CATCH, CAUGHT]);
  assert.ok(
    loggedErrors().some((e) => e.startsWith('tokenAddress: "0x1234"')),
    'logged at start',
  );
  const caught = nextMessage(helper.getNode('caught'));
  helper.getNode('bal').receive({ payload: 1 });
  assert.match(((await caught).error as { message: string }).message, 'tokenAddress');
});

config('a node without a config says so', async () => {
  await helper.load(NODES, [TAB, node('relay', 'hepek-relay', { config: '' }), CATCH, CAUGHT]);
  const caught = nextMessage(helper.getNode('caught'));
  helper.getNode('relay').receive({ payload: true });
  assert.match(((await caught).error as { message: string }).message, /config: .*hepek-config/);
});

config('standalone: own simulated meter, and an unreachable RPC names its URL', async () => {
  const standalone = {
    ...CONFIG,
    rpcUrl: 'http://127.0.0.1:1',
    chainId: '31337',
    tokenAddress: '0x' + '11'.repeat(20),
    wallet: WALLET,
    intervalMs: '20',
  };
  await helper.load(NODES, [
    TAB,
    standalone,
    node('meter', 'hepek-meter-read', {}, ['readings']),
    { id: 'readings', type: 'helper', z: 'f1', ...AT, wires: [] },
    node('bal', 'hepek-balance'),
    OUT,
    CATCH,
    CAUGHT,
  ]);
  const reading = (await nextMessage(helper.getNode('readings'))).payload as { importWh: number };
  assert.type(reading.importWh, 'number');
  const caught = nextMessage(helper.getNode('caught'), 5000);
  helper.getNode('bal').receive({ payload: 1 });
  const message = ((await caught).error as { message: string }).message;
  assert.match(message, 'http://127.0.0.1:1');
  assert.match(message, 'ECONNREFUSED');
});

config.run();

// ---------------------------------------------------------------------------------------------
const chain = nodeSuite('meter → balance → relay');

chain('a reading below the threshold opens the relay', async ({ fake }) => {
  fake.setErgon(0.4);
  await helper.load(NODES, [
    TAB,
    CONFIG,
    node('meter', 'hepek-meter-read', {}, ['bal']),
    node('bal', 'hepek-balance', {}, ['relay']),
    node('relay', 'hepek-relay'),
    OUT,
  ]);
  const arrived = nextMessage(helper.getNode('out'));
  const reading = fake.tick();
  const msg = await arrived;
  assert.equal(msg.payload, fake.relay.state());
  assert.is(fake.relay.state().on, false);
  assert.is(fake.relay.state().reason, 'balance below threshold');
  assert.equal(msg.reading, reading);
  // and a top-up closes it again on the next reading
  fake.setErgon(3);
  const again = nextMessage(helper.getNode('out'));
  fake.tick();
  await again;
  await until(() => fake.relay.state().on, 'the relay to close');
  assert.is(fake.relay.state().reason, 'balance above threshold');
});

chain.run();

// ---------------------------------------------------------------------------------------------
const registry = suite('node type registry');

registry("package.json's node-red.nodes equals nodes/types.ts", () => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    'node-red': { nodes: Record<string, string> };
  };
  assert.equal(pkg['node-red'].nodes, { ...NODE_FILES });
});

registry('every type has its wrapper, editor html with help, and an en-US catalog', () => {
  for (const type of NODE_TYPES) {
    const dir = path.join(ROOT, 'nodes', type);
    assert.ok(existsSync(path.join(ROOT, nodeSource(type))), `${type}.ts`);
    assert.ok(existsSync(path.join(dir, 'logic.ts')), `${type}/logic.ts`);
    const html = readFileSync(path.join(dir, `${type}.html`), 'utf8');
    assert.ok(html.includes(`registerType('${type}'`), `${type}.html registers the type`);
    assert.ok(html.includes(`data-template-name="${type}"`), `${type}.html has an edit form`);
    assert.ok(html.includes(`data-help-name="${type}"`), `${type}.html has help`);
    assert.ok(
      html.includes(`configVersion: { value: ${currentConfigVersion(type)} }`),
      `${type}.html saves configVersion ${currentConfigVersion(type)}`,
    );
    const catalog = JSON.parse(readFileSync(path.join(dir, 'locales', 'en-US', `${type}.json`), 'utf8'));
    assert.type(catalog[type], 'object', `${type}.json is keyed by the type`);
    // every data-i18n key the form uses exists in the catalog
    for (const match of html.matchAll(/data-i18n="(?:\[\w+\])?([\w.-]+)"/g)) {
      const value = match[1]
        .split('.')
        .reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], catalog);
      assert.type(value, 'string', `${type}: ${match[1]}`);
    }
  }
});

registry('configs migrate: unversioned ones are brought to the current version, bad ones named', () => {
  for (const type of NODE_TYPES) {
    const current = currentConfigVersion(type);
    const migrated = migrateConfig(type, { id: 'n1', type, name: 'kept' });
    assert.is(migrated.configVersion, current, type);
    assert.is(migrated.name, 'kept', `${type} keeps its fields`);
    assert.is(migrateConfig(type, { id: 'n1', type, configVersion: String(current) }).configVersion, current);
    for (const bad of [-1, 1.5, 'x', current + 1])
      assert.throws(
        () => migrateConfig(type, { id: 'n1', type, configVersion: bad }),
        (err: unknown) => err instanceof ConfigError && err.field === 'configVersion',
        `${type} refuses configVersion ${String(bad)}`,
      );
  }
});

registry.run();
