/**
 * Outages are normal events: an external MQTT broker that restarts, and a JSON-RPC node that goes
 * away while the gateway runs. The gateway keeps running, says what is wrong, recovers where it
 * can and still stops cleanly.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker/embedded';
import type { MeterReading } from '../gateway/context';
import {
  editorUrl,
  freePort,
  gatewayPorts,
  removeDir,
  startGateway,
  stopCli,
  tempDir,
  until,
  waitForStatus,
  writeSettings,
  type RunningCli,
} from './helpers/gateway';
import { waitForMessages } from './helpers/mqtt';
import { startHardhatNode, type HardhatNode } from './helpers/hardhat-node';

const outages = suite<{ dir: string; cli?: RunningCli; broker?: EmbeddedBroker; node?: HardhatNode }>(
  'outages',
);

outages.before.each((ctx) => {
  ctx.dir = tempDir('outage');
  ctx.cli = undefined;
  ctx.broker = undefined;
  ctx.node = undefined;
});

outages.after.each(async (ctx) => {
  if (ctx.cli) await stopCli(ctx.cli);
  await ctx.broker?.close();
  await ctx.node?.kill();
  removeDir(ctx.dir);
});

/** The first message on `topic` after subscribing (retained ones included). */
const firstMessage = async (url: string, topic: string, timeoutMs: number) =>
  (await waitForMessages(url, topic, () => true, timeoutMs))[0]!;

outages('readings resume after the external MQTT broker restarts', async (ctx) => {
  const brokerPort = await freePort();
  ctx.broker = await startEmbeddedBroker({ host: '127.0.0.1', port: brokerPort, users: [] });
  const ports = await gatewayPorts();
  const settings = writeSettings(ctx.dir, ports, { broker: { url: ctx.broker.url } });
  ctx.cli = startGateway(settings);
  const status = (await waitForStatus(ctx.cli, ports, 'status')) as { serial: string };
  const topic = `hepek/${status.serial}/meter`;
  const before = JSON.parse(await firstMessage(ctx.broker.url, topic, 10_000)) as MeterReading;

  // The broker goes away (retained messages with it) and comes back on the same port.
  await ctx.broker.close();
  ctx.broker = undefined;
  await new Promise((r) => setTimeout(r, 1500));
  assert.is(ctx.cli.proc.exitCode, null, 'the gateway keeps running without its broker');
  ctx.broker = await startEmbeddedBroker({ host: '127.0.0.1', port: brokerPort, users: [] });

  const after = JSON.parse(await firstMessage(ctx.broker.url, topic, 15_000)) as MeterReading;
  assert.ok(Date.parse(after.timestamp) > Date.parse(before.timestamp), 'a new reading after the restart');
  assert.is(
    await firstMessage(ctx.broker.url, `hepek/${status.serial}/status`, 5_000),
    'online',
    'status re-published',
  );
  const stopped = await stopCli(ctx.cli);
  assert.is(stopped.code, 0, ctx.cli.output());
});

outages(
  'a JSON-RPC node that goes away: the gateway keeps running, reports it, and stops cleanly',
  async (ctx) => {
    ctx.node = await startHardhatNode(ctx.dir);
    const rpcUrl = ctx.node.url;
    const ports = await gatewayPorts();
    const settings = writeSettings(ctx.dir, ports, { chain: { rpcUrl } });
    ctx.cli = startGateway(settings);
    const base = editorUrl(ports);
    await waitForStatus(ctx.cli, ports, 'status');

    await ctx.node.kill();

    const response = await until(
      'status to report the outage',
      async () => {
        const r = await fetch(`${base}/hepek/status`);
        return r.status === 503 ? ((await r.json()) as { error: string }) : undefined;
      },
      30_000,
      ctx.cli,
    );
    assert.match(response.error, rpcUrl, `the error names the RPC: ${response.error}`);
    await new Promise((r) => setTimeout(r, 1000));
    assert.is(ctx.cli.proc.exitCode, null, 'still running');
    const stopped = await stopCli(ctx.cli);
    assert.is(stopped.code, 0, ctx.cli.output());
    assert.ok(stopped.ms < 10_000, `stopped in ${stopped.ms} ms`);
  },
);

outages.run();
