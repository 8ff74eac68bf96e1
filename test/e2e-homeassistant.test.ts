/**
 * Home Assistant against the real `hepek start`: `hepek ha-credentials --json` gives the account HA
 * logs in with, the discovery payload is on the gateway's own broker at start and passes HA's
 * rules, the entities whose data exists (meter, relay, balance, the simulated battery and heat pump)
 * have live values carrying the fields their templates read, HA's switch command reaches the relay
 * and its setpoint the simulated heat pump; and on an external broker (Debian mosquitto) a killed
 * gateway's last will makes every entity unavailable.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt, { type IClientOptions } from 'mqtt';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RelayState } from '../gateway/context';
import { validateDeviceDiscovery } from '../gateway/integrations/homeassistant/rules';
import { startMosquitto, type Mosquitto } from './helpers/external-broker';
import {
  editorUrl,
  gatewayPorts,
  getJson,
  removeDir,
  runCli,
  startGateway,
  stopCli,
  tempDir,
  until,
  waitForStatus,
  writeSettings,
  type GatewayPorts,
  type HeldStatus,
  type RunningCli,
} from './helpers/gateway';
import { waitForJson, waitForMessages } from './helpers/mqtt';

interface Ctx {
  dir: string;
  ports: GatewayPorts;
  cli?: RunningCli;
  mosquitto?: Mosquitto | null;
}

const e2e = suite<Ctx>('home assistant end to end');

e2e.before.each(async (ctx) => {
  ctx.dir = tempDir('e2e-ha');
  ctx.ports = await gatewayPorts();
  ctx.cli = undefined;
  ctx.mosquitto = undefined;
});

e2e.after.each(async (ctx) => {
  if (ctx.cli) await stopCli(ctx.cli);
  await ctx.mosquitto?.stop();
  removeDir(ctx.dir);
});

/** A flow with no relay node, so only HA switches the relay in this test. */
function quietFlow(dir: string): string {
  const file = path.join(dir, 'quiet-flow.json');
  writeFileSync(
    file,
    JSON.stringify([
      { id: 't1', type: 'tab', label: 'quiet' },
      {
        id: 'c1',
        type: 'comment',
        z: 't1',
        name: 'no relay node: Home Assistant drives the relay',
        x: 200,
        y: 40,
        wires: [],
      },
    ]),
  );
  return file;
}

async function runToEnd(args: string[]): Promise<{ code: number | null; output: string }> {
  const cli = runCli(args);
  const { code } = await cli.exited;
  return { code, output: cli.output() };
}

/** Fields a Jinja template reads from value_json. */
function templateFields(template: unknown): string[] {
  return typeof template === 'string' ? [...template.matchAll(/value_json\.(\w+)/g)].map((m) => m[1]!) : [];
}

