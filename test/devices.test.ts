/**
 * The device layer without a network: the thermostat's minimum on/off times on a manual clock, the
 * battery's limits, relay.onChainLoss, the registry's refusals, and the Modbus relay and battery
 * against a Modbus TCP server in the test.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hasClose, type BatteryDriver } from '../gateway/devices/api';
import { LimitedBattery, limitSetpoint } from '../gateway/devices/battery';
import { ChainWatch } from '../gateway/devices/chain-watch';
import { ManualClock } from '../gateway/devices/clock';
import { AvailabilityState, Listeners } from '../gateway/devices/listeners';
import { decodeDevice, fromConfig } from '../gateway/devices/registry';
import { SimulatedRelay } from '../gateway/devices/sim-relay';
import { SimulatedSwitch } from '../gateway/devices/sim-switch';
import { SwitchThermostatDriver } from '../gateway/devices/switch-thermostat';
import { GuardedThermostat, THERMOSTAT_GUARD_DEFAULTS } from '../gateway/devices/thermostat';
import { ConfigError, DeviceUnavailableError, InputError } from '../gateway/errors';
import { SimulatedHome } from '../gateway/sim/home';
import { errorOf } from './helpers/assertions';
import { fakeModbusDevice } from './helpers/modbus';

/** Lets queued promise callbacks (a deferred switch's write) run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

// ---------------------------------------------------------------------------------------------
const thermostat = suite('thermostat: minimum on/off times');

const MIN_ON = 180_000;
const MIN_OFF = 300_000;
const T0 = Date.UTC(2025, 6, 1, 12);

function guarded(clock: ManualClock) {
  const output = new SimulatedSwitch(false);
  const changes: { at: number; on: boolean }[] = [];
  output.onReport((on) => changes.push({ at: clock.now(), on }));
  const device = new GuardedThermostat(
    new SwitchThermostatDriver(output),
    { ...THERMOSTAT_GUARD_DEFAULTS, minOnMs: MIN_ON, minOffMs: MIN_OFF },
    clock,
  );
  return { output, changes, device };
}

thermostat('a rule that toggles every tick for 2 hours never short-cycles the compressor', async () => {
  const clock = new ManualClock(T0);
  const { changes, device } = guarded(clock);
  const hours2 = 2 * 3600;
  for (let tick = 0; tick < hours2; tick++) {
    await device.set({ on: tick % 2 === 0 }, `rule tick ${tick}`);
    clock.advance(1000);
    await flush();
  }
  assert.ok(changes.length > 0, 'the compressor did run');
  // Each run lasts ≥ MIN_ON and each pause ≥ MIN_OFF, the start of the gateway counting as a switch.
  let last = { at: T0, on: false };
  for (const change of changes) {
    const held = change.at - last.at;
    assert.ok(
      held >= (last.on ? MIN_ON : MIN_OFF),
      `${last.on ? 'on' : 'off'} for only ${held} ms before ${change.at}`,
    );
    last = change;
  }
  assert.ok(
    changes.length <= Math.ceil((hours2 * 1000) / Math.min(MIN_ON, MIN_OFF)),
    `${changes.length} switches`,
  );
  assert.is(device.switches, changes.length);
});

thermostat('a switch asked for too early waits, shows as pending, and happens on time', async () => {
  const clock = new ManualClock(T0);
  const { output, device } = guarded(clock);
  const first = await device.set({ on: true }, 'too warm');
  assert.is(first.on, false, 'held: the gateway just started');
  assert.equal(first.pending, { on: true, at: new Date(T0 + MIN_OFF).toISOString() });
  clock.advance(MIN_OFF - 1);
  await flush();
  assert.is(output.reported(), false);
  clock.advance(1);
  await flush();
  assert.is(output.reported(), true);
  assert.is(device.state().pending, null);
  assert.is(device.state().reason, 'too warm');
  assert.is(device.state().changedAt, new Date(T0 + MIN_OFF).toISOString());
});

thermostat('an opposite command cancels a pending switch', async () => {
  const clock = new ManualClock(T0);
  const { output, device } = guarded(clock);
  await device.set({ on: true }, 'rule');
  await device.set({ on: false }, 'rule changed its mind');
  assert.is(device.state().pending, null);
  clock.advance(MIN_OFF * 2);
  await flush();
  assert.is(output.reported(), false);
  assert.equal(output.commands, []);
});

thermostat('setpoint and mode apply at once; out-of-range values are refused naming the field', async () => {
  const clock = new ManualClock(T0);
  const { device } = guarded(clock);
  const state = await device.set({ setpointC: 19.5, mode: 'heat' }, 'evening');
  assert.is(state.setpointC, 19.5);
  assert.is(state.mode, 'heat');
  const tooHot = errorOf(() => device.set({ setpointC: 40 }, 'x'));
  assert.instance(tooHot, InputError);
  assert.is(
    tooHot.message,
    'msg.payload.setpointC: 40 is not allowed; expected a temperature from 5 to 35 °C',
  );
  const mode = errorOf(() => device.set({ mode: 'dry' as never }, 'x'));
  assert.is(mode.message, 'msg.payload.mode: "dry" is not allowed; expected one of heat, cool, auto, fan');
});

thermostat('a switch made at the device restarts the minimum time', async () => {
  const clock = new ManualClock(T0);
  const { output, device } = guarded(clock);
  clock.advance(MIN_OFF);
  output.press(true);
  assert.is(device.state().on, true);
  assert.is(device.state().reason, 'changed at the device');
  const held = await device.set({ on: false }, 'rule');
  assert.is(held.on, true);
  assert.equal(held.pending, { on: false, at: new Date(T0 + MIN_OFF + MIN_ON).toISOString() });
  await device.close();
});

thermostat.run();

// ---------------------------------------------------------------------------------------------
class FakeBatteryDriver implements BatteryDriver {
  readonly kind = 'fake';
  readonly writes: number[] = [];
  private readonly reports = new Listeners<{ socPct?: number; powerW?: number }>();
  private readonly availability = new AvailabilityState();
  async writeSetpoint(powerW: number): Promise<void> {
    this.writes.push(powerW);
  }
  report(socPct: number): void {
    this.availability.set(true);
    this.reports.emit({ socPct });
  }
  onReport(listener: (r: { socPct?: number; powerW?: number }) => void): () => void {
    return this.reports.add(listener);
  }
  available(): boolean {
    return this.availability.get();
  }
  onAvailability(listener: (a: boolean) => void): () => void {
    return this.availability.subscribe(listener);
  }
  async close(): Promise<void> {}
}

const battery = suite('battery: power and SoC limits in the adapter');
const LIMITS = { maxChargeW: 3000, maxDischargeW: 2500, minSocPct: 10, maxSocPct: 90 };

battery('limitSetpoint: clamps to the power limits and stops at the SoC limits', () => {
  const cases: [string, number, number | null, number, string | null][] = [
    ['within limits', 1500, 50, 1500, null],
    ['above maxChargeW', 5000, 50, 3000, 'maxChargeW'],
    ['below -maxDischargeW', -4000, 50, -2500, 'maxDischargeW'],
    ['charging at maxSoc', 1000, 90, 0, 'SoC 90 % at maxSocPct 90 %'],
    ['discharging at minSoc', -1000, 10, 0, 'SoC 10 % at minSocPct 10 %'],
    ['discharging at maxSoc is fine', -1000, 90, -1000, null],
    ['unknown SoC: power limits only', 5000, null, 3000, 'maxChargeW'],
  ];
  for (const [name, requested, soc, setpoint, by] of cases)
    assert.equal(limitSetpoint(requested, soc, LIMITS), { setpointW: setpoint, limitedBy: by }, name);
});

battery('charging stops by itself at maxSocPct and resumes when the SoC falls back', async () => {
  const driver = new FakeBatteryDriver();
  const device = new LimitedBattery(driver, LIMITS, new ManualClock(T0));
  driver.report(85);
  const state = await device.set({ powerW: 2000 }, 'cheap hour');
  assert.is(state.setpointW, 2000);
  driver.report(90);
  await flush();
  assert.is(device.state().setpointW, 0);
  assert.is(device.state().requestedW, 2000);
  assert.is(device.state().reason, 'cheap hour (limited by SoC 90 % at maxSocPct 90 %)');
  driver.report(88);
  await flush();
  assert.is(device.state().setpointW, 2000);
  assert.equal(driver.writes, [2000, 0, 2000]);
});

battery('SoC limits can be changed by a command; a bad command names its field', async () => {
  const driver = new FakeBatteryDriver();
  const device = new LimitedBattery(driver, LIMITS, new ManualClock(T0));
  driver.report(30);
  const state = await device.set({ powerW: -1000, minSocPct: 40 }, 'keep a reserve');
  assert.is(state.setpointW, 0);
  assert.is(state.limits.minSocPct, 40);
  const bad = await device.set({ powerW: Number.NaN }, 'x').then(
    () => null,
    (e: unknown) => e as Error,
  );
  assert.instance(bad, InputError);
  assert.is(
    bad!.message,
    'msg.payload.powerW: NaN is not allowed; expected a number of W: positive charges, negative discharges',
  );
  const crossed = await device.set({ minSocPct: 95 }, 'x').then(
    () => null,
    (e: unknown) => e as Error,
  );
  assert.is(
    crossed!.message,
    'msg.payload.maxSocPct: 90 is not allowed; expected a state of charge ≥ minSocPct (95 %)',
  );
});

battery.run();

// ---------------------------------------------------------------------------------------------
const chainLoss = suite('relay.onChainLoss');

function watchWith(action: 'hold' | 'open' | 'close', initialOn: boolean) {
  const clock = new ManualClock(T0);
  const relay = new SimulatedRelay({ initialOn, now: () => clock.now() });
  let failing: Error | null = null;
  const logs: string[] = [];
  const balance = {
    async read() {
      if (failing) throw failing;
      return {
        wallet: '0x',
        ergonWei: '0',
        channelUnspentWei: '0',
        spendableWei: '0',
        spendableErgon: 0,
        blockNumber: 1,
      };
    },
  };
  const watch = new ChainWatch({
    relay,
    balance,
    action,
    checkMs: 10_000,
    lossAfterMs: 60_000,
    clock,
    log: (t) => logs.push(t),
  });
  return { clock, relay, watch, logs, fail: (e: Error | null) => (failing = e) };
}

chainLoss(
  'open: the relay opens once reads have failed for lossAfterMs, and the flow decides after',
  async () => {
    const { clock, relay, watch, logs, fail } = watchWith('open', true);
    await watch.check();
    fail(new DeviceUnavailableError('http://127.0.0.1:8545', 'ECONNREFUSED'));
    for (let t = 0; t < 5; t++) {
      clock.advance(10_000);
      await watch.check();
    }
    assert.is(relay.state().on, true, 'not yet: 50 s < 60 s');
    clock.advance(10_000);
    await watch.check();
    assert.is(relay.state().on, false);
    assert.is(
      relay.state().reason,
      'chain link lost (relay.onChainLoss = open): http://127.0.0.1:8545: ECONNREFUSED',
    );
    assert.is(watch.status().linked, false);
    await relay.set(true, 'member override');
    clock.advance(10_000);
    await watch.check();
    assert.is(relay.state().on, true, 'the action runs once per loss, not on every check');
    fail(null);
    await watch.check();
    assert.is(watch.status().linked, true);
    assert.ok(logs.some((l) => l.startsWith('chain link back')));
  },
);

chainLoss('close keeps the supply on; hold leaves it alone', async () => {
  for (const [action, initial, expected] of [
    ['close', false, true],
    ['hold', false, false],
    ['hold', true, true],
  ] as const) {
    const { clock, relay, watch, fail } = watchWith(action, initial);
    fail(new Error('rpc down'));
    clock.advance(60_000);
    await watch.check();
    assert.is(watch.status().linked, false, action);
    assert.is(relay.state().on, expected, `${action} from ${initial}`);
  }
});

chainLoss('the poll loop runs on the clock and stops', async () => {
  const { clock, relay, watch, fail } = watchWith('open', true);
  fail(new Error('rpc down'));
  watch.start();
  for (let i = 0; i < 7; i++) {
    clock.advance(10_000);
    await flush();
  }
  assert.is(relay.state().on, false);
  watch.stop();
  assert.is(clock.pending(), 0);
});

chainLoss.run();

// ---------------------------------------------------------------------------------------------
const registry = suite('device registry');

registry('unknown types and bad options are ConfigErrors naming the field', () => {
  const cases: [string, () => unknown, string][] = [
    [
      'unknown relay type',
      () => decodeDevice('relay', 'zigbee', {}),
      'relay.type: "zigbee" is not allowed; expected one of "simulated", "tasmota", "shelly", "modbus"',
    ],
    [
      'tasmota without topic',
      () => decodeDevice('relay', 'tasmota', {}),
      'relay.options.topic: undefined is not allowed; expected an MQTT topic level without /, +, # or spaces',
    ],
    [
      'tasmota topic with a slash',
      () => decodeDevice('relay', 'tasmota', { topic: 'a/b' }),
      'relay.options.topic: "a/b" is not allowed; expected an MQTT topic level without /, +, # or spaces',
    ],
    [
      'shelly switch id',
      () => decodeDevice('relay', 'shelly', { prefix: 's', switchId: 9 }),
      'relay.options.switchId: 9 is not allowed; expected a switch id from 0 to 3',
    ],
    [
      'typo in options',
      () => decodeDevice('relay', 'tasmota', { topic: 'a', chanel: 2 }),
      'relay.options.chanel: 2 is not allowed; expected a known option (known here: topic, channel, fullTopic, commandTimeoutMs)',
    ],
    [
      'battery SoC order',
      () => decodeDevice('battery', 'mqtt', { prefix: 'b', minSocPct: 80, maxSocPct: 20 }),
      'battery.options.maxSocPct: 20 is not allowed; expected a value ≥ battery.options.minSocPct (80)',
    ],
    [
      'modbus battery without registers',
      () => decodeDevice('battery', 'modbus', { host: 'x' }),
      'battery.options.setpointRegister: undefined is not allowed; expected a register address from 0 to 65535',
    ],
    [
      'thermostat minOnMs',
      () => decodeDevice('thermostat', 'tasmota', { topic: 'ac', minOnMs: -1 }),
      'thermostat.options.minOnMs: -1 is not allowed; expected an integer from 0 to 86400000 ms',
    ],
    [
      'mqtt type without a client',
      () => fromConfig('relay', 'tasmota', { topic: 'a' }),
      'relay.type: "tasmota" is not allowed; expected a type that does not need MQTT: no MQTT client was given',
    ],
  ];
  for (const [name, run, message] of cases) {
    const err = errorOf(run);
    assert.instance(err, ConfigError, name);
    assert.is(err.message, message, name);
  }
});

registry('every type decodes its documented example options', () => {
  const examples: [Parameters<typeof decodeDevice>[0], string, unknown][] = [
    ['relay', 'simulated', {}],
    ['relay', 'tasmota', { topic: 'hepek-supply' }],
    ['relay', 'shelly', { prefix: 'shellypro1-abc' }],
    ['relay', 'modbus', { host: '192.168.1.60', coil: 0 }],
    ['battery', 'mqtt', { prefix: 'home/battery' }],
    ['battery', 'modbus', { host: '192.168.1.61', setpointRegister: 100, socRegister: 200 }],
    ['thermostat', 'simulated', {}],
    ['thermostat', 'tasmota', { topic: 'living-ac' }],
    ['thermostat', 'shelly', { prefix: 'shellyplus1-ac' }],
    ['thermostat', 'mqtt', { prefix: 'home/heatpump' }],
  ];
  for (const [kind, type, options] of examples)
    assert.ok(decodeDevice(kind, type, options), `${kind} ${type}`);
});

registry.run();

// ---------------------------------------------------------------------------------------------
const modbusDevices = suite('relay and battery over Modbus TCP');

modbusDevices('a coil relay: round trip, a change at the device, an outage', async () => {
  const device = await fakeModbusDevice();
  const relay = fromConfig(
    'relay',
    'modbus',
    { host: '127.0.0.1', port: device.port, coil: 3, pollMs: 100, timeoutMs: 200, retries: 0 },
    { log: () => undefined },
  );
  try {
    const on = await relay.set(false, 'balance below threshold');
    assert.is(on.on, false);
    assert.is(device.coils.get(3), false);
    await relay.set(true, 'top-up');
    assert.is(device.coils.get(3), true);
    device.coils.set(3, false); // someone switched it at the module
    await waitFor(() => relay.state().on === false, 'the poll to see the change');
    assert.is(relay.state().reason, 'changed at the device');
    device.silent = true;
    await waitFor(() => relay.state().available === false, 'unavailable');
    const err = await relay.set(true, 'x').then(
      () => null,
      (e: unknown) => e as Error,
    );
    assert.instance(err, DeviceUnavailableError);
    assert.match(err!.message, `modbus tcp 127.0.0.1:${device.port} unit 1: did not answer writing coil 3`);
    device.silent = false;
    await waitFor(() => relay.state().available === true, 'back');
  } finally {
    if (hasClose(relay)) await relay.close();
    await device.stop();
  }
});

modbusDevices('a battery: signed setpoint register, SoC register, limits applied', async () => {
  const device = await fakeModbusDevice();
  device.setWords(3, 200, [455]); // 45.5 % at 0.1 %/unit
  const battery = fromConfig(
    'battery',
    'modbus',
    {
      host: '127.0.0.1',
      port: device.port,
      setpointRegister: 100,
      setpointScale: 10,
      socRegister: 200,
      socScale: 0.1,
      pollMs: 100,
      maxDischargeW: 2000,
    },
    { log: () => undefined },
  );
  try {
    await waitFor(() => battery.state().socPct === 45.5, 'the SoC');
    const state = await battery.set({ powerW: -3000 }, 'evening peak');
    assert.is(state.setpointW, -2000);
    assert.is(device.words.get(3 * 0x10000 + 100), 0x10000 - 200, '-2000 W as int16 tens of W');
  } finally {
    await battery.close();
    await device.stop();
  }
});

async function waitFor(ok: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

modbusDevices.run();

// ---------------------------------------------------------------------------------------------
const simulated = suite('simulated battery and thermostat (the sim models under the adapters)');

simulated('the battery charges at its setpoint and stops at maxSocPct', async () => {
  const clock = new ManualClock(T0);
  const device = fromConfig(
    'battery',
    'simulated',
    { capacityWh: 1000, initialSocPct: 80, maxSocPct: 90, stepMs: 1000, speed: 60 },
    { clock },
  );
  const state = await device.set({ powerW: 2000 }, 'cheap hour');
  assert.is(state.setpointW, 2000);
  for (let i = 0; i < 10; i++) {
    clock.advance(1000);
    await flush();
  }
  assert.ok((device.state().socPct ?? 0) >= 90, `SoC ${device.state().socPct}`);
  assert.is(device.state().setpointW, 0, 'stopped by the adapter at maxSocPct');
  await device.close();
  assert.is(clock.pending(), 0);
});

simulated('the AC cools the RC house while on, within its minimum times', async () => {
  const clock = new ManualClock(T0);
  const device = fromConfig(
    'thermostat',
    'simulated',
    { outdoorC: 32, initialIndoorC: 27, minOffMs: 0, minOnMs: 0, stepMs: 1000, speed: 600 },
    { clock },
  );
  await device.set({ on: true, mode: 'cool', setpointC: 22 }, 'too warm');
  const before = device.state().indoorC ?? 0;
  for (let i = 0; i < 60; i++) clock.advance(1000); // 10 simulated hours
  const cooled = device.state().indoorC ?? 99;
  assert.ok(cooled < before - 1, `${before} → ${cooled} °C`);
  await device.set({ on: false }, 'cool enough');
  for (let i = 0; i < 60; i++) clock.advance(1000);
  assert.ok((device.state().indoorC ?? 0) > cooled, 'warms up again when off');
  await device.close();
});

simulated.run();

// ---------------------------------------------------------------------------------------------
const homeDevices = suite("simulated devices on the runtime's simulated home");

homeDevices(
  'battery setpoints and thermostat modes reach the home; its readings report SoC and indoor °C',
  async () => {
    let t = T0;
    const clock = new ManualClock(T0);
    const home = new SimulatedHome(
      {
        startTime: T0,
        speed: 60,
        battery: { initialSocPercent: 40 },
        thermal: { thermostat: { mode: 'off' } },
      },
      { now: () => t },
    );
    const battery = fromConfig('battery', 'simulated', {}, { clock, home });
    const thermostat = fromConfig('thermostat', 'simulated', { minOffMs: 0, minOnMs: 0 }, { clock, home });
    assert.is(battery.state().socPct, 40);
    await battery.set({ powerW: 2500 }, 'cheap hour');
    assert.is(home.batterySetpoint(), 2500);
    await thermostat.set({ on: true, mode: 'cool', setpointC: 23 }, 'too warm');
    assert.is(home.thermal?.state().thermostat.mode, 'cool');
    assert.is(home.thermal?.state().thermostat.setpointC, 23);
    t += 60_000; // one real minute = one simulated hour at speed 60
    const reading = home.step();
    await flush();
    assert.ok((battery.state().socPct ?? 0) > 40, `SoC rose to ${battery.state().socPct}`);
    assert.is(battery.state().powerW, reading.batteryW);
    assert.is(thermostat.state().indoorC, Math.round((reading.indoorC ?? NaN) * 100) / 100);
    await thermostat.set({ on: false }, 'cool enough');
    assert.is(home.thermal?.state().thermostat.mode, 'off');
    await battery.close();
    await thermostat.close();
  },
);

homeDevices.run();
