/**
 * Modbus meters against a Modbus TCP server in the test (modbus-serial's ServerTCP): an Eastron
 * SDM630 and a SunSpec model-103 inverter, a device that stops answering and comes back, a device
 * that is switched off and on, the config refusals, and Modbus RTU over a socat pty pair.
 */
import { suite } from 'uvu';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ServerSerial } from 'modbus-serial';
import * as assert from 'uvu/assert';
import { ConfigError, DeviceUnavailableError } from '../gateway/errors';
import {
  decodeModbusMeterConfig,
  fromConfig,
  meterFromRegistry,
  SDM630,
  SUNSPEC_INVERTER_103,
  type ModbusReading,
} from '../gateway/meters/modbus';
import type { ModbusMeter } from '../gateway/meters/modbus/meter';
import { decodeRegisters, encodeRegisters, planReads, wordsFrom } from '../gateway/meters/modbus/registers';
import { removeDir, tempDir } from './helpers/gateway';
import { fakeModbusDevice, type FakeModbusDevice } from './helpers/modbus';

/** Values a float32 holds exactly, so the assertions can be exact. */
const SDM_VALUES = {
  l1VoltageV: 230.5,
  l2VoltageV: 231.25,
  l3VoltageV: 229.75,
  l1CurrentA: 4.5,
  l2CurrentA: 2.25,
  l3CurrentA: 0.5,
  l1PowerW: 1000,
  l2PowerW: 500,
  l3PowerW: -100,
  powerW: 1400,
  frequencyHz: 50,
  importWh: 12_345_500,
  exportWh: 2_500,
};

interface Ctx {
  device: FakeModbusDevice;
  meter?: ModbusMeter;
  logs: string[];
}

const sdm = suite<Ctx>('Eastron SDM630 over Modbus TCP', {} as Ctx);
sdm.before.each(async (ctx) => {
  ctx.device = await fakeModbusDevice();
  ctx.device.set(SDM630, SDM_VALUES);
  ctx.logs = [];
});
sdm.after.each(async (ctx) => {
  await ctx.meter?.close();
  ctx.meter = undefined;
  await ctx.device.stop();
});

function sdmMeter(ctx: Ctx, extra: Record<string, unknown> = {}): ModbusMeter {
  ctx.meter = fromConfig(
    {
      model: 'sdm630',
      host: '127.0.0.1',
      port: ctx.device.port,
      timeoutMs: 300,
      retries: 1,
      retryDelayMs: 0,
      ...extra,
    },
    { log: (text) => ctx.logs.push(text) },
  );
  return ctx.meter;
}

sdm('a reading has the MeterReading fields in W and Wh, and the three phases', async (ctx) => {
  const reading = await sdmMeter(ctx).readOnce();
  assert.is(reading.importWh, 12_345_500);
  assert.is(reading.exportWh, 2_500);
  assert.is(reading.powerW, 1400);
  assert.is(reading.loadW, 0);
  assert.is(reading.pvW, 0);
  assert.is(reading.frequencyHz, 50);
  assert.equal(reading.phases, [
    { voltageV: 230.5, currentA: 4.5, powerW: 1000 },
    { voltageV: 231.25, currentA: 2.25, powerW: 500 },
    { voltageV: 229.75, currentA: 0.5, powerW: -100 },
  ]);
  assert.is(reading.model, 'Eastron SDM630');
  assert.ok(!Number.isNaN(Date.parse(reading.timestamp)));
  assert.is(ctx.meter!.status().available, true);
});

sdm('the whole map is read in one request', async (ctx) => {
  assert.equal(planReads(SDM630), [{ fc: 4, address: 0, count: 76 }]);
  await sdmMeter(ctx).readOnce();
  assert.is(ctx.device.requests, 1);
});

