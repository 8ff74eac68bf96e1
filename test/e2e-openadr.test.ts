/**
 * Demand response from a utility's VTN through the real `hepek start`: the gateway's VEN polls a
 * VTN written in the test (over HTTPS with a self-signed certificate when openssl is there); the
 * event appears as an active DEMAND on `hepek/<serial>/demand` (what Home Assistant's "DEMAND
 * active" shows) and the VTN gets an opt-in report from the gateway's serial; after the household
 * switches demand response off (HA's switch), a changed event is opted out.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt from 'mqtt';
import type { DemandEvent } from '../gateway/demand/types';
import type { OadrEvent } from '../gateway/integrations/openadr/oadr3';
import {
  GATEWAY_LOGIN,
  gatewayPorts,
  removeDir,
  startGateway,
  stopCli,
  tempDir,
  until,
  waitForStatus,
  writeSettings,
  type GatewayPorts,
  type RunningCli,
} from './helpers/gateway';
import { waitForJson, waitForMessages } from './helpers/mqtt';
import { selfSignedCert, TOKEN, Vtn } from './helpers/vtn';

interface Ctx {
  dir: string;
  ports: GatewayPorts;
  vtn: Vtn;
  cert: ReturnType<typeof selfSignedCert>;
  cli?: RunningCli;
}

const e2e = suite<Ctx>('OpenADR end to end');

e2e.before.each(async (ctx) => {
  ctx.dir = tempDir('e2e-oadr');
  ctx.ports = await gatewayPorts();
  ctx.vtn = new Vtn();
  // A utility's VTN speaks HTTPS: a self-signed one the gateway trusts via NODE_EXTRA_CA_CERTS.
  ctx.cert = selfSignedCert(ctx.dir);
  if (!ctx.cert) console.log('  openssl is not installed: the VTN runs on plain HTTP');
  await ctx.vtn.start(ctx.cert ?? undefined);
  ctx.cli = undefined;
});

e2e.after.each(async (ctx) => {
  if (ctx.cli) await stopCli(ctx.cli);
  await ctx.vtn.stop();
  removeDir(ctx.dir);
});

function eventNow(level: number, version: string): OadrEvent {
  // Wall clock: the gateway's VEN runs on real time. Started a minute ago, one hour long.
  const start = new Date(Math.floor(Date.now() / 1000 - 60) * 1000).toISOString();
  return {
    id: 'peak-1',
    programID: 'p1',
    modificationDateTime: version,
    intervalPeriod: { start, duration: 'PT1H' },
    intervals: [
      {
        id: 0,
        payloads: [
          { type: 'SIMPLE', values: [level] },
          { type: 'IMPORT_CAPACITY_LIMIT', values: [2] },
        ],
      },
    ],
  };
}

e2e(
  'a VTN event becomes the gateway’s DEMAND and an opt-in report; switched off, it opts out',
  async (ctx) => {
    ctx.vtn.events.push(eventNow(2, 'v1'));
    const settings = writeSettings(ctx.dir, ctx.ports, {
      integrations: { openadr: { vtnUrl: ctx.vtn.url, pollIntervalMs: 1000, region: 'test-grid' } },
    });
    const cli = startGateway(settings, {
      HEPEK_OPENADR_TOKEN: TOKEN,
      ...(ctx.cert ? { NODE_EXTRA_CA_CERTS: ctx.cert.certFile } : {}),
    });
    assert.ok(ctx.vtn.url.startsWith(ctx.cert ? 'https://' : 'http://'));
    ctx.cli = cli;
    const status = (await waitForStatus(cli, ctx.ports)) as { serial: string };
    const url = `mqtt://127.0.0.1:${ctx.ports.broker}`;

    const demand = await waitForJson<{ active: boolean; event: DemandEvent | null }>(
      url,
      `hepek/${status.serial}/demand`,
      (s) => s.active,
      20_000,
      GATEWAY_LOGIN,
    );
    const event = demand.at(-1)!.event!;
    assert.equal(
      {
        id: event.id,
        region: event.region,
        level: event.level,
        targetKw: event.targetKw,
        length: event.end - event.start,
      },
      { id: 'peak-1', region: 'NL-UT', level: 2, targetKw: 2, length: 3600 },
    );
    await until(
      'the opt-in report',
      async () => (ctx.vtn.reports.length > 0 ? true : undefined),
      10_000,
      cli,
    );
    assert.is(ctx.vtn.reports[0]!.clientName, status.serial, 'the VEN name defaults to the serial');
    assert.is(ctx.vtn.reports[0]!.reportName, 'OPT_IN peak-1');

    // The household switches demand response off in Home Assistant; the next version is opted out.
    const ha = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...GATEWAY_LOGIN });
    try {
      await ha.publishAsync(`hepek/${status.serial}/demand/allow/set`, 'OFF', { qos: 1 });
    } finally {
      await ha.endAsync();
    }
    await waitForMessages(
      url,
      `hepek/${status.serial}/demand/allow`,
      (t) => t === 'OFF',
      10_000,
      GATEWAY_LOGIN,
    );
    ctx.vtn.events[0] = eventNow(3, 'v2');
    await until(
      'the opt-out report',
      async () => (ctx.vtn.reports.length > 1 ? true : undefined),
      10_000,
      cli,
    );
    assert.is(ctx.vtn.reports[1]!.reportName, 'OPT_OUT peak-1');
    const after = await waitForJson<{ active: boolean }>(
      url,
      `hepek/${status.serial}/demand`,
      (s) => !s.active,
      10_000,
      GATEWAY_LOGIN,
    );
    assert.is(after.at(-1)!.active, false, 'an opted-out event is not acted upon');
    const stopped = await stopCli(cli);
    assert.is(stopped.code, 0, cli.output());
  },
);

e2e.run();
