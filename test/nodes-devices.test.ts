/**
 * hepek-battery, hepek-thermostat and hepek-relay's device states through node-red-node-test-helper,
 * with the gateway's battery and thermostat built by the device registry on a manual clock; and
 * the example flows relay.json, battery.json and thermostat.json deployed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { registerGateway, type GatewayContext, type RelayState } from '../gateway/context';
import type { BatteryDevice, ThermostatDevice } from '../gateway/devices/api';
import { ManualClock } from '../gateway/devices/clock';
import { fromConfig } from '../gateway/devices/registry';
import hepekConfig from '../nodes/hepek-config/hepek-config';
import hepekRelay from '../nodes/hepek-relay/hepek-relay';
import hepekBattery from '../nodes/hepek-battery/hepek-battery';
import hepekThermostat from '../nodes/hepek-thermostat/hepek-thermostat';
import { parseBatteryCommand } from '../nodes/hepek-battery/logic';
import { parseThermostatCommand } from '../nodes/hepek-thermostat/logic';
import {
  AT,
  CATCH,
  CAUGHT,
  collect,
  CONFIG,
  coreNode,
  helper,
  lastStatus,
  loggedErrors,
  nextMessage,
  OUT,
  TAB,
  until,
} from './helpers/node-red';
import { fakeGateway, START } from './helpers/fake-gateway';

const NODES = [hepekConfig, hepekRelay, hepekBattery, hepekThermostat];
const MIN_OFF = 300_000;

function node(id: string, type: string, extra: Record<string, unknown> = {}) {
  return { id, type, z: 'f1', ...AT, config: 'cfg', configVersion: 1, ...extra, wires: [['out']] };
}

interface Ctx {
  clock: ManualClock;
  battery: BatteryDevice;
  thermostat: ThermostatDevice;
  unregister?: () => void;
}

/** A gateway with a simulated battery and thermostat on a manual clock; `devices: false` leaves them out. */
function register(ctx: Ctx, devices = true, relay?: GatewayContext['relay']): void {
  const fake = fakeGateway();
  ctx.clock = new ManualClock(START);
  ctx.battery = fromConfig(
    'battery',
    'simulated',
    { initialSocPct: 50, maxChargeW: 3000 },
    { clock: ctx.clock },
  );
  ctx.thermostat = fromConfig(
    'thermostat',
    'simulated',
    { minOffMs: MIN_OFF, minOnMs: 180_000 },
    { clock: ctx.clock },
  );
  ctx.unregister = registerGateway({
    ...fake.context,
    ...(relay ? { relay } : {}),
    ...(devices ? { battery: ctx.battery, thermostat: ctx.thermostat } : {}),
  });
}

