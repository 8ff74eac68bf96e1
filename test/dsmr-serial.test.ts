/**
 * The real serial path: a socat pty pair, telegrams written into the meter end with serialport at
 * the configured speed and framing, `hepek-meter-read` reading the other end inside Node-RED —
 * through its own `dsmr` source and through node-red-node-serialport's `serial in` (the shipped
 * p1-serial flow). Needs Debian's socat (in .ci/run); skipped without it, failed under CI.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SerialPort } from 'serialport';
import hepekConfig from '../nodes/hepek-config/hepek-config';
import hepekMeterRead from '../nodes/hepek-meter-read/hepek-meter-read';
import { SERIAL_PROFILES } from '../gateway/meters/serial';
import type { MeterReading } from '../gateway/context';
import type { NodeMessage } from '../nodes/shared/red';
import { removeDir, tempDir } from './helpers/gateway';
import {
  AT,
  CATCH,
  CAUGHT,
  coreNode,
  flowTab,
  helper,
  lastStatus,
  nextMessage,
  OUT,
  type TestNode,
  until,
} from './helpers/node-red';
import { closePort, hasSocat, openMeterEnd, startPtyPair, writeAll, type PtyPair } from './helpers/socat';

const FIXTURES = path.resolve(__dirname, 'fixtures', 'dsmr');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name));
const NODES = [hepekConfig, hepekMeterRead];

const TAB = flowTab('serial');

function meterNode(port: string, extra: Record<string, unknown> = {}) {
  return {
    id: 'meter',
    type: 'hepek-meter-read',
    z: 'f1',
    ...AT,
    source: 'dsmr',
    port,
    profile: 'dsmr4',
    retryMs: '50',
    ...extra,
    wires: [['out']],
  };
}

const available = hasSocat();

interface Ctx {
  dir: string;
  pair?: PtyPair;
  writer?: SerialPort;
}

const serial = suite<Ctx>('hepek-meter-read on a socat pty pair', { dir: '' });
serial.before(() => helper.startServer());
serial.after(() => helper.stopServer());
serial.before.each(async (ctx) => {
  ctx.dir = tempDir('dsmr-serial');
  if (available) ctx.pair = await startPtyPair(ctx.dir);
});
serial.after.each(async (ctx) => {
  await helper.unload();
  if (ctx.writer) await closePort(ctx.writer);
  await ctx.pair?.stop();
  removeDir(ctx.dir);
  ctx.writer = undefined;
});

function skipWithoutSocat(): boolean {
  if (available) return false;
  if (process.env.CI) assert.unreachable('CI is set but socat is missing (apt-get install socat)');
  console.log('  skipped: socat not found (apt-get install socat)');
  return true;
}

const isOpen = (node: TestNode) => () => lastStatus(node)?.fill === 'green';

serial('dsmr4 (115200 8N1): telegrams become readings; a bad CRC goes to Catch', async (ctx) => {
  if (skipWithoutSocat()) return;
  const pair = ctx.pair!;
  await helper.load(NODES, [TAB, meterNode(pair.gateway), OUT, CATCH, CAUGHT]);
  const meter = helper.getNode('meter');
  await until(isOpen(meter), 'the port to open', 10_000);
  ctx.writer = await openMeterEnd(pair.meter, SERIAL_PROFILES.dsmr4);

  const first = nextMessage(helper.getNode('out'), 10_000);
  await writeAll(ctx.writer, fixture('dsmr50-gas-water.txt'));
  const msg = await first;
  assert.is(msg.topic, 'meter');
  assert.equal(msg.payload, {
    timestamp: '2025-06-21T12:30:05.000Z',
    importWh: 912468,
    exportWh: 30003,
    powerW: 1234,
    loadW: 0,
    pvW: 0,
  } satisfies MeterReading);
  const telegram = msg.telegram as { mbus: { type: string; value: number }[]; crc: { valid: boolean } };
  assert.equal(
    telegram.mbus.map((m) => [m.type, m.value]),
    [
      ['gas', 1234.567],
      ['water', 42.125],
    ],
  );
  assert.is(telegram.crc.valid, true);
  assert.is(lastStatus(meter)?.shape, 'dot');

  // A corrupt telegram then a good one in one write: Catch gets the first, out the second.
  const caught = nextMessage(helper.getNode('caught'), 10_000);
  const next = nextMessage(helper.getNode('out'), 10_000);
  await writeAll(
    ctx.writer,
    Buffer.concat([fixture('dsmr50-bad-crc.txt'), fixture('dsmr50-export-zero-clock.txt')]),
  );
  const [refused, accepted] = await Promise.all([caught, next]);
  const error = refused.error as { message: string };
  assert.match(
    error.message,
    /TelegramError: crc: "4D4E" is not allowed; expected [0-9A-F]{4}, the CRC16\/ARC/,
  );
  assert.is((refused.telegram as { crc: { valid: boolean } }).crc.valid, false, 'the values reach Catch');
  assert.is((accepted.payload as MeterReading).powerW, -3210);
});

serial('dsmr2 (9600 7E1): a DSMR 2.2 telegram without CRC, gas on the next line', async (ctx) => {
  if (skipWithoutSocat()) return;
  const pair = ctx.pair!;
  await helper.load(NODES, [TAB, meterNode(pair.gateway, { profile: 'dsmr2' }), OUT]);
  await until(isOpen(helper.getNode('meter')), 'the port to open', 10_000);
  ctx.writer = await openMeterEnd(pair.meter, SERIAL_PROFILES.dsmr2);
  const arrived = nextMessage(helper.getNode('out'), 10_000);
  await writeAll(ctx.writer, fixture('dsmr22-gas.txt'));
  const msg = await arrived;
  assert.is((msg.payload as MeterReading).importWh, 300300);
  assert.is((msg.telegram as { mbus: { value: number }[] }).mbus[0]!.value, 321.987);
});

serial('a lost port is a red status and one Catch error; readings resume when it is back', async (ctx) => {
  if (skipWithoutSocat()) return;
  const pair = ctx.pair!;
  await helper.load(NODES, [TAB, meterNode(pair.gateway), OUT, CATCH, CAUGHT]);
  const meter = helper.getNode('meter');
  await until(isOpen(meter), 'the port to open', 10_000);

  const caught = nextMessage(helper.getNode('caught'), 10_000);
  await pair.stop();
  const error = (await caught).error as { message: string };
  assert.match(error.message, `serial port ${pair.gateway} (115200 8N1)`);
  assert.match(error.message, 'retrying every 50 ms');
  await until(() => lastStatus(meter)?.fill === 'red', 'a red status', 10_000);

  // socat back at the same paths: the node reopens by itself.
  ctx.pair = await startPtyPair(ctx.dir);
  await until(isOpen(meter), 'the port to reopen', 10_000);
  ctx.writer = await openMeterEnd(ctx.pair.meter, SERIAL_PROFILES.dsmr4);
  const arrived = nextMessage(helper.getNode('out'), 10_000);
  await writeAll(ctx.writer, fixture('emucs-gas-water.txt'));
  assert.is(((await arrived).payload as MeterReading).importWh, 90000);
});

serial('flows/p1-serial.json: serial in → hepek-meter-read (raw) on the pty', async (ctx) => {
  if (skipWithoutSocat()) return;
  const pair = ctx.pair!;
  const flow = (
    JSON.parse(
      readFileSync(path.resolve(__dirname, '..', 'flows', 'p1-serial.json'), 'utf8'),
    ) as NodeMessage[]
  ).map((n) => {
    if (n.type === 'serial-port') return { ...n, serialport: pair.gateway };
    // The test listens where the debug nodes would.
    if (n.id === 'p1-meter') return { ...n, wires: [['out']] };
    if (n.id === 'p1-catch') return { ...n, wires: [['caught']] };
    return n;
  });
  const out = { ...OUT, z: 'p1-tab' };
  const caughtNode = { ...CAUGHT, z: 'p1-tab' };
  await helper.load(
    [
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('node-red-node-serialport/25-serial.js'),
      coreNode('90-comment.js'),
      coreNode('21-debug.js'),
      ...NODES,
    ],
    [...flow, out, caughtNode],
  );
  // serial in reports "connected" once its port is open.
  const serialIn = helper.getNode('p1-serial-in');
  await until(() => lastStatus(serialIn)?.fill === 'green', 'serial in to connect', 10_000);
  ctx.writer = await openMeterEnd(pair.meter, SERIAL_PROFILES.dsmr4);

  const first = nextMessage(helper.getNode('out'), 10_000);
  await writeAll(ctx.writer, Buffer.concat([Buffer.from('ff00noise'), fixture('dsmr50-gas-water.txt')]));
  assert.is(((await first).payload as MeterReading).importWh, 912468);

  const caught = nextMessage(helper.getNode('caught'), 10_000);
  await writeAll(ctx.writer, fixture('dsmr50-bad-crc.txt'));
  assert.match(((await caught).error as { message: string }).message, 'crc: "4D4E" is not allowed');
});

serial.run();
