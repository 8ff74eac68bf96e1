/**
 * End to end: the real `hepek start` in a temp user dir on free ports — Node-RED serves our nodes
 * and the default flow, readings flow over MQTT, the relay opens when the chain balance is below
 * the threshold, a restart finds the minted balance again, and SIGTERM ends the process cleanly.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt, { type IClientOptions } from 'mqtt';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { MeterReading, RelayState } from '../gateway/context';
import {
  GATEWAY_LOGIN,
  ADMIN,
  ADMIN_AUTH,
  editorUrl,
  gatewayPorts,
  getJson,
  heldWei,
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
import { waitForJson } from './helpers/mqtt';

interface Status extends HeldStatus {
  serial: string;
  wallet: string;
  contracts: { ErgonToken: string; GatewayRegistry: string };
  chain: { chainId: number; rpcUrl: string | null; blockNumber: number };
  balance: { spendableErgon: number; ergonWei: string };
  relay: RelayState;
  meter: MeterReading | null;
}

interface NodeSet {
  id: string;
  module: string;
  types: string[];
  enabled: boolean;
  err?: string;
}

const e2e = suite<{ dir: string; ports: GatewayPorts; cli?: RunningCli }>('gateway end to end');

e2e.before.each(async (ctx) => {
  ctx.dir = tempDir('e2e');
  ctx.ports = await gatewayPorts();
  ctx.cli = undefined;
});

e2e.after.each(async (ctx) => {
  if (ctx.cli) await stopCli(ctx.cli);
  removeDir(ctx.dir);
});

async function boot(ctx: { dir: string; ports: GatewayPorts; cli?: RunningCli }, lowThresholdErgon: number) {
  const settings = writeSettings(ctx.dir, ctx.ports, { balance: { lowThresholdErgon, demoMintErgon: 20 } });
  const cli = startGateway(settings);
  ctx.cli = cli;
  const status = (await waitForStatus(cli, ctx.ports, 'the gateway status endpoint')) as Status;
  return { cli, base: editorUrl(ctx.ports), status };
}

e2e(
  'serves our nodes, flows readings, opens the relay below the threshold, keeps the balance across a restart',
  async (ctx) => {
    // The demo mint is 20 ERGON; a threshold of 50 must make the default flow open the relay.
    const first = await boot(ctx, 50);
    // Spendable = wallet + unspent deposit; billing may already have spent a little of it.
    assert.ok(first.status.balance.spendableErgon <= 20 && first.status.balance.spendableErgon > 19);
    assert.is(first.status.chain.rpcUrl, null);

    const nodes = (await getJson(`${first.base}/nodes`)) as NodeSet[];
    for (const type of ['hepek-config', 'hepek-meter-read', 'hepek-relay']) {
      const set = nodes.find((n) => n.types.includes(type));
      assert.ok(set, `${type} is registered`);
      assert.is(set!.module, 'hepek');
      assert.ok(set!.enabled, `${type} enabled`);
      assert.is(set!.err, undefined, `${type} has no load error`);
    }
    const flows = (await getJson(`${first.base}/flows`)) as Array<{ type: string }>;
    assert.ok(
      flows.some((n) => n.type === 'hepek-meter-read'),
      'the default flow is deployed',
    );

    const readings = await waitForJson<MeterReading>(
      `mqtt://127.0.0.1:${ctx.ports.broker}`,
      `hepek/${first.status.serial}/meter`,
      () => true,
      20_000,
      GATEWAY_LOGIN,
    );
    assert.type(readings[0]!.importWh, 'number');
    const relay = await waitForJson<RelayState>(
      `mqtt://127.0.0.1:${ctx.ports.broker}`,
      `hepek/${first.status.serial}/relay`,
      (s) => !s.on,
      30_000,
      GATEWAY_LOGIN,
    );
    assert.is(relay.at(-1)!.on, false, 'the relay opened');

    // The embedded broker authenticates every client, on defaults too: no anonymous login; the
    // device's own login (from `hepek broker-credentials`) reaches its own topics only; a serial
    // that is not registered in the GatewayRegistry is refused even with the right HMAC password.
    const brokerUrl = `mqtt://127.0.0.1:${ctx.ports.broker}`;
    const loginOf = async (device: string) => {
      const run = runCli([
        'broker-credentials',
        '--device',
        device,
        '--json',
        '--user-dir',
        path.join(ctx.dir, 'user'),
      ]);
      const { code } = await run.exited;
      assert.is(code, 0, run.output());
      return JSON.parse(run.output()) as { username: string; password: string };
    };
    const refusal = async (options: IClientOptions) => {
      try {
        const client = await mqtt.connectAsync(brokerUrl, { reconnectPeriod: 0, ...options });
        await client.endAsync();
        return null;
      } catch (err) {
        return (err as Error).message;
      }
    };
    assert.match((await refusal({})) ?? 'admitted', /Not authorized|Bad username or password/);
    const own = await loginOf(first.status.serial);
    assert.is(own.username, first.status.serial);
    const device = await mqtt.connectAsync(brokerUrl, { reconnectPeriod: 0, ...own });
    try {
      const [mine] = await device.subscribeAsync(`hepek/${first.status.serial}/meter`, { qos: 1 });
      assert.is(mine!.qos, 1, 'a device may subscribe to its own topics');
      // SUBACK 0x80: mqtt.js rejects the subscribe.
      const refused = await device.subscribeAsync('hepek/+/meter', { qos: 1 }).then(
        () => null,
        (err: Error) => err,
      );
      assert.ok(refused, "a filter matching other devices' topics is refused");
    } finally {
      await device.endAsync();
    }
    assert.match(
      (await refusal(await loginOf('HPK-NOT-REGISTERED'))) ?? 'admitted',
      /Not authorized|Bad username or password/,
      'an unregistered serial is refused',
    );
    assert.match(
      (await refusal({ username: first.status.serial, password: 'not-the-derived-password' })) ?? 'admitted',
      /Not authorized|Bad username or password/,
    );

    const stopped = await stopCli(first.cli);
    assert.is(stopped.code, 0, `clean exit code\n${first.cli.output()}`);
    assert.ok(stopped.ms < 10_000, `SIGTERM exit took ${stopped.ms} ms`);

    const userDir = path.join(ctx.dir, 'user');
    const keystore = path.join(userDir, 'keys', 'device-keystore.json');
    assert.is(statSync(keystore).mode & 0o777, 0o600, 'keystore file mode');
    assert.ok(existsSync(path.join(userDir, 'chain', 'journal.jsonl')), 'chain journal written');

    // Restart on the same user dir with a low threshold: same chain, same contracts, same balance.
    const second = await boot(ctx, 1);
    assert.equal(second.status.contracts, first.status.contracts, 'contracts reused');
    assert.is(second.status.wallet, first.status.wallet, 'same device key');
    // The payer moves ERGON from the wallet into the channel's deposit; together they are kept.
    assert.is(
      heldWei(second.status),
      heldWei(first.status),
      'balance survived the restart (not minted again)',
    );
    assert.ok(second.status.chain.blockNumber > first.status.chain.blockNumber - 1);
    const latest = (await getJson(`${second.base}/hepek/status`)) as Status;
    assert.ok(
      latest.meter === null || latest.meter.importWh >= (readings[0]!.importWh ?? 0),
      'meter counters carried over',
    );
    const again = await waitForJson<RelayState>(
      `mqtt://127.0.0.1:${ctx.ports.broker}`,
      `hepek/${second.status.serial}/relay`,
      (s) => s.on,
      20_000,
      GATEWAY_LOGIN,
    );
    assert.is(again.at(-1)!.on, true, 'the relay stays closed above the threshold');
    const secondStop = await stopCli(second.cli);
    assert.is(secondStop.code, 0, second.cli.output());
  },
);

e2e('a busy editor port is a clear error naming nodeRed.port', async (ctx) => {
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(ctx.ports.editor, '127.0.0.1', resolve));
  try {
    const settings = writeSettings(ctx.dir, ctx.ports);
    const cli = startGateway(settings);
    ctx.cli = cli;
    const { code } = await cli.exited;
    assert.is(code, 1);
    assert.match(cli.output(), `nodeRed.port: 127.0.0.1:${ctx.ports.editor} is already in use`);
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});

e2e('a busy broker port is a clear error naming broker.port, and nothing is left running', async (ctx) => {
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(ctx.ports.broker, '127.0.0.1', resolve));
  try {
    const settings = writeSettings(ctx.dir, ctx.ports);
    const cli = startGateway(settings);
    ctx.cli = cli;
    const { code, ms } = await cli.exited;
    assert.is(code, 1);
    assert.match(cli.output(), `broker.port: 127.0.0.1:${ctx.ports.broker} is already in use`);
    assert.ok(ms < 30_000, 'it exits by itself');
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
});

e2e('with credentials configured, the editor and the broker admit only those who have them', async (ctx) => {
  const users = [{ username: 'homeassistant', password: 'ha-secret-123' }];
  const settings = writeSettings(ctx.dir, ctx.ports, {
    nodeRed: { adminAuth: ADMIN_AUTH },
    broker: { users },
  });
  const cli = startGateway(settings);
  ctx.cli = cli;
  const base = editorUrl(ctx.ports);
  await until(
    'the editor to answer',
    async () => ((await fetch(`${base}/nodes`)).status === 401 ? true : undefined),
    90_000,
    cli,
  );
  assert.is((await fetch(`${base}/hepek/status`)).status, 401, 'status needs a login too');

  const token = (await (
    await fetch(`${base}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: 'node-red-admin',
        grant_type: 'password',
        scope: '*',
        ...ADMIN,
      }),
    })
  ).json()) as { access_token: string };
  const status = (await (
    await fetch(`${base}/hepek/status`, { headers: { authorization: `Bearer ${token.access_token}` } })
  ).json()) as Status;
  // The demo mint (20), less whatever billing has spent since the channel opened.
  assert.ok(status.balance.spendableErgon <= 20 && status.balance.spendableErgon > 19);

  const url = `mqtt://127.0.0.1:${ctx.ports.broker}`;
  let refused = false;
  try {
    const anonymous = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    await anonymous.endAsync();
  } catch {
    refused = true;
  }
  assert.ok(refused, 'an anonymous MQTT client is refused');
  const [reading] = await waitForJson<MeterReading>(
    url,
    `hepek/${status.serial}/meter`,
    () => true,
    10_000,
    users[0],
  );
  assert.type(reading!.importWh, 'number', 'the gateway publishes on its authenticated broker');
});

e2e('npm start serves the editor and SIGTERM to npm stops the gateway within 10 s', async (ctx) => {
  const { spawn } = await import('node:child_process');
  const settings = writeSettings(ctx.dir, ctx.ports, { log: { level: 'info' } });
  const npm = spawn('npm', ['start'], {
    cwd: path.join(__dirname, '..'),
    env: { ...process.env, HEPEK_SETTINGS: settings, HEPEK_KEYSTORE_PASSWORD: 'test-password' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout!.on('data', (d) => (output += d));
  npm.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
  const base = editorUrl(ctx.ports);
  try {
    await until('the editor via npm start', async () => ((await fetch(base)).ok ? true : undefined), 90_000);
  } catch (err) {
    npm.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n${output}`);
  }
  const sent = Date.now();
  npm.kill('SIGTERM');
  const code = await exited;
  // npm has exited; the gateway must be gone too (the script execs node, so npm's signal reaches it).
  await until(
    'the editor port to close',
    async () => {
      try {
        await fetch(base);
        return undefined;
      } catch {
        return true;
      }
    },
    10_000,
  );
  assert.ok(Date.now() - sent < 10_000, `stopped after ${Date.now() - sent} ms`);
  assert.match(
    output,
    /\[hepek\] stopped/,
    `the gateway logged a clean stop (npm exit code ${code})\n${output}`,
  );
});

e2e.run();
