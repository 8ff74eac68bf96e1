/**
 * Home Assistant discovery through a real (embedded aedes) broker: the device-based payload HA
 * receives passes HA's rules for every component, the grid energy sensors are what the Energy
 * dashboard accepts, HA's birth message brings the config again, and HA's commands reach the relay.
 * The rule table itself is exercised with a bad payload per rule so it cannot pass vacuously.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt, { type MqttClient } from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker/embedded';
import type { BalanceSource, MeterReading, MeterSource, SpendableBalance } from '../gateway/context';
import { SimulatedRelay } from '../gateway/devices/sim-relay';
import { buildDiscovery, haObjectId } from '../gateway/integrations/homeassistant/discovery';
import {
  startHomeAssistant,
  type HomeAssistantIntegration,
  type ThermostatControl,
} from '../gateway/integrations/homeassistant/integration';
import {
  energyDashboardProblems,
  validateDeviceDiscovery,
} from '../gateway/integrations/homeassistant/rules';
import { hepekTopics } from '../gateway/integrations/topics';
import { resolveSettings } from '../settings';
import { ConfigError, InputError } from '../gateway/errors';
import { simulatedHomeThermostat } from '../gateway/integrations/homeassistant/sim-thermostat';
import { SimulatedHome } from '../gateway/sim/home';
import { freePort } from './helpers/gateway';
import { waitForMessages } from './helpers/mqtt';

const SERIAL = 'HPK-TEST.01';
const PREFIX = 'homeassistant';

interface Ctx {
  broker: EmbeddedBroker;
  gateway: MqttClient;
  ha?: MqttClient;
  integration: HomeAssistantIntegration;
  relay: SimulatedRelay;
  warnings: string[];
  balanceReads: number;
}

const fixedBalance: SpendableBalance = {
  wallet: '0x' + 'ab'.repeat(20),
  ergonWei: '12500000000000000000',
  channelUnspentWei: '0',
  spendableWei: '12500000000000000000',
  spendableErgon: 12.5,
  blockNumber: 7,
};

const ha = suite<Ctx>('home assistant discovery over MQTT');

ha.before.each(async (ctx) => {
  ctx.broker = await startEmbeddedBroker({ host: '127.0.0.1', port: await freePort(), users: [] });
  const topics = hepekTopics(SERIAL);
  ctx.gateway = await mqtt.connectAsync(ctx.broker.url, {
    reconnectPeriod: 0,
    will: { topic: topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
  });
  await ctx.gateway.publishAsync(topics.status, 'online', { qos: 1, retain: true });
  ctx.relay = new SimulatedRelay({ now: () => Date.UTC(2026, 0, 1) });
  ctx.warnings = [];
  ctx.balanceReads = 0;
  const balance: BalanceSource = {
    read: async () => {
      ctx.balanceReads++;
      return fixedBalance;
    },
  };
  ctx.integration = startHomeAssistant({
    client: ctx.gateway,
    serial: SERIAL,
    version: '9.9.9',
    prefix: PREFIX,
    relay: ctx.relay,
    balance,
    balanceIntervalMs: 3_600_000,
    log: { warn: (l) => ctx.warnings.push(l), info: () => {}, debug: () => {} },
  });
  ctx.ha = undefined;
});

ha.after.each(async (ctx) => {
  ctx.integration.stop();
  await ctx.ha?.endAsync();
  await ctx.gateway.endAsync();
  await ctx.broker.close();
});

/** Subscribes as HA would and returns the first discovery message (retained). */
async function receiveDiscovery(url: string): Promise<{ topic: string; payload: Record<string, unknown> }> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  try {
    const got = new Promise<{ topic: string; payload: Record<string, unknown> }>((resolve) =>
      client.on('message', (topic, payload) =>
        resolve({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }),
      ),
    );
    await client.subscribeAsync(`${PREFIX}/device/+/config`);
    return await got;
  } finally {
    await client.endAsync();
  }
}