e2e(
  'discovery on the gateway’s own broker, live values, HA credentials and the relay command',
  async (ctx) => {
    const admin = { username: 'admin', password: 'admin-secret-1' };
    const settings = writeSettings(ctx.dir, ctx.ports, {
      broker: { users: [admin] },
      nodeRed: { flow: quietFlow(ctx.dir) },
      integrations: { homeAssistant: { balanceIntervalMs: 1000 } },
      // A battery and a heat pump in the simulated home, so SoC, temperatures and the climate are live.
      sim: { battery: {}, thermal: { thermostat: { mode: 'heat', setpointC: 20 } } },
    });

    // Before the first start: the credentials exist already, and only {username, password} is printed.
    const before = await runToEnd(['ha-credentials', '--json', '--settings', settings]);
    assert.is(before.code, 0, before.output);
    const creds = JSON.parse(before.output) as { username: string; password: string };
    assert.equal(Object.keys(creds).sort(), ['password', 'username']);
    assert.ok(creds.password.length >= 16);

    const cli = startGateway(settings);
    ctx.cli = cli;
    const status = (await waitForStatus(cli, ctx.ports)) as { serial: string };
    const url = `mqtt://127.0.0.1:${ctx.ports.broker}`;
    const asHa: IClientOptions = { username: creds.username, password: creds.password };

    try {
      await mqtt.connectAsync(url, {
        reconnectPeriod: 0,
        username: creds.username,
        password: 'wrong-password',
      });
      assert.unreachable('HA account with a wrong password was admitted');
    } catch (err) {
      assert.match((err as Error).message, /Bad username or password|Not authorized/i);
    }

    const [configText] = await waitForMessages(
      url,
      'homeassistant/device/+/config',
      () => true,
      20_000,
      asHa,
    );
    const payload = JSON.parse(configText!) as Record<string, unknown>;
    const topic = `homeassistant/device/hepek_${status.serial}/config`;
    assert.equal(validateDeviceDiscovery(topic, payload), []);
    assert.is((payload.o as { name: string }).name, 'hepek');

    // Entities with a data source today show live values: their state topic carries the template's fields.
    const cmps = payload.cmps as Record<string, Record<string, unknown>>;
    const live = [
      `hepek/${status.serial}/meter`,
      `hepek/${status.serial}/relay`,
      `hepek/${status.serial}/balance`,
    ];
    const checked: string[] = [];
    for (const stateTopic of live) {
      const [text] = await waitForMessages(url, stateTopic, () => true, 20_000, asHa);
      const message = JSON.parse(text!) as Record<string, unknown>;
      for (const [key, c] of Object.entries(cmps)) {
        if (c.state_topic !== stateTopic) continue;
        for (const field of templateFields(c.value_template)) {
          assert.ok(field in message, `${key}: ${stateTopic} carries ${field} (${text})`);
          checked.push(key);
        }
      }
    }
    const [batteryText] = await waitForMessages(
      url,
      `hepek/${status.serial}/battery`,
      () => true,
      20_000,
      asHa,
    );
    const battery = JSON.parse(batteryText!) as { socPct: number; powerW: number };
    assert.type(battery.socPct, 'number');
    for (const key of ['battery_soc', 'battery_power']) {
      for (const field of templateFields(cmps[key]!.value_template))
        assert.ok(field in battery, `${key}: ${field}`);
      checked.push(key);
    }
    for (const key of ['grid_import', 'grid_export', 'grid_power', 'relay', 'ergon_balance', 'battery_soc'])
      assert.ok(checked.includes(key), `${key} has a live value`);
    // The relay is on, so billing may already have spent a little of the channel: the demo mint is
    // exactly wallet + channel deposit (once the channel is open), and the spendable part is wallet +
    // what the hub has not acknowledged.
    type HaBalance = Record<'ergonWei' | 'channelUnspentWei' | 'spendableWei', string>;
    const deposit = await until(
      'the open channel',
      async () => {
        const s = (await getJson(`${editorUrl(ctx.ports)}/hepek/status`)) as HeldStatus;
        return s.channel?.payer?.depositWei ? BigInt(s.channel.payer.depositWei) : undefined;
      },
      20_000,
      cli,
    );
    const balanceTexts = await waitForMessages(
      url,
      `hepek/${status.serial}/balance`,
      (text) => BigInt((JSON.parse(text) as HaBalance).ergonWei) + deposit === 20_000_000_000_000_000_000n,
      5000,
      asHa,
    );
    const haBalance = JSON.parse(balanceTexts.at(-1)!) as HaBalance;
    assert.is(
      BigInt(haBalance.spendableWei),
      BigInt(haBalance.ergonWei) + BigInt(haBalance.channelUnspentWei),
    );
    const [availability] = await waitForMessages(url, payload.avty_t as string, () => true, 5000, asHa);
    assert.is(availability, 'online');

    // HA's switch command reaches the relay, and the relay's new state comes back to HA.
    const ha = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...asHa });
    try {
      const relayTopic = `hepek/${status.serial}/relay`;
      const offSeen = waitForJson<RelayState>(url, relayTopic, (s) => !s.on, 20_000, asHa);
      await ha.publishAsync(cmps.relay!.command_topic as string, 'OFF', { qos: 1 });
      const off = (await offSeen).at(-1)!;
      assert.is(off.reason, 'Home Assistant');
      const onSeen = waitForJson<RelayState>(url, relayTopic, (s) => s.on, 20_000, asHa);
      await ha.publishAsync(cmps.relay!.command_topic as string, 'ON', { qos: 1 });
      assert.is((await onSeen).at(-1)!.on, true);
    } finally {
      await ha.endAsync();
    }

    // HA's climate: the simulated heat pump's state is there, and a new setpoint reaches it.
    const thermostatTopic = `hepek/${status.serial}/thermostat`;
    const [thermostatText] = await waitForMessages(url, thermostatTopic, () => true, 20_000, asHa);
    const thermostat = JSON.parse(thermostatText!) as { indoorC: number; setpointC: number; mode: string };
    assert.equal([thermostat.setpointC, thermostat.mode, typeof thermostat.indoorC], [20, 'heat', 'number']);
    const setpointSeen = waitForJson<{ setpointC: number }>(
      url,
      thermostatTopic,
      (t) => t.setpointC === 22.5,
      20_000,
      asHa,
    );
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...asHa });
    try {
      await client.publishAsync(cmps.thermostat!.temperature_command_topic as string, '22.5', { qos: 1 });
    } finally {
      await client.endAsync();
    }
    assert.is((await setpointSeen).at(-1)!.setpointC, 22.5);

    const after = await runToEnd(['ha-credentials', '--json', '--settings', settings]);
    assert.equal(JSON.parse(after.output), creds, 'the same account after the start');
    const stopped = await stopCli(cli);
    assert.is(stopped.code, 0, cli.output());
  },
);