sdm('a device that stops answering is a status, not a crash, and recovers by itself', async (ctx) => {
  const meter = sdmMeter(ctx);
  const statuses: boolean[] = [];
  meter.onStatus((s) => statuses.push(s.available));
  await meter.readOnce();

  ctx.device.silent = true;
  const err = await meter.readOnce().then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(err, DeviceUnavailableError);
  assert.is(
    (err as Error).message,
    `modbus tcp 127.0.0.1:${ctx.device.port} unit 1: did not answer reading 76 input registers at 0 (2 attempts, 300 ms each): Timed out`,
  );
  assert.equal(meter.status(), {
    available: false,
    lastError: (err as Error).message.split(': ').slice(1).join(': '),
    consecutiveFailures: 1,
  });
  assert.ok(meter.latest(), 'the last good reading is kept');

  ctx.device.silent = false;
  ctx.device.set(SDM630, { ...SDM_VALUES, importWh: 12_346_000 });
  const again = await meter.readOnce();
  assert.is(again.importWh, 12_346_000);
  assert.equal(meter.status(), { available: true, lastError: null, consecutiveFailures: 0 });
  assert.equal(statuses, [true, false, true]);
  assert.ok(ctx.logs.some((l) => l.includes('not answering')));
  assert.ok(ctx.logs.some((l) => l.includes('answering again')));
});

sdm('the poll loop keeps going through an outage: readings pause, then resume', async (ctx) => {
  const meter = sdmMeter(ctx, { intervalMs: 100, timeoutMs: 100, retries: 0 });
  const readings: ModbusReading[] = [];
  const statuses: boolean[] = [];
  meter.subscribe((r) => readings.push(r as ModbusReading));
  const waitFor = (what: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      const off = meter.onStatus(() => {
        if (what()) {
          off();
          resolve();
        }
      });
    });
  meter.onStatus((s) => statuses.push(s.available));
  const wentAway = waitFor(() => statuses.at(-1) === false);
  meter.start();
  await new Promise<void>((resolve) => {
    const off = meter.subscribe(() => {
      off();
      resolve();
    });
  });
  ctx.device.silent = true;
  await wentAway;
  assert.match(
    meter.status().lastError ?? '',
    /did not answer reading 76 input registers at 0 \(1 attempt, 100 ms each\)/,
  );
  const seenDuringOutage = readings.length;
  const cameBack = waitFor(() => statuses.at(-1) === true);
  ctx.device.silent = false;
  await cameBack;
  await new Promise<void>((resolve) => {
    const off = meter.subscribe(() => {
      off();
      resolve();
    });
  });
  assert.ok(readings.length > seenDuringOutage, 'readings resumed');
  assert.equal(statuses.slice(0, 3), [true, false, true]);
});

sdm('a device switched off and on again (connection refused) comes back on the next read', async (ctx) => {
  const meter = sdmMeter(ctx, { retries: 0 });
  await meter.readOnce();
  await ctx.device.stop();
  const err = await meter.readOnce().then(
    () => null,
    (e: unknown) => e as Error,
  );
  assert.instance(err, DeviceUnavailableError);
  assert.match(
    err!.message,
    /did not answer reading 76 input registers at 0 \(1 attempt, 300 ms each\): .*(ECONNREFUSED|Timed out)/,
  );
  await ctx.device.start();
  assert.is((await meter.readOnce()).importWh, 12_345_500);
  assert.is(meter.status().available, true);
});

sdm.run();

// ---------------------------------------------------------------------------------------------
const SUNSPEC_BASE = 40000;
/** Common model (1) of 65 registers, then model 103 of 50 registers, then the end marker. */
const MODEL_103_AT = SUNSPEC_BASE + 2 + 2 + 65;

function serveSunSpec(device: FakeModbusDevice, values: Record<string, number>): void {
  device.setWords(3, SUNSPEC_BASE, [0x5375, 0x6e53, 1, 65]);
  device.setWords(3, MODEL_103_AT, [103, 50]);
  device.set(SUNSPEC_INVERTER_103, values, MODEL_103_AT);
  device.setWords(3, MODEL_103_AT + 52, [0xffff, 0]);
}

const sunspec = suite<Ctx>('SunSpec inverter (model 103) over Modbus TCP', {} as Ctx);
sunspec.before.each(async (ctx) => {
  ctx.device = await fakeModbusDevice();
  ctx.logs = [];
});
sunspec.after.each(async (ctx) => {
  await ctx.meter?.close();
  ctx.meter = undefined;
  await ctx.device.stop();
});