ha('the retained device payload on the broker passes HA’s rules for every component', async (ctx) => {
  const { topic, payload } = await receiveDiscovery(ctx.broker.url);
  assert.is(topic, `homeassistant/device/${haObjectId(SERIAL)}/config`);
  assert.is(haObjectId(SERIAL), 'hepek_HPK-TEST_01', 'dots are not allowed in discovery ids');
  assert.equal(validateDeviceDiscovery(topic, payload), []);
  // The abbreviated, device-based form the issue asks for.
  assert.ok('dev' in payload && 'o' in payload && 'cmps' in payload);
  const cmps = payload.cmps as Record<string, Record<string, unknown>>;
  const expected = [
    'grid_import',
    'grid_export',
    'grid_power',
    'battery_soc',
    'relay',
    'thermostat',
    'demand_active',
    'ergon_balance',
    'price_current',
    'price_forecast',
    'battery_plan',
    'stored_energy_value',
    'degradation_cost',
  ];
  for (const key of expected) assert.ok(cmps[key], `component ${key} is published`);
  assert.equal(Object.fromEntries(expected.map((k) => [k, cmps[k]!.p])), {
    grid_import: 'sensor',
    grid_export: 'sensor',
    grid_power: 'sensor',
    battery_soc: 'sensor',
    relay: 'switch',
    thermostat: 'climate',
    demand_active: 'binary_sensor',
    ergon_balance: 'sensor',
    price_current: 'sensor',
    price_forecast: 'sensor',
    battery_plan: 'sensor',
    stored_energy_value: 'sensor',
    degradation_cost: 'sensor',
  });
  assert.equal(energyDashboardProblems(cmps.grid_import!), []);
  assert.equal(energyDashboardProblems(cmps.grid_export!), []);
  assert.is(payload.avty_t, `hepek/${SERIAL}/status`, 'availability is the gateway’s last-will topic');
});

ha('HA’s birth message makes the gateway publish the discovery again', async (ctx) => {
  const client = await mqtt.connectAsync(ctx.broker.url, { reconnectPeriod: 0 });
  ctx.ha = client;
  const configs: Array<{ retain: boolean }> = [];
  const second = new Promise<void>((resolve) =>
    client.on('message', (_t, _p, packet) => {
      configs.push({ retain: packet.retain });
      if (configs.length === 2) resolve();
    }),
  );
  await client.subscribeAsync(`${PREFIX}/device/+/config`, { qos: 1 });
  // The retained copy arrives on subscribe; HA announcing itself must bring a fresh, live one.
  await client.publishAsync(`${PREFIX}/status`, 'online', { qos: 1 });
  await second;
  assert.is(configs[0]!.retain, true, 'first copy is the retained one');
  assert.is(configs[1]!.retain, false, 'second copy is published live after the birth message');
  assert.ok(ctx.balanceReads >= 2, 'states are refreshed after the config');
});

ha('an `offline` birth-topic message publishes nothing', async (ctx) => {
  const before = ctx.balanceReads;
  await ctx.gateway.publishAsync(`${PREFIX}/status`, 'offline', { qos: 1 });
  // A message that does cause work, sent after, proves the first one was processed (in order).
  await ctx.gateway.publishAsync(`${PREFIX}/status`, 'online', { qos: 1 });
  await waitForMessages(ctx.broker.url, hepekTopics(SERIAL).balance, () => ctx.balanceReads > before, 5000);
  assert.is(ctx.balanceReads, before + 1);
});

ha('the switch command from HA reaches the relay; a bad payload is refused and named', async (ctx) => {
  const topics = hepekTopics(SERIAL);
  const client = await mqtt.connectAsync(ctx.broker.url, { reconnectPeriod: 0 });
  ctx.ha = client;
  const off = new Promise<boolean>((resolve) => ctx.relay.subscribe((s) => resolve(s.on)));
  await client.publishAsync(topics.relaySet, 'OFF', { qos: 1 });
  assert.is(await off, false);
  assert.is(ctx.relay.state().reason, 'Home Assistant');

  const warned = new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (ctx.warnings.length > 0) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  await client.publishAsync(topics.relaySet, 'maybe', { qos: 1 });
  await warned;
  assert.equal(ctx.warnings, [
    `home assistant: command refused: ${topics.relaySet}: "maybe" is not allowed; expected "ON" or "OFF"`,
  ]);
  assert.is(ctx.relay.state().on, false, 'the relay is unchanged');

  const on = new Promise<boolean>((resolve) => ctx.relay.subscribe((s) => resolve(s.on)));
  await client.publishAsync(topics.relaySet, 'ON', { qos: 1 });
  assert.is(await on, true);
});