function nodeSuite(name: string) {
  const s = suite<Ctx>(name, {} as Ctx);
  s.before(() => helper.startServer());
  s.after(() => helper.stopServer());
  s.after.each(async (ctx) => {
    ctx.unregister?.();
    await helper.unload();
    await ctx.battery?.close();
    await ctx.thermostat?.close();
  });
  return s;
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

// ---------------------------------------------------------------------------------------------
const battery = nodeSuite('hepek-battery');

battery('a power in W sets the setpoint; the limits clamp it; the state comes out', async (ctx) => {
  register(ctx);
  await helper.load(NODES, [TAB, CONFIG, node('bat', 'hepek-battery'), OUT]);
  const out = helper.getNode('out');
  let arrived = nextMessage(out);
  helper.getNode('bat').receive({ payload: 1500, reason: 'cheap hour' });
  let state = (await arrived).payload as { setpointW: number; reason: string; socPct: number };
  assert.is(state.setpointW, 1500);
  assert.is(state.reason, 'cheap hour');
  assert.is(state.socPct, 50);
  assert.equal(lastStatus(helper.getNode('bat')), {
    fill: 'green',
    shape: 'dot',
    text: 'hepek-battery.status.charging',
  });

  arrived = nextMessage(out);
  helper.getNode('bat').receive({ payload: { powerW: 9000 } });
  state = (await arrived).payload as typeof state;
  assert.is(state.setpointW, 3000);
  assert.is(state.reason, 'command (limited by maxChargeW)');

  arrived = nextMessage(out);
  helper.getNode('bat').receive({ payload: 'idle' });
  assert.is(((await arrived).payload as typeof state).setpointW, 0);
  assert.is(lastStatus(helper.getNode('bat'))?.text, 'hepek-battery.status.idle');
});

battery('bad payloads and a gateway without a battery go to Catch naming the field', async (ctx) => {
  register(ctx, false);
  await helper.load(NODES, [TAB, CONFIG, node('bat', 'hepek-battery'), OUT, CATCH, CAUGHT]);
  const out = collect(helper.getNode('out'));
  assert.is(lastStatus(helper.getNode('bat'))?.fill, 'red');
  let caught = nextMessage(helper.getNode('caught'));
  helper.getNode('bat').receive({ payload: 1000 });
  assert.match(
    ((await caught).error as { message: string }).message,
    'battery.type: "none" is not allowed; expected a battery in the gateway settings',
  );
  caught = nextMessage(helper.getNode('caught'));
  helper.getNode('bat').receive({ payload: 'charge' });
  assert.match(((await caught).error as { message: string }).message, 'msg.payload: "charge" is not allowed');
  assert.is(out.length, 0);
});

battery('parseBatteryCommand: table of accepted and refused payloads', () => {
  assert.equal(parseBatteryCommand(-800), { powerW: -800 });
  assert.equal(parseBatteryCommand(' 250 '), { powerW: 250 });
  assert.equal(parseBatteryCommand('STOP'), { powerW: 0 });
  assert.equal(parseBatteryCommand({ maxSocPct: 80 }), { maxSocPct: 80 });
  const refused: [unknown, string][] = [
    [
      { power: 5 },
      'msg.payload.power: 5 is not allowed; expected one of the fields powerW, minSocPct, maxSocPct',
    ],
    [{ powerW: '5' }, 'msg.payload.powerW: "5" is not allowed; expected a number of W'],
    [
      { minSocPct: 120 },
      'msg.payload.minSocPct: 120 is not allowed; expected a state of charge from 0 to 100 %',
    ],
    [{}, 'msg.payload: {} is not allowed'],
    [null, 'msg.payload: null is not allowed'],
  ];
  for (const [payload, message] of refused)
    assert.throws(
      () => parseBatteryCommand(payload),
      (err: Error) => err.message.startsWith(message),
      JSON.stringify(payload),
    );
});

battery.run();

// ---------------------------------------------------------------------------------------------
const thermostat = nodeSuite('hepek-thermostat');

thermostat(
  'on right after start is held by the minimum off time, then happens; the status follows',
  async (ctx) => {
    register(ctx);
    await helper.load(NODES, [TAB, CONFIG, node('ac', 'hepek-thermostat'), OUT]);
    const arrived = nextMessage(helper.getNode('out'));
    helper.getNode('ac').receive({ payload: { on: true, mode: 'cool', setpointC: 24 }, reason: 'too warm' });
    const state = (await arrived).payload as {
      on: boolean;
      setpointC: number;
      pending: { on: boolean; at: string } | null;
    };
    assert.is(state.on, false);
    assert.is(state.setpointC, 24);
    assert.equal(state.pending, { on: true, at: new Date(START + MIN_OFF).toISOString() });
    assert.equal(lastStatus(helper.getNode('ac')), {
      fill: 'yellow',
      shape: 'ring',
      text: 'hepek-thermostat.status.pending',
    });
    ctx.clock.advance(MIN_OFF);
    await flush();
    assert.is(ctx.thermostat.state().on, true);
    await until(
      () => lastStatus(helper.getNode('ac'))?.fill === 'blue',
      'the status to follow the deferred switch',
    );
  },
);

thermostat('a setpoint out of range and an unknown field go to Catch naming the field', async (ctx) => {
  register(ctx);
  await helper.load(NODES, [TAB, CONFIG, node('ac', 'hepek-thermostat'), OUT, CATCH, CAUGHT]);
  let caught = nextMessage(helper.getNode('caught'));
  helper.getNode('ac').receive({ payload: 45 });
  // Node-RED's Catch puts the error's toString() in msg.error.message: `InputError: …`.
  assert.is(
    ((await caught).error as { message: string }).message,
    'InputError: msg.payload.setpointC: 45 is not allowed; expected a temperature from 5 to 35 °C',
  );
  caught = nextMessage(helper.getNode('caught'));
  helper.getNode('ac').receive({ payload: { temp: 21 } });
  assert.is(
    ((await caught).error as { message: string }).message,
    'InputError: msg.payload.temp: 21 is not allowed; expected one of the fields on, mode, setpointC',
  );
  assert.is(ctx.thermostat.state().setpointC, 21, 'unchanged');
});

thermostat('parseThermostatCommand: table of accepted payloads', () => {
  assert.equal(parseThermostatCommand('ON'), { on: true });
  assert.equal(parseThermostatCommand(false), { on: false });
  assert.equal(parseThermostatCommand(22.5), { setpointC: 22.5 });
  assert.equal(parseThermostatCommand('heat'), { mode: 'heat' });
  assert.equal(parseThermostatCommand({ on: true, mode: 'auto' }), { on: true, mode: 'auto' });
  assert.throws(() => parseThermostatCommand({ mode: 'dry' }), /msg\.payload\.mode: "dry" is not allowed/);
});

thermostat('parseThermostatCommand: refused payloads name the field, the value and what is allowed', () => {
  const refused: [unknown, string][] = [
    [{ on: 'yes' }, 'msg.payload.on: "yes" is not allowed; expected true or false'],
    [{ setpointC: '21' }, 'msg.payload.setpointC: "21" is not allowed; expected a temperature in °C'],
    [{}, "msg.payload: {} is not allowed; expected true/false, 'on'/'off', a setpoint in °C"],
    ['warm', 'msg.payload: "warm" is not allowed'],
    [[true], 'msg.payload: [true] is not allowed'],
  ];
  for (const [payload, message] of refused)
    assert.throws(
      () => parseThermostatCommand(payload),
      (err: Error) => err.message.startsWith(message),
      JSON.stringify(payload),
    );
});

thermostat.run();

// ---------------------------------------------------------------------------------------------
const relay = nodeSuite('hepek-relay with a real relay state');

relay('a relay that does not answer shows a grey ring', async (ctx) => {
  let current: RelayState = {
    on: true,
    changedAt: new Date(START).toISOString(),
    reason: 'initial',
    available: true,
  };
  const listeners = new Set<(s: RelayState) => void>();
  const device = {
    kind: 'tasmota',
    state: () => ({ ...current }),
    set: async () => current,
    subscribe: (l: (s: RelayState) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  register(ctx, false, device);
  await helper.load(NODES, [TAB, CONFIG, node('relay', 'hepek-relay'), OUT]);
  assert.is(lastStatus(helper.getNode('relay'))?.fill, 'green');
  current = { ...current, available: false };
  for (const l of listeners) l(current);
  assert.equal(lastStatus(helper.getNode('relay')), {
    fill: 'grey',
    shape: 'ring',
    text: 'hepek-relay.status.unavailable',
  });
});

relay.run();

// ---------------------------------------------------------------------------------------------
const flows = nodeSuite('example flows: relay, battery, thermostat');
const FLOWS = path.resolve(__dirname, '..', 'flows');
const CORE = [coreNode('90-comment.js'), coreNode('21-debug.js'), coreNode('20-inject.js')];

for (const [file, inject, check] of [
  ['relay.json', 'hepek-relay-off', (ctx: Ctx, fake: () => boolean) => fake()],
  ['battery.json', 'hepek-battery-charge', (ctx: Ctx) => ctx.battery.state().setpointW === 2000],
  ['thermostat.json', 'hepek-thermostat-on', (ctx: Ctx) => ctx.thermostat.state().pending?.on === true],
] as const) {
  flows(`${file} loads, logs no error, and its first inject drives the device`, async (ctx) => {
    const fake = fakeGateway();
    ctx.clock = new ManualClock(START);
    ctx.battery = fromConfig('battery', 'simulated', {}, { clock: ctx.clock });
    ctx.thermostat = fromConfig('thermostat', 'simulated', {}, { clock: ctx.clock });
    ctx.unregister = registerGateway({ ...fake.context, battery: ctx.battery, thermostat: ctx.thermostat });
    const flow = JSON.parse(readFileSync(path.join(FLOWS, file), 'utf8')) as { id: string; type: string }[];
    await helper.load([...CORE, ...NODES], flow);
    for (const n of flow) if (n.type !== 'tab') assert.ok(helper.getNode(n.id), `${n.id} is running`);
    helper.getNode(inject).receive({});
    await until(() => check(ctx, () => fake.relay.state().on === false), `${inject} to reach the device`);
    assert.equal(loggedErrors(), []);
  });
}

flows.run();
