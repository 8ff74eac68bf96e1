/**
 * The Homebridge plugin in a real Homebridge 1.11 on loopback: started as a child process without
 * a TTY (temp storage dir, -U, -I, -P pointing at the plugin), paired with hap-controller like the
 * Home app would, it shows the thermostat the gateway publishes, and turning the outlet off puts
 * `OFF` on the gateway's relay command topic. Unconfigured, it adds no accessory; it writes nothing
 * outside the storage dir; a malformed gateway message does not crash it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker/embedded';
import { parseConfig, PLATFORM_NAME } from '../gateway/integrations/homekit/src/config';
import { currentState, modeToTarget, targetToMode } from '../gateway/integrations/homekit/src/mapping';
import { freePort, removeDir, ROOT, tempDir } from './helpers/gateway';

// hap-controller is CommonJS with no default export under node16 resolution.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { HttpClient } = require('hap-controller') as typeof import('hap-controller');

const PLUGIN = path.join(ROOT, 'gateway', 'integrations', 'homekit');
const HOMEBRIDGE = path.join(ROOT, 'node_modules', 'homebridge', 'bin', 'homebridge');
const SERIAL = 'HPK-HOMEKIT-1';
const PIN = '031-45-154';
// HAP type UUIDs (short form) of the services and characteristics the test reads and writes.
const HAP = {
  thermostat: '4A',
  outlet: '47',
  battery: '96',
  switch: '49',
  temperatureSensor: '8A',
  on: '25',
  currentTemperature: '11',
  targetTemperature: '35',
  targetHeatingCooling: '33',
};

interface Bridge {
  proc: ChildProcess;
  port: number;
  username: string;
  output(): string;
  exited: Promise<number | null>;
}

interface Ctx {
  dir: string;
  broker: EmbeddedBroker;
  gateway: MqttClient;
  bridge?: Bridge;
  hap?: InstanceType<typeof HttpClient>;
}

function mac(): string {
  return [...randomBytes(6)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
}

async function startHomebridge(dir: string, platform: Record<string, unknown>): Promise<Bridge> {
  const port = await freePort();
  const username = mac();
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      bridge: {
        name: 'HEPEK test bridge',
        username,
        port,
        pin: PIN,
        bind: ['127.0.0.1'],
        advertiser: 'ciao',
      },
      platforms: [platform],
    }),
  );
  // No TTY: stdin closed, stdout/stderr piped, as a service manager would run it.
  const proc = spawn(
    process.execPath,
    [HOMEBRIDGE, '-U', dir, '-P', PLUGIN, '-I', '-Q', '-T', '--strict-plugin-resolution'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } },
  );
  let text = '';
  proc.stdout!.on('data', (d) => (text += d));
  proc.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`homebridge did not start within 30 s:\n${text}`)),
      30_000,
    );
    const check = () => {
      if (/is running on port \d+/.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`homebridge exited with ${code}:\n${text}`));
    });
  });
  return { proc, port, username, output: () => text, exited };
}

async function stopHomebridge(bridge: Bridge): Promise<number | null> {
  if (bridge.proc.exitCode !== null) return bridge.proc.exitCode;
  bridge.proc.kill('SIGTERM');
  const hard = setTimeout(() => bridge.proc.kill('SIGKILL'), 10_000);
  const code = await bridge.exited;
  clearTimeout(hard);
  return code;
}

interface HapService {
  type: string;
  characteristics: Array<{ type: string; iid: number; value?: unknown }>;
}
interface HapAccessory {
  aid: number;
  services: HapService[];
}

/** `aid.iid` of a characteristic in the first service of a type. */
function find(accessories: HapAccessory[], service: string, characteristic: string): string {
  const short = (uuid: string) => uuid.replace(/^0+/, '').split('-')[0]!.toUpperCase();
  for (const accessory of accessories)
    for (const s of accessory.services)
      if (short(s.type) === service)
        for (const c of s.characteristics)
          if (short(c.type) === characteristic) return `${accessory.aid}.${c.iid}`;
  throw new Error(
    `no ${service}/${characteristic} in ${JSON.stringify(accessories.map((a) => a.services.map((s) => s.type)))}`,
  );
}

const hb = suite<Ctx>('homebridge-hepek in Homebridge 1.11');

hb.before.each(async (ctx) => {
  ctx.dir = tempDir('homebridge');
  ctx.broker = await startEmbeddedBroker({ host: '127.0.0.1', port: await freePort(), users: [] });
  ctx.gateway = await mqtt.connectAsync(ctx.broker.url, { reconnectPeriod: 0 });
  // What the gateway and its thermostat adapter keep retained on the broker.
  const base = `hepek/${SERIAL}`;
  await ctx.gateway.publishAsync(`${base}/status`, 'online', { qos: 1, retain: true });
  await ctx.gateway.publishAsync(
    `${base}/relay`,
    JSON.stringify({ on: true, changedAt: '', reason: 'initial' }),
    {
      qos: 1,
      retain: true,
    },
  );
  await ctx.gateway.publishAsync(
    `${base}/thermostat`,
    JSON.stringify({ indoorC: 21.3, outdoorC: -4.5, setpointC: 20.5, mode: 'heat' }),
    { qos: 1, retain: true },
  );
  ctx.bridge = undefined;
  ctx.hap = undefined;
});