ha('the demand-response switch round-trips and its state is retained', async (ctx) => {
  const topics = hepekTopics(SERIAL);
  const client = await mqtt.connectAsync(ctx.broker.url, { reconnectPeriod: 0 });
  ctx.ha = client;
  await client.publishAsync(topics.demandAllowSet, 'OFF', { qos: 1 });
  const states = await waitForMessages(ctx.broker.url, topics.demandAllow, (t) => t === 'OFF', 5000);
  assert.is(states.at(-1), 'OFF');
  assert.is(ctx.integration.allowDemand(), false);
});

ha('the balance is published for the ERGON sensor with the field its template reads', async (ctx) => {
  const texts = await waitForMessages(ctx.broker.url, hepekTopics(SERIAL).balance, () => true, 5000);
  const balance = JSON.parse(texts[0]!) as SpendableBalance;
  assert.is(balance.spendableErgon, 12.5);
  const cmps = ctx.integration.discovery.payload.cmps as Record<string, Record<string, unknown>>;
  assert.is(cmps.ergon_balance!.value_template, '{{ value_json.spendableErgon }}');
});

const climate = suite<{
  broker: EmbeddedBroker;
  gateway: MqttClient;
  integration: HomeAssistantIntegration;
  commands: Array<Record<string, unknown>>;
  warnings: string[];
  emit: () => void;
}>('home assistant climate ↔ thermostat adapter');