sunspec('finds model 103 in the chain and applies the scale factors', async (ctx) => {
  serveSunSpec(ctx.device, {
    modelId: 103,
    A_SF: -2,
    currentA: 10.5,
    l1CurrentA: 3.5,
    l2CurrentA: 3.5,
    l3CurrentA: 3.5,
    V_SF: -1,
    l1VoltageV: 230.1,
    l2VoltageV: 229.9,
    l3VoltageV: 231,
    W_SF: 1,
    powerW: 2340,
    Hz_SF: -2,
    frequencyHz: 49.98,
    WH_SF: 0,
    energyWh: 8_765_432,
    Tmp_SF: -1,
    heatSinkC: 41.5,
    operatingState: 4,
  });
  ctx.meter = fromConfig(
    { model: 'sunspec', host: '127.0.0.1', port: ctx.device.port, timeoutMs: 300 },
    { log: (text) => ctx.logs.push(text) },
  );
  const reading = await ctx.meter.readOnce();
  assert.is(reading.pvW, 2340);
  assert.is(reading.powerW, -2340, 'a generation meter: power flows out');
  assert.is(reading.exportWh, 8_765_432, 'lifetime production');
  assert.is(reading.importWh, 0);
  assert.is(reading.frequencyHz, 49.98);
  assert.equal(reading.phases[0], { voltageV: 230.1, currentA: 3.5, powerW: null });
  assert.is(reading.registers.heatSinkC, 41.5);
  assert.is(reading.registers.operatingState, 4);
});

sunspec('a device without the SunS marker is named in a clear error', async (ctx) => {
  ctx.meter = fromConfig(
    { model: 'sunspec', host: '127.0.0.1', port: ctx.device.port, timeoutMs: 300 },
    { log: (text) => ctx.logs.push(text) },
  );
  const err = await ctx.meter.readOnce().then(
    () => null,
    (e: unknown) => e as Error,
  );
  assert.instance(err, DeviceUnavailableError);
  assert.match(
    err!.message,
    "no SunSpec marker 'SunS' at register 40000 (read [0,0]); check options.sunspecBase",
  );
});

sunspec('not-implemented values (0x8000, acc32 0) decode to null, not to numbers', () => {
  const words = new Map<number, number>();
  wordsFrom(
    { fc: 3, address: 0, count: 40 },
    Array.from({ length: 40 }, (_, i) => (i === 14 ? 0x8000 : i === 15 ? 0 : 0)),
    words,
  );
  const values = decodeRegisters(SUNSPEC_INVERTER_103, words);
  assert.is(values.powerW, null);
  assert.is(values.energyWh, null);
});

sunspec.run();

// ---------------------------------------------------------------------------------------------
const config = suite('Modbus meter options');

config('defaults: SDM630 as the grid meter, unit 1, 1 s interval, 2 retries', () => {
  assert.equal(decodeModbusMeterConfig({ host: '10.0.0.5' }), {
    model: 'sdm630',
    usage: 'grid',
    link: {
      transport: { kind: 'tcp', host: '10.0.0.5', port: 502 },
      unitId: 1,
      timeoutMs: 1000,
      retries: 2,
      retryDelayMs: 200,
    },
    intervalMs: 1000,
    sunspecBase: 40000,
  });
  assert.equal(
    decodeModbusMeterConfig({ model: 'sunspec', path: '/dev/ttyUSB0', parity: 'even' }).link.transport,
    {
      kind: 'rtu',
      path: '/dev/ttyUSB0',
      baudRate: 9600,
      parity: 'even',
      dataBits: 8,
      stopBits: 1,
    },
  );
});