hb.after.each(async (ctx) => {
  await ctx.hap?.close();
  if (ctx.bridge) await stopHomebridge(ctx.bridge);
  await ctx.gateway.endAsync();
  await ctx.broker.close();
  removeDir(ctx.dir);
});

/** Waits for the next message on `topic` (subscribed before `action` runs). */
async function nextMessage(url: string, topic: string, action: () => Promise<unknown>): Promise<string> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  try {
    const got = new Promise<string>((resolve) => client.on('message', (_t, p) => resolve(p.toString())));
    await client.subscribeAsync(topic, { qos: 1 });
    await action();
    return await got;
  } finally {
    await client.endAsync();
  }
}

hb('pairs, reads the thermostat, and turning the relay off sends OFF to the gateway', async (ctx) => {
  const before = readdirSync(PLUGIN).sort();
  const bridge = await startHomebridge(ctx.dir, {
    platform: 'HEPEK',
    brokerUrl: ctx.broker.url,
    serial: SERIAL,
  });
  ctx.bridge = bridge;
  const hap = new HttpClient(bridge.username, '127.0.0.1', bridge.port);
  ctx.hap = hap;
  const pairStarted = Date.now();
  await hap.pairSetup(PIN);
  const pairMs = Date.now() - pairStarted;
  const { accessories } = (await hap.getAccessories()) as { accessories: HapAccessory[] };
  assert.is(accessories.length, 7, 'bridge + relay, demand switch, thermostat, battery, indoor, outdoor');

  const current = find(accessories, HAP.thermostat, HAP.currentTemperature);
  const target = find(accessories, HAP.thermostat, HAP.targetTemperature);
  const mode = find(accessories, HAP.thermostat, HAP.targetHeatingCooling);
  const read = async (ids: string[]) => {
    const { characteristics } = (await hap.getCharacteristics(ids)) as {
      characteristics: Array<{ aid: number; iid: number; value: unknown }>;
    };
    return ids.map((id) => characteristics.find((c) => `${c.aid}.${c.iid}` === id)!.value);
  };
  // The MQTT state may land a moment after pairing; the retained message is on the broker already.
  let values = await read([current, target, mode]);
  for (let i = 0; i < 50 && values[0] !== 21.3; i++) {
    await new Promise((r) => setTimeout(r, 100));
    values = await read([current, target, mode]);
  }
  assert.equal(values, [21.3, 20.5, 1], 'indoor 21.3 °C, setpoint 20.5 °C, heating');
  const outdoor = find(
    accessories.filter((a) => a.services.some((s) => s.characteristics.some((c) => c.value === -4.5))),
    HAP.temperatureSensor,
    HAP.currentTemperature,
  );
  assert.equal(await read([outdoor]), [-4.5], 'the outdoor sensor goes below 0 °C');

  const relayOn = find(accessories, HAP.outlet, HAP.on);
  const command = await nextMessage(ctx.broker.url, `hepek/${SERIAL}/relay/set`, () =>
    hap.setCharacteristics({ [relayOn]: false }),
  );
  assert.is(command, 'OFF');
  const setpoint = await nextMessage(ctx.broker.url, `hepek/${SERIAL}/thermostat/setpoint/set`, () =>
    hap.setCharacteristics({ [target]: 22.5 }),
  );
  assert.is(setpoint, '22.5');
  const allow = await nextMessage(ctx.broker.url, `hepek/${SERIAL}/demand/allow/set`, () =>
    hap.setCharacteristics({ [find(accessories, HAP.switch, HAP.on)]: false }),
  );
  assert.is(allow, 'OFF');

  // A malformed message from the gateway is ignored, not a crash.
  await ctx.gateway.publishAsync(`hepek/${SERIAL}/thermostat`, 'not json', { qos: 1 });
  await ctx.gateway.publishAsync(`hepek/${SERIAL}/relay`, '{"on":"maybe"}', { qos: 1 });
  assert.equal(await read([current]), [21.3], 'the last good value stays');

  // While the gateway is offline (its last will), HomeKit shows No Response instead of stale values.
  await ctx.gateway.publishAsync(`hepek/${SERIAL}/status`, 'offline', { qos: 1, retain: true });
  let status: unknown = 0;
  for (let i = 0; i < 50 && status === 0; i++) {
    const { characteristics } = (await hap.getCharacteristics([current])) as {
      characteristics: Array<{ status?: number }>;
    };
    status = characteristics[0]!.status ?? 0;
    if (status === 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.is(status, -70402, 'SERVICE_COMMUNICATION_FAILURE');

  // Homebridge ends an orderly SIGTERM shutdown with exit code 128 + 15.
  assert.is(await stopHomebridge(bridge), 143, bridge.output());
  assert.not.match(bridge.output(), /unhandled|uncaught|TypeError|ReferenceError/i);
  assert.equal(readdirSync(PLUGIN).sort(), before, 'the plugin wrote nothing into its own folder');
  console.log(`  pairing with hap-controller took ${pairMs} ms`);
});

hb('unconfigured, the plugin says so and adds no accessory', async (ctx) => {
  const bridge = await startHomebridge(ctx.dir, { platform: 'HEPEK', name: 'HEPEK' });
  ctx.bridge = bridge;
  const hap = new HttpClient(bridge.username, '127.0.0.1', bridge.port);
  ctx.hap = hap;
  await hap.pairSetup(PIN);
  const { accessories } = (await hap.getAccessories()) as { accessories: HapAccessory[] };
  assert.is(accessories.length, 1, 'only the bridge itself');
  assert.match(bridge.output(), 'not configured yet (set brokerUrl and serial); doing nothing');
  assert.equal(
    readdirSync(ctx.dir).filter((f) => !['config.json', 'persist', 'accessories', 'backups'].includes(f)),
    [],
    'nothing but Homebridge’s own files in the storage dir',
  );
});

const logic = suite('homebridge-hepek config and mapping');

logic('config: a bad broker URL or serial is refused naming the field', () => {
  assert.equal(parseConfig({ brokerUrl: 'http://x', serial: 'HPK-1' }), {
    ok: false,
    reason: 'brokerUrl: "http://x" is not allowed; expected an mqtt://, mqtts://, ws:// or wss:// URL',
  });
  assert.equal(parseConfig({ brokerUrl: 'mqtt://x', serial: 'a/b' }), {
    ok: false,
    reason: 'serial: "a/b" is not allowed; expected 3 to 64 letters, digits, dots, dashes or underscores',
  });
  assert.equal(parseConfig({ brokerUrl: 'mqtt://x', serial: 'HPK-1', battery: 'yes' }), {
    ok: false,
    reason: 'battery: "yes" is not allowed; expected true or false',
  });
  const ok = parseConfig({ brokerUrl: 'mqtt://x', serial: 'HPK-1', battery: false });
  assert.ok(ok.ok && ok.config.battery === false && ok.config.thermostat === true);
});

logic('the package is a Homebridge 1.11 platform plugin with a config schema matching its config', () => {
  const pkg = JSON.parse(readFileSync(path.join(PLUGIN, 'package.json'), 'utf8')) as {
    name: string;
    main: string;
    keywords: string[];
    engines: Record<string, string>;
    scripts?: Record<string, string>;
  };
  assert.is(pkg.name, 'homebridge-hepek');
  assert.ok(pkg.keywords.includes('homebridge-plugin'), 'found by Homebridge UI search');
  assert.is(pkg.engines.homebridge, '^1.11.0');
  assert.ok(existsSync(path.join(PLUGIN, pkg.main)), `${pkg.main} is built`);
  assert.not.ok(pkg.scripts?.postinstall ?? pkg.scripts?.install, 'no install scripts');
  const schema = JSON.parse(readFileSync(path.join(PLUGIN, 'config.schema.json'), 'utf8')) as {
    pluginAlias: string;
    pluginType: string;
    schema: { properties: Record<string, { required?: boolean }> };
  };
  assert.is(schema.pluginAlias, PLATFORM_NAME);
  assert.is(schema.pluginType, 'platform');
  const required = Object.entries(schema.schema.properties)
    .filter(([, p]) => p.required)
    .map(([k]) => k);
  assert.equal(required.sort(), ['brokerUrl', 'name', 'serial']);
  // Every option the UI offers is one the plugin reads.
  const all = Object.fromEntries(Object.keys(schema.schema.properties).map((k) => [k, undefined]));
  assert.equal(parseConfig({ ...all, brokerUrl: 'mqtt://h', serial: 'HPK-1' }).ok, true);
});

logic('mapping: HomeKit heating/cooling states follow the gateway mode', () => {
  for (const mode of ['off', 'heat', 'cool', 'auto'] as const)
    assert.is(targetToMode(modeToTarget(mode)), mode);
  assert.throws(() => targetToMode(4), /TargetHeatingCoolingState 4 is not 0, 1, 2 or 3/);
  const t = { indoorC: 19, outdoorC: null, setpointC: 21, mode: 'auto' as const };
  assert.is(currentState(t), 1, 'auto below the setpoint heats');
  assert.is(currentState({ ...t, indoorC: 23 }), 2, 'auto above the setpoint cools');
  assert.is(currentState({ ...t, mode: 'off' }), 0);
});

hb.run();
logic.run();
