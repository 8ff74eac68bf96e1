/**
 * Relays and thermostats through Debian's real `mosquitto`, with MQTT clients playing a Tasmota
 * plug and a Shelly Gen2 switch: command round trips, state echoes, changes made at the device,
 * last wills and devices that do not answer.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt, { type MqttClient } from 'mqtt';
import type { RelayDevice, RelayState, ThermostatDevice } from '../gateway/devices/api';
import { fromConfig } from '../gateway/devices/registry';
import { DeviceUnavailableError } from '../gateway/errors';
import { startMosquitto, type Mosquitto } from './helpers/mosquitto';
import { fakeShelly, fakeTasmota, type FakeShelly, type FakeTasmota } from './helpers/fake-mqtt-devices';

interface Ctx {
  broker: Mosquitto;
  gateway: MqttClient;
  tasmota?: FakeTasmota;
  shelly?: FakeShelly;
  relay?: RelayDevice & { close?: () => Promise<void> };
  thermostat?: ThermostatDevice;
  logs: string[];
}

/** Resolves when the device's state satisfies `ok` (checked now and on every change). */
function stateWhere<S>(
  device: { state(): S; subscribe(l: (s: S) => void): () => void },
  ok: (s: S) => boolean,
  what: string,
  ms = 3000,
): Promise<S> {
  return new Promise((resolve, reject) => {
    if (ok(device.state())) return resolve(device.state());
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}; state ${JSON.stringify(device.state())}`));
    }, ms);
    const off = device.subscribe((s) => {
      if (!ok(s)) return;
      clearTimeout(timer);
      off();
      resolve(s);
    });
  });
}

function mqttSuite(name: string) {
  const s = suite<Ctx>(name, {} as Ctx);
  s.before(async (ctx) => {
    ctx.broker = await startMosquitto();
  });
  s.after(async (ctx) => {
    await ctx.broker.stop();
  });
  s.before.each(async (ctx) => {
    ctx.logs = [];
    ctx.gateway = await mqtt.connectAsync(ctx.broker.url, {
      clientId: `hepek-gateway-test-${Math.random()}`,
    });
  });
  s.after.each(async (ctx) => {
    await ctx.relay?.close?.();
    await ctx.thermostat?.close();
    await ctx.tasmota?.close();
    await ctx.shelly?.close();
    // Optional: a before.each that failed leaves no client, and uvu would hide that failure behind this one.
    await ctx.gateway?.endAsync();
    Object.assign(ctx, { relay: undefined, thermostat: undefined, tasmota: undefined, shelly: undefined });
  });
  return s;
}

const deps = (ctx: Ctx) => ({ mqtt: ctx.gateway, log: (t: string) => ctx.logs.push(t) });

// ---------------------------------------------------------------------------------------------
const tasmota = mqttSuite('relay on a Tasmota plug');

tasmota('learns the state on start (empty POWER query), then a command round trip', async (ctx) => {
  ctx.tasmota = await fakeTasmota(ctx.broker.url, 'plug1', false);
  ctx.relay = fromConfig('relay', 'tasmota', { topic: 'plug1', commandTimeoutMs: 2000 }, deps(ctx));
  await stateWhere(
    ctx.relay,
    (s: RelayState) => s.reason === 'initial' && s.available === true,
    'the reported state',
  );
  assert.is(ctx.relay.state().on, false);
  assert.equal(ctx.tasmota.commands, [''], 'a query, no switching');

  const state = await ctx.relay.set(true, 'balance above threshold');
  assert.equal(ctx.tasmota.commands, ['', 'ON']);
  assert.is(ctx.tasmota.on, true);
  assert.is(state.on, true);
  assert.is(state.reason, 'balance above threshold');
  assert.is(state.available, true);

  const off = await ctx.relay.set(false, 'balance below threshold');
  assert.is(off.on, false);
  assert.equal(ctx.tasmota.commands, ['', 'ON', 'OFF']);
});

tasmota('a press on the device button is followed, with reason "changed at the device"', async (ctx) => {
  ctx.tasmota = await fakeTasmota(ctx.broker.url, 'plug2', true);
  ctx.relay = fromConfig('relay', 'tasmota', { topic: 'plug2' }, deps(ctx));
  await stateWhere(
    ctx.relay,
    (s: RelayState) => s.available === true && s.reason === 'initial',
    'the reported state',
  );
  await ctx.tasmota.press(false);
  const state = await stateWhere(ctx.relay, (s: RelayState) => s.on === false, 'the echo of the press');
  assert.is(state.reason, 'changed at the device');
});

tasmota('LWT Offline: unavailable, and a command fails at once naming the LWT topic', async (ctx) => {
  ctx.tasmota = await fakeTasmota(ctx.broker.url, 'plug3', true);
  ctx.relay = fromConfig('relay', 'tasmota', { topic: 'plug3' }, deps(ctx));
  await stateWhere(ctx.relay, (s: RelayState) => s.available === true, 'online');
  await ctx.tasmota.goOffline();
  await stateWhere(ctx.relay, (s: RelayState) => s.available === false, 'offline');
  const err = await ctx.relay.set(false, 'test').then(
    () => null,
    (e: unknown) => e as Error,
  );
  assert.instance(err, DeviceUnavailableError);
  assert.is(err!.message, 'tasmota plug3: is offline (tele/plug3/LWT says Offline)');
  assert.is(ctx.relay.state().on, true, 'state unchanged');
});

tasmota(
  'a device that does not confirm: DeviceUnavailableError after the timeout, state unchanged',
  async (ctx) => {
    ctx.tasmota = await fakeTasmota(ctx.broker.url, 'plug4', true);
    ctx.relay = fromConfig('relay', 'tasmota', { topic: 'plug4', commandTimeoutMs: 300 }, deps(ctx));
    await stateWhere(ctx.relay, (s: RelayState) => s.available === true, 'online');
    ctx.tasmota.answering = false;
    const err = await ctx.relay.set(false, 'test').then(
      () => null,
      (e: unknown) => e as Error,
    );
    assert.instance(err, DeviceUnavailableError);
    assert.is(err!.message, 'tasmota plug4: did not confirm POWER OFF on stat/plug4/POWER within 300 ms');
    assert.is(ctx.relay.state().on, true);
  },
);

tasmota('channel 2 of a multi-relay device uses POWER2', async (ctx) => {
  const client = await mqtt.connectAsync(ctx.broker.url);
  const seen: string[] = [];
  client.on('message', (topic, payload) => {
    seen.push(`${topic} ${payload.toString()}`);
    if (payload.toString() === 'ON') void client.publishAsync('stat/strip/POWER2', 'ON');
  });
  await client.subscribeAsync('cmnd/strip/#');
  try {
    ctx.relay = fromConfig(
      'relay',
      'tasmota',
      { topic: 'strip', channel: 2, commandTimeoutMs: 2000 },
      deps(ctx),
    );
    const state = await ctx.relay.set(true, 'test');
    assert.is(state.on, true);
    assert.ok(seen.includes('cmnd/strip/POWER2 ON'), JSON.stringify(seen));
  } finally {
    await client.endAsync();
  }
});

tasmota.run();

// ---------------------------------------------------------------------------------------------
const shelly = mqttSuite('relay on a Shelly Gen2 switch');

shelly('Switch.GetStatus on start, Switch.Set round trip with the status echo', async (ctx) => {
  ctx.shelly = await fakeShelly(ctx.broker.url, 'shellyplus1-a8032ab1', true);
  ctx.relay = fromConfig(
    'relay',
    'shelly',
    { prefix: 'shellyplus1-a8032ab1', src: 'hepek-test', commandTimeoutMs: 2000 },
    deps(ctx),
  );
  await stateWhere(
    ctx.relay,
    (s: RelayState) => s.reason === 'initial' && s.available === true,
    'the reported state',
  );
  assert.is(ctx.relay.state().on, true);
  assert.is(ctx.shelly.requests[0]?.method, 'Switch.GetStatus');

  const state = await ctx.relay.set(false, 'balance below threshold');
  assert.is(state.on, false);
  assert.is(ctx.shelly.on, false);
  const request = ctx.shelly.requests.find((r) => r.method === 'Switch.Set');
  assert.equal(request?.params, { id: 0, on: false });
  assert.is(request?.src, 'hepek-test');
});

shelly('a NotifyStatus from the device (button) is followed', async (ctx) => {
  ctx.shelly = await fakeShelly(ctx.broker.url, 'shelly-b', false);
  ctx.relay = fromConfig('relay', 'shelly', { prefix: 'shelly-b' }, deps(ctx));
  await stateWhere(
    ctx.relay,
    (s: RelayState) => s.available === true && s.on === false,
    'the reported state',
  );
  await ctx.shelly.press(true);
  const state = await stateWhere(ctx.relay, (s: RelayState) => s.on === true, 'the press');
  assert.is(state.reason, 'changed at the device');
});

shelly('an RPC error and a device that does not answer are DeviceUnavailableErrors', async (ctx) => {
  ctx.shelly = await fakeShelly(ctx.broker.url, 'shelly-c', false);
  ctx.relay = fromConfig(
    'relay',
    'shelly',
    { prefix: 'shelly-c', src: 'hepek-c', commandTimeoutMs: 300 },
    deps(ctx),
  );
  await stateWhere(ctx.relay, (s: RelayState) => s.available === true, 'online');
  ctx.shelly.failWith = { code: -103, message: 'Resource busy' };
  const refused = await ctx.relay.set(true, 'test').then(
    () => null,
    (e: unknown) => e as Error,
  );
  assert.is(refused?.message, 'shelly shelly-c: refused the request: error -103 Resource busy');
  ctx.shelly.failWith = null;
  ctx.shelly.answering = false;
  const silent = await ctx.relay.set(true, 'test').then(
    () => null,
    (e: unknown) => e as Error,
  );
  assert.instance(silent, DeviceUnavailableError);
  assert.is(silent!.message, 'shelly shelly-c: did not answer Switch.Set on hepek-c/rpc within 300 ms');
  assert.is(ctx.relay.state().on, false);
});

shelly('online=false (the last will) makes it unavailable', async (ctx) => {
  ctx.shelly = await fakeShelly(ctx.broker.url, 'shelly-d', false);
  ctx.relay = fromConfig('relay', 'shelly', { prefix: 'shelly-d' }, deps(ctx));
  await stateWhere(ctx.relay, (s: RelayState) => s.available === true, 'online');
  // Ending the connection without a DISCONNECT makes the broker publish the will.
  ctx.shelly.client.stream.destroy();
  await stateWhere(ctx.relay, (s: RelayState) => s.available === false, 'the will');
  await ctx.shelly.client.endAsync(true);
  ctx.shelly = undefined;
});

shelly.run();

// ---------------------------------------------------------------------------------------------
const thermostat = mqttSuite('thermostat on MQTT');

thermostat(
  'an AC on a Tasmota plug: on round trip, SENSOR temperature, minimum off time on restart',
  async (ctx) => {
    ctx.tasmota = await fakeTasmota(ctx.broker.url, 'ac1', false);
    ctx.thermostat = fromConfig(
      'thermostat',
      'tasmota',
      { topic: 'ac1', minOnMs: 60_000, minOffMs: 0, setpointC: 24, mode: 'cool' },
      deps(ctx),
    );
    await stateWhere(ctx.thermostat, (s) => s.available, 'online');
    const on = await ctx.thermostat.set({ on: true, setpointC: 23 }, 'too warm');
    assert.is(on.on, true);
    assert.is(on.setpointC, 23);
    assert.is(on.mode, 'cool');
    assert.is(ctx.tasmota.on, true);
    await ctx.tasmota.sensor(26.5);
    await stateWhere(ctx.thermostat, (s) => s.indoorC === 26.5, 'the SENSOR temperature');
    // Off right after on is held back by minOnMs: the plug stays on, the switch waits.
    const held = await ctx.thermostat.set({ on: false }, 'cool enough');
    assert.is(held.on, true);
    assert.is(held.pending?.on, false);
    assert.is(ctx.tasmota.on, true);
    assert.equal(
      ctx.tasmota.commands.filter((c) => c !== ''),
      ['ON'],
    );
  },
);

thermostat(
  'a JSON thermostat: setpoint, mode and on published to <prefix>/set; its state read back',
  async (ctx) => {
    const device = await mqtt.connectAsync(ctx.broker.url);
    const sets: unknown[] = [];
    device.on('message', (_t, payload) => {
      const command = JSON.parse(payload.toString()) as Record<string, unknown>;
      sets.push(command);
      void device.publishAsync('heatpump/state', JSON.stringify({ ...command, indoorC: 20.5 }), {
        retain: true,
      });
    });
    await device.subscribeAsync('heatpump/set');
    try {
      ctx.thermostat = fromConfig('thermostat', 'mqtt', { prefix: 'heatpump', minOffMs: 0 }, deps(ctx));
      await ctx.thermostat.set({ on: true, mode: 'heat', setpointC: 21.5 }, 'morning');
      await stateWhere(ctx.thermostat, (s) => s.indoorC === 20.5 && s.available, 'the state');
      assert.equal(sets, [{ on: true, mode: 'heat', setpointC: 21.5 }]);
      assert.is(ctx.thermostat.state().on, true);
    } finally {
      await device.publishAsync('heatpump/state', '', { retain: true });
      await device.endAsync();
    }
  },
);

thermostat.run();
