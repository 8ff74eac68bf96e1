/**
 * End to end with a real serial line: `hepek start` with `meter.type: "dsmr"` on one end of a
 * socat pty pair; telegrams written into the other end at 115200 8N1 become the gateway's
 * readings — journaled, on MQTT and in /hepek/status. Needs Debian's socat.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SerialPort } from 'serialport';
import type { MeterReading } from '../gateway/context';
import { SERIAL_PROFILES } from '../gateway/meters/serial';
import {
  GATEWAY_LOGIN,
  editorUrl,
  gatewayPorts,
  getJson,
  removeDir,
  startGateway,
  stopCli,
  tempDir,
  waitForStatus,
  writeSettings,
  type RunningCli,
} from './helpers/gateway';
import { waitForJson } from './helpers/mqtt';
import { closePort, hasSocat, openMeterEnd, startPtyPair, writeAll, type PtyPair } from './helpers/socat';

const fixture = (name: string) => readFileSync(path.resolve(__dirname, 'fixtures', 'dsmr', name));

interface Ctx {
  dir: string;
  pair?: PtyPair;
  cli?: RunningCli;
  writer?: SerialPort;
}

const e2e = suite<Ctx>('gateway with a DSMR P1 meter on a pty', { dir: '' });
e2e.before.each((ctx) => {
  ctx.dir = tempDir('e2e-dsmr');
});
e2e.after.each(async (ctx) => {
  if (ctx.writer) await closePort(ctx.writer);
  if (ctx.cli) await stopCli(ctx.cli);
  await ctx.pair?.stop();
  removeDir(ctx.dir);
});

e2e(
  'telegrams on the serial line are the gateway readings (MQTT, status); exit 0 on SIGTERM',
  async (ctx) => {
    if (!hasSocat()) {
      if (process.env.CI) assert.unreachable('CI is set but socat is missing (apt-get install socat)');
      console.log('  skipped: socat not found');
      return;
    }
    ctx.pair = await startPtyPair(ctx.dir);
    const ports = await gatewayPorts();
    const settings = writeSettings(ctx.dir, ports, {
      meter: { type: 'dsmr', dsmr: { port: ctx.pair.gateway, retryMs: 100 } },
    });
    ctx.cli = startGateway(settings);
    const base = editorUrl(ports);
    const status = (await waitForStatus(ctx.cli, ports, 'the status endpoint')) as {
      serial: string;
      meter: MeterReading | null;
    };
    assert.is(status.meter, null, 'no telegram yet');

    ctx.writer = await openMeterEnd(ctx.pair.meter, SERIAL_PROFILES.dsmr4);
    const topic = `hepek/${status.serial}/meter`;
    const arrived = waitForJson<MeterReading>(
      `mqtt://127.0.0.1:${ports.broker}`,
      topic,
      (m) => m.importWh === 912468,
      20_000,
      GATEWAY_LOGIN,
    );
    // The port may still be opening; a telegram every 200 ms, as a DSMR 5 meter sends one a second.
    const feeder = setInterval(() => void writeAll(ctx.writer!, fixture('dsmr50-gas-water.txt')), 200);
    try {
      const messages = await arrived;
      // Published after the journal acknowledged it, with its journal sequence number.
      const { seq, ...reading } = messages.at(-1) as MeterReading & { seq: number };
      assert.ok(Number.isInteger(seq) && seq >= 1, `seq ${seq}`);
      assert.equal(reading, {
        timestamp: '2025-06-21T12:30:05.000Z',
        importWh: 912468,
        exportWh: 30003,
        powerW: 1234,
        loadW: 0,
        pvW: 0,
      });
    } finally {
      clearInterval(feeder);
    }
    const after = (await getJson(`${base}/hepek/status`)) as { meter: MeterReading };
    assert.is(after.meter.importWh, 912468);
    const { code } = await stopCli(ctx.cli);
    ctx.cli = undefined;
    assert.is(code, 0);
  },
);

e2e.run();