climate.before.each(async (ctx) => {
  ctx.broker = await startEmbeddedBroker({ host: '127.0.0.1', port: await freePort(), users: [] });
  ctx.gateway = await mqtt.connectAsync(ctx.broker.url, { reconnectPeriod: 0 });
  ctx.commands = [];
  ctx.warnings = [];
  // A stand-in with the shape of gateway/devices' ThermostatDevice.
  let state = { on: true, mode: 'heat', setpointC: 20, indoorC: 19.4 as number | null };
  const listeners = new Set<(s: typeof state) => void>();
  ctx.emit = () => listeners.forEach((l) => l({ ...state }));
  const thermostat: ThermostatControl = {
    state: () => ({ ...state }),
    async set(command) {
      ctx.commands.push(command);
      state = { ...state, ...command };
      ctx.emit();
      return state;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  ctx.integration = startHomeAssistant({
    client: ctx.gateway,
    serial: SERIAL,
    version: '1',
    prefix: PREFIX,
    relay: new SimulatedRelay(),
    balanceIntervalMs: 60_000,
    thermostat,
    outdoorC: () => 4.5,
    log: { warn: (l) => ctx.warnings.push(l), info: () => {}, debug: () => {} },
  });
});

climate.after.each(async (ctx) => {
  ctx.integration.stop();
  await ctx.gateway.endAsync();
  await ctx.broker.close();
});

climate(
  'the adapter’s state is on the topic the climate entity reads, with the fields its templates name',
  async (ctx) => {
    const topics = hepekTopics(SERIAL);
    const [text] = await waitForMessages(ctx.broker.url, topics.thermostat, () => true, 5000);
    const message = JSON.parse(text!) as Record<string, unknown>;
    assert.equal(message, { indoorC: 19.4, outdoorC: 4.5, setpointC: 20, mode: 'heat' });
    const c = (ctx.integration.discovery.payload.cmps as Record<string, Record<string, string>>).thermostat!;
    for (const template of [
      c.current_temperature_template,
      c.temperature_state_template,
      c.mode_state_template,
    ])
      assert.ok(template!.match(/value_json\.(\w+)/)![1]! in message, template);
  },
);

climate('HA’s setpoint and mode commands reach the adapter; out-of-range values are refused', async (ctx) => {
  const topics = hepekTopics(SERIAL);
  const ha = await mqtt.connectAsync(ctx.broker.url, { reconnectPeriod: 0 });
  try {
    const states = waitForMessages(
      ctx.broker.url,
      topics.thermostat,
      (t) => t.includes('"mode":"fan_only"'),
      5000,
    );
    await ha.publishAsync(topics.thermostatSetpointSet, '45', { qos: 1 });
    await ha.publishAsync(topics.thermostatSetpointSet, '22.5', { qos: 1 });
    await ha.publishAsync(topics.thermostatModeSet, 'off', { qos: 1 });
    await ha.publishAsync(topics.thermostatModeSet, 'fan_only', { qos: 1 });
    const seen = (await states).map((t) => JSON.parse(t) as { mode: string; setpointC: number });
    assert.equal(ctx.commands, [{ setpointC: 22.5 }, { on: false }, { on: true, mode: 'fan' }]);
    assert.ok(
      seen.some((s) => s.mode === 'off' && s.setpointC === 22.5),
      'HA sees the adapter switched off',
    );
    assert.equal(ctx.warnings, [
      `home assistant: command refused: ${topics.thermostatSetpointSet}: "45" is not allowed; expected a temperature from 10 to 30 °C`,
    ]);
  } finally {
    await ha.endAsync();
  }
});

climate(
  'battery SoC and temperatures that come with the meter readings feed the battery and thermostat topics',
  async (ctx) => {
    const listeners = new Set<(r: MeterReading) => void>();
    const meter: MeterSource = {
      kind: 'simulated home',
      latest: () => null,
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const integration = startHomeAssistant({
      client: ctx.gateway,
      serial: 'HPK-METER-1',
      version: '1',
      prefix: PREFIX,
      relay: new SimulatedRelay(),
      balanceIntervalMs: 60_000,
      meter,
      log: { warn: (l) => ctx.warnings.push(l), info: () => {}, debug: () => {} },
    });
    try {
      const topics = hepekTopics('HPK-METER-1');
      const reading = {
        timestamp: '2026-07-01T12:00:00Z',
        importWh: 1,
        exportWh: 2,
        powerW: -300,
        loadW: 500,
        pvW: 800,
        batterySocPercent: 64.5,
        batteryW: 1200,
        indoorC: 22.1,
        outdoorC: 28.4,
      } as MeterReading;
      const battery = waitForMessages(ctx.broker.url, topics.battery, () => true, 5000);
      const temps = waitForMessages(ctx.broker.url, topics.thermostat, () => true, 5000);
      // Both topics are retained, so the subscribers see the values whenever they subscribe.
      listeners.forEach((l) => l(reading));
      assert.equal(JSON.parse((await battery)[0]!), { socPct: 64.5, powerW: 1200 });
      assert.equal(JSON.parse((await temps)[0]!), {
        indoorC: 22.1,
        outdoorC: 28.4,
        setpointC: null,
        mode: null,
      });
      const cmps = integration.discovery.payload.cmps as Record<string, Record<string, string>>;
      assert.is(cmps.battery_soc!.value_template, '{{ value_json.socPct }}');
      assert.is(cmps.outdoor_temperature!.value_template, '{{ value_json.outdoorC }}');
    } finally {
      integration.stop();
    }
  },
);

const simThermostat = suite('the simulated home’s thermostat as HA’s climate');

simThermostat(
  'setpoint, off and on again reach the simulated thermostat; indoor changes are passed on',
  () => {
    let nowMs = 0;
    const home = new SimulatedHome(
      {
        startTime: Date.UTC(2026, 0, 15, 6),
        speed: 60,
        thermal: { house: { initialIndoorC: 17 }, thermostat: { mode: 'heat', setpointC: 20 } },
      },
      { now: () => nowMs },
    );
    const control = simulatedHomeThermostat(home)!;
    assert.equal(control.state(), { on: true, mode: 'heat', setpointC: 20, indoorC: 17 });
    const seen: Array<ReturnType<ThermostatControl['state']>> = [];
    const unsubscribe = control.subscribe((s) => seen.push(s));
    void control.set({ setpointC: 22.5 }, 'Home Assistant');
    assert.is(home.thermal!.state().thermostat.setpointC, 22.5);
    void control.set({ on: false }, 'Home Assistant');
    assert.is(home.thermal!.state().thermostat.mode, 'off');
    assert.equal(control.state().on, false);
    void control.set({ on: true }, 'Home Assistant');
    assert.is(home.thermal!.state().thermostat.mode, 'heat', 'switching on resumes the previous mode');
    const before = seen.length;
    for (let i = 0; i < 5; i++) {
      nowMs += 60_000; // one simulated hour of heating per step at speed 60
      home.step();
    }
    assert.ok(seen.length > before, 'indoor temperature changes reach the subscriber');
    assert.ok(seen.at(-1)!.indoorC! > 17);
    unsubscribe();
    assert.equal(
      simulatedHomeThermostat(new SimulatedHome({ startTime: 0 })),
      null,
      'no thermal model, no thermostat',
    );
  },
);

simThermostat('fan-only is refused by name', async () => {
  const home = new SimulatedHome({ startTime: 0, thermal: {} });
  try {
    await simulatedHomeThermostat(home)!.set({ on: true, mode: 'fan' }, 'Home Assistant');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, InputError);
    assert.match(
      (err as Error).message,
      'thermostat.mode: "fan" is not allowed; expected heat, cool or auto',
    );
  }
});

const rules = suite('home assistant rules as data');

/** A valid payload to break one rule at a time. */
function valid() {
  return buildDiscovery({ serial: 'R1', version: '1', prefix: PREFIX });
}
type Mutate = (p: Record<string, unknown>, c: Record<string, Record<string, unknown>>) => void;

const cases: Array<[string, Mutate, string]> = [
  [
    'energy in kW',
    (_p, c) => (c.grid_import!.unit_of_measurement = 'kW'),
    'cmps.grid_import.unit_of_measurement: "kW" is not valid together with device class energy',
  ],
  [
    'energy as a measurement',
    (_p, c) => (c.grid_import!.state_class = 'measurement'),
    'cmps.grid_import.state_class: "measurement" is impossible for device class energy; allowed: total, total_increasing',
  ],
  [
    'power as total_increasing',
    (_p, c) => (c.grid_power!.state_class = 'total_increasing'),
    'cmps.grid_power.state_class: "total_increasing" is impossible for device class power',
  ],
  [
    'battery in Wh',
    (_p, c) => (c.battery_soc!.unit_of_measurement = 'Wh'),
    'cmps.battery_soc.unit_of_measurement: "Wh" is not valid together with device class battery; allowed: %',
  ],
  [
    'enum with a unit',
    (_p, c) => (c.battery_plan!.unit_of_measurement = 'W'),
    'cmps.battery_plan.options: not allowed together with state_class or unit_of_measurement',
  ],
  [
    'enum without options',
    (_p, c) => delete c.battery_plan!.options,
    'cmps.battery_plan.options: a sensor with device class enum lists its possible states',
  ],
  [
    'unknown state class',
    (_p, c) => (c.ergon_balance!.state_class = 'total_decreasing'),
    'cmps.ergon_balance.state_class: "total_decreasing" is not allowed',
  ],
  [
    'last_reset template without total',
    (_p, c) => (c.grid_import!.last_reset_value_template = '{{ x }}'),
    'cmps.grid_import.last_reset_value_template: cannot be used together with state class "total_increasing"',
  ],
  [
    'sensor without state topic',
    (_p, c) => delete c.grid_power!.state_topic,
    'cmps.grid_power.state_topic: required for platform sensor',
  ],
  [
    'switch without command topic',
    (_p, c) => delete c.relay!.command_topic,
    'cmps.relay.command_topic: required for platform switch',
  ],
  [
    'component without unique_id',
    (_p, c) => delete c.relay!.unique_id,
    'cmps.relay.unique_id: required for an entity in device-based discovery',
  ],
  [
    'component without platform',
    (_p, c) => delete c.relay!.p,
    'cmps.relay.platform: undefined is not allowed',
  ],
  ['unknown platform', (_p, c) => (c.relay!.p = 'toggle'), 'cmps.relay.platform: "toggle" is not allowed'],
  [
    'duplicate unique_id',
    (_p, c) => (c.grid_export!.unique_id = c.grid_import!.unique_id),
    'cmps.grid_export.unique_id: "hepek_R1_grid_import" is also used by cmps.grid_import',
  ],
  [
    'binary sensor with a unit',
    (_p, c) => (c.demand_active!.unit_of_measurement = '%'),
    'cmps.demand_active.unit_of_measurement: not an option of platform binary_sensor',
  ],
  [
    'binary sensor device class that does not exist',
    (_p, c) => (c.demand_active!.device_class = 'demand'),
    'cmps.demand_active.device_class: "demand" is not a binary_sensor device class',
  ],
  [
    'climate with an unknown mode',
    (_p, c) => (c.thermostat!.modes = ['off', 'eco']),
    'cmps.thermostat.modes: "eco" is not an HVAC mode',
  ],
  [
    'climate min above max',
    (_p, c) => (c.thermostat!.min_temp = 35),
    'cmps.thermostat.min_temp: 35 must be below max_temp 30',
  ],
  [
    'wildcard command topic',
    (_p, c) => (c.relay!.command_topic = 'hepek/+/relay/set'),
    'cmps.relay.command_topic: "hepek/+/relay/set" contains a wildcard',
  ],
  [
    'entity name repeating the device name',
    (_p, c) => (c.relay!.name = 'HEPEK R1 relay'),
    'cmps.relay.name: "HEPEK R1 relay" starts with the device name',
  ],
  ['no origin', (p) => delete p.o, 'o: the origin mapping is required in device-based discovery'],
  ['origin without name', (p) => (p.o = { sw: '1' }), 'o.name: required'],
  ['no device', (p) => delete p.dev, 'dev: the device mapping is required in device-based discovery'],
  ['device without ids', (p) => delete (p.dev as Record<string, unknown>).ids, 'dev: needs identifiers'],
  ['device without name', (p) => delete (p.dev as Record<string, unknown>).name, 'dev.name: required'],
  [
    'entity option at the root',
    (p) => (p.unit_of_measurement = 'W'),
    'unit_of_measurement: not a shared option of a device-based payload',
  ],
  ['no components', (p) => (p.cmps = {}), 'cmps: at least one component is required'],
];

for (const [name, mutate, message] of cases) {
  rules(`refuses: ${name}`, () => {
    const { topic, payload } = valid();
    mutate(payload, payload.cmps as Record<string, Record<string, unknown>>);
    const problems = validateDeviceDiscovery(topic, payload);
    assert.ok(
      problems.some((p) => p.startsWith(message)),
      `expected a problem starting with ${JSON.stringify(message)}, got ${JSON.stringify(problems)}`,
    );
  });
}

rules('refuses a discovery topic that is not <prefix>/device/<id>/config', () => {
  const { payload } = valid();
  assert.equal(validateDeviceDiscovery('homeassistant/sensor/x/config', payload), [
    'topic: "homeassistant/sensor/x/config" is not homeassistant/device/<object_id>/config',
  ]);
  assert.equal(validateDeviceDiscovery('homeassistant/device/a.b/config', payload), [
    'topic: object id "a.b" must match [a-zA-Z0-9_-]+',
  ]);
});

rules('the Energy dashboard check refuses a power sensor offered as energy', () => {
  const cmps = valid().payload.cmps as Record<string, Record<string, unknown>>;
  assert.equal(energyDashboardProblems(cmps.grid_power!), [
    'device_class: "power" is not energy',
    'state_class: "measurement" is not total or total_increasing',
    'unit_of_measurement: "W" is not one of Wh, kWh, MWh, GWh, MJ, GJ',
  ]);
});

const settings = suite('integration settings');

settings('defaults: HA discovery on with the homeassistant prefix, no OpenADR VTN', () => {
  const s = resolveSettings({}, {});
  assert.equal(s.integrations.homeAssistant, {
    enabled: true,
    discoveryPrefix: 'homeassistant',
    balanceIntervalMs: 30000,
  });
  assert.is(s.integrations.openadr.vtnUrl, null);
});

const refusals: Array<[string, unknown, string]> = [
  [
    'a prefix with a slash',
    { homeAssistant: { discoveryPrefix: 'home/assistant' } },
    'integrations.homeAssistant.discoveryPrefix: "home/assistant" is not allowed; expected letters, digits, underscores or dashes (a single MQTT topic level)',
  ],
  [
    'a balance interval under a second',
    { homeAssistant: { balanceIntervalMs: 10 } },
    'integrations.homeAssistant.balanceIntervalMs: 10 is not allowed; expected an integer from 1000 to 86400000',
  ],
  [
    'a VTN URL that is not http(s)',
    { openadr: { vtnUrl: 'ftp://vtn' } },
    'integrations.openadr.vtnUrl: "ftp://vtn" is not allowed; expected null or an http(s):// URL',
  ],
  [
    'a token variable in lower case',
    { openadr: { tokenEnv: 'token' } },
    'integrations.openadr.tokenEnv: "token" is not allowed; expected an environment variable name (upper case, digits, underscores)',
  ],
  [
    'an unknown integration',
    { zigbee: {} },
    'integrations.zigbee: {} is not allowed; expected a known setting (known keys here: homeAssistant, openadr)',
  ],
];
for (const [name, integrations, message] of refusals)
  settings(`refuses ${name}`, () => {
    try {
      resolveSettings({ integrations }, {});
      assert.unreachable('accepted');
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as Error).message, message);
    }
  });

ha.run();
climate.run();
simThermostat.run();
rules.run();
settings.run();