config('refusals name the field, the value and what is allowed', () => {
  const cases: [string, unknown, string][] = [
    [
      'neither host nor path',
      {},
      'meter.options.host: undefined is not allowed; expected either host (Modbus TCP) or path (Modbus RTU serial port, e.g. /dev/ttyUSB0), not neither',
    ],
    [
      'both',
      { host: 'a', path: '/dev/x' },
      'meter.options.host: "a" is not allowed; expected either host (Modbus TCP) or path (Modbus RTU serial port, e.g. /dev/ttyUSB0), not both',
    ],
    [
      'unit id',
      { host: 'a', unitId: 300 },
      'meter.options.unitId: 300 is not allowed; expected a unit id from 0 to 247',
    ],
    [
      'model',
      { host: 'a', model: 'sdm120' },
      'meter.options.model: "sdm120" is not allowed; expected one of "sdm630", "sunspec"',
    ],
    [
      'baud',
      { path: '/dev/x', baudRate: 1234 },
      'meter.options.baudRate: 1234 is not allowed; expected one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200',
    ],
    ['typo', { host: 'a', timout: 5 }, 'meter.options.timout: 5 is not allowed; expected a known option'],
    ['not an object', 'sdm630', 'meter.options: "sdm630" is not allowed; expected an object'],
  ];
  for (const [name, raw, message] of cases) {
    try {
      decodeModbusMeterConfig(raw);
      assert.unreachable(name);
    } catch (err) {
      assert.instance(err, ConfigError, name);
      assert.ok((err as Error).message.startsWith(message), `${name}: ${(err as Error).message}`);
    }
  }
});

config('the meter registry entry: field prefix in errors, stop() closes the connection', async () => {
  let refused: Error | null = null;
  try {
    meterFromRegistry({ host: 'a', unitId: -1 }, { fieldPrefix: 'meter.modbus.' });
  } catch (err) {
    refused = err as Error;
  }
  assert.is(refused?.message, 'meter.modbus.unitId: -1 is not allowed; expected a unit id from 0 to 247');
  const device = await fakeModbusDevice();
  device.set(SDM630, SDM_VALUES);
  const meter = meterFromRegistry({ host: '127.0.0.1', port: device.port, intervalMs: 100 });
  const first = new Promise((resolve) => meter.subscribe(resolve));
  meter.start();
  assert.is(((await first) as ModbusReading).powerW, 1400);
  await meter.stop();
  assert.is(device.requests > 0, true);
  await device.stop(); // resolves only once every connection is closed
});

config.run();

// ---------------------------------------------------------------------------------------------
const rtu = suite<{ dir: string; socat?: ChildProcess; server?: ServerSerial; meter?: ModbusMeter }>(
  'Eastron SDM630 over Modbus RTU (a socat pty pair)',
  { dir: '' },
);
rtu.before.each((ctx) => {
  ctx.dir = tempDir('modbus-rtu');
});
rtu.after.each(async (ctx) => {
  await ctx.meter?.close();
  if (ctx.server) await new Promise((resolve) => ctx.server!.close(resolve));
  ctx.socat?.kill('SIGTERM');
  removeDir(ctx.dir);
  Object.assign(ctx, { meter: undefined, server: undefined, socat: undefined });
});

rtu('the same reading over a serial line at 9600 8N1', async (ctx) => {
  const devicePort = path.join(ctx.dir, 'meter');
  const hostPort = path.join(ctx.dir, 'host');
  ctx.socat = spawn('socat', [`pty,raw,echo=0,link=${devicePort}`, `pty,raw,echo=0,link=${hostPort}`], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 5000;
  while (!(existsSync(devicePort) && existsSync(hostPort))) {
    if (Date.now() > deadline) throw new Error('socat did not create the pty pair');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const words = new Map<number, number>();
  for (const { address, word } of encodeRegisters(SDM630, SDM_VALUES)) words.set(address, word);
  ctx.server = new ServerSerial(
    {
      getMultipleInputRegisters: (addr: number, length: number) =>
        Array.from({ length }, (_, i) => words.get(addr + i) ?? 0),
    },
    { path: devicePort, baudRate: 9600, unitID: 1 },
  );
  await new Promise((resolve) => ctx.server!.once('initialized', resolve));
  ctx.meter = fromConfig(
    { model: 'sdm630', path: hostPort, baudRate: 9600, timeoutMs: 1000, retries: 1 },
    { log: () => undefined },
  );
  const reading = await ctx.meter.readOnce();
  assert.is(reading.importWh, 12_345_500);
  assert.is(reading.powerW, 1400);
  assert.equal(reading.phases[2], { voltageV: 229.75, currentA: 0.5, powerW: -100 });
});

rtu.run();