e2e('ha-credentials refuses an external broker with exit code 2, naming broker.url', async (ctx) => {
  const settings = writeSettings(ctx.dir, ctx.ports, { broker: { url: 'mqtt://192.0.2.1:1883' } });
  const { code, output } = await runToEnd(['ha-credentials', '--json', '--settings', settings]);
  assert.is(code, 2);
  assert.match(
    output,
    'hepek: broker.url: "mqtt://192.0.2.1:1883" is not allowed; expected null (the embedded broker)',
  );
});

e2e('on an external mosquitto, the gateway’s last will makes HA’s entities unavailable', async (ctx) => {
  ctx.mosquitto = await startMosquitto(ctx.dir);
  if (!ctx.mosquitto) {
    console.log('  skipped: Debian mosquitto is not installed');
    return;
  }
  const url = ctx.mosquitto.url;
  const settings = writeSettings(ctx.dir, ctx.ports, {
    broker: { url },
    nodeRed: { flow: quietFlow(ctx.dir) },
  });
  const cli = startGateway(settings);
  ctx.cli = cli;
  const [configText] = await until(
    'discovery on mosquitto',
    () => waitForMessages(url, 'homeassistant/device/+/config', () => true, 2000),
    90_000,
    cli,
  );
  const payload = JSON.parse(configText!) as { avty_t: string };
  const ha = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  try {
    const seen: string[] = [];
    let notify = () => {};
    ha.on('message', (_t, p) => {
      seen.push(p.toString());
      notify();
    });
    const next = (want: string) =>
      new Promise<void>((resolve) => {
        notify = () => seen.at(-1) === want && resolve();
        notify();
      });
    const online = next('online');
    await ha.subscribeAsync(payload.avty_t, { qos: 1 });
    await online;
    const offline = next('offline');
    cli.proc.kill('SIGKILL');
    await cli.exited;
    await offline;
    assert.equal(seen.slice(-2), ['online', 'offline'], 'the broker published the last will');
  } finally {
    await ha.endAsync();
  }
});

e2e.run();
