/** The meter registry, serial options and the `meter.*` settings that choose a meter. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveSettings } from '../settings';
import { ConfigError } from '../gateway/errors';
import { DsmrSerialMeter } from '../gateway/meters/dsmr/meter';
import { createMeter, meterTypeNames } from '../gateway/meters/registry';
import { parseSerialOptions, SerialLink, type LinkStatus, type PortLike } from '../gateway/meters/serial';
import { SimulatedHome } from '../gateway/sim/home';
import { normaliseMeterReadConfig } from '../nodes/hepek-meter-read/logic';
import { currentConfigVersion, migrateConfig } from '../nodes/shared/migrations';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';

function refused(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

// ---------------------------------------------------------------------------------------------
const registry = suite('meter registry');

registry('every type builds from its defaults (sim) or a port (dsmr)', () => {
  assert.equal(meterTypeNames(), ['simulated', 'dsmr', 'modbus']);
  assert.instance(createMeter('simulated', {}), SimulatedHome);
  const dsmr = createMeter('dsmr', { port: '/dev/ttyUSB0' });
  assert.instance(dsmr, DsmrSerialMeter);
  assert.equal((dsmr as DsmrSerialMeter).options, {
    serial: { path: '/dev/ttyUSB0', baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 },
    retryMs: 2000,
  });
});

registry('an unknown type and bad fields are refused naming the field', () => {
  assert.is(
    refused(() => createMeter('zigbee', {})).message,
    'meter.type: "zigbee" is not allowed; expected one of "simulated", "dsmr", "modbus"',
  );
  assert.is(
    refused(() => createMeter('dsmr', { port: '/dev/x', retryMs: 5 }, { fieldPrefix: 'meter.dsmr.' }))
      .message,
    'meter.dsmr.retryMs: 5 is not allowed; expected an integer number of ms from 10 to 600000',
  );
});

registry('serial options: profiles and overrides', () => {
  const cases: [raw: Record<string, unknown>, expected: unknown][] = [
    [{ port: '/dev/p1' }, { path: '/dev/p1', baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 }],
    [
      { port: '/dev/p1', profile: 'dsmr2' },
      { path: '/dev/p1', baudRate: 9600, dataBits: 7, parity: 'even', stopBits: 1 },
    ],
    [
      { port: '/dev/p1', profile: 'dsmr2', baudRate: '115200', dataBits: 8, parity: 'none' },
      { path: '/dev/p1', baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 },
    ],
  ];
  for (const [raw, expected] of cases) assert.equal(parseSerialOptions(raw), expected, JSON.stringify(raw));
  const bad: [raw: Record<string, unknown>, message: string][] = [
    [{}, 'port: null is not allowed; expected the serial device path, e.g. "/dev/ttyUSB0"'],
    [{ port: '/dev/p1', profile: 'dsmr3' }, 'profile: "dsmr3" is not allowed; expected "dsmr4"'],
    [{ port: '/dev/p1', dataBits: 9 }, 'dataBits: 9 is not allowed; expected 5, 6, 7 or 8'],
    [{ port: '/dev/p1', stopBits: '3' }, 'stopBits: "3" is not allowed; expected 1, 1.5 or 2'],
  ];
  for (const [raw, message] of bad) assert.match(refused(() => parseSerialOptions(raw)).message, message);
});

registry('hepek-meter-read takes its sources from the registry and coerces editor strings', () => {
  assert.equal(normaliseMeterReadConfig({}), { source: 'gateway' }, 'saved before sources existed');
  assert.equal(normaliseMeterReadConfig({ source: 'raw', port: '/dev/x' }), { source: 'raw' });
  assert.equal(normaliseMeterReadConfig({ source: 'dsmr', port: ' /dev/x ', baudRate: '9600', parity: '' }), {
    source: 'dsmr',
    meter: { port: '/dev/x', baudRate: 9600 },
  });
  assert.is(
    refused(() => normaliseMeterReadConfig({ source: 'dsmr', baudRate: 'fast' })).message,
    'baudRate: "fast" is not allowed; expected a number for DSMR P1 smart meter (serial)',
  );
});

registry('a hepek-meter-read saved at version 1 (before sources) migrates to source gateway', () => {
  const migrated = migrateConfig('hepek-meter-read', { id: 'm', type: 'hepek-meter-read', configVersion: 1 });
  assert.is(migrated.source, 'gateway');
  assert.is(migrated.configVersion, 2);
  assert.is(currentConfigVersion('hepek-meter-read'), 2);
  const raw = migrateConfig('hepek-meter-read', {
    id: 'm',
    type: 'hepek-meter-read',
    configVersion: 2,
    source: 'raw',
  });
  assert.is(raw.source, 'raw');
});

registry.run();

// ---------------------------------------------------------------------------------------------
const link = suite('serial link reconnects (a fake port, no timers faked: retryMs 10)');

class FakePort extends EventEmitter implements PortLike {
  isOpen = false;
  constructor(private readonly fail: Error | null) {
    super();
  }
  open(callback: (err: Error | null) => void): void {
    this.isOpen = this.fail === null;
    setImmediate(() => callback(this.fail));
  }
  close(callback?: (err: Error | null) => void): void {
    this.isOpen = false;
    callback?.(null);
  }
}

link('open → lost (with a DeviceUnavailableError) → reopened; data flows again', async () => {
  const ports: FakePort[] = [];
  const failures = [null, new Error('ENOENT'), null];
  const states: LinkStatus[] = [];
  const data: string[] = [];
  let next!: () => void;
  const waitFor = (count: number) =>
    new Promise<void>((resolve) => {
      next = () => states.length >= count && resolve();
      next();
    });
  const serial = new SerialLink(
    { path: '/dev/fake', baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 },
    (chunk) => data.push(chunk.toString()),
    (status) => {
      states.push(status);
      next?.();
    },
    {
      retryMs: 10,
      createPort: () => {
        const port = new FakePort(failures[ports.length] ?? null);
        ports.push(port);
        return port;
      },
    },
  );
  serial.start();
  await waitFor(2);
  ports[0]!.emit('data', Buffer.from('a'));
  ports[0]!.isOpen = false;
  ports[0]!.emit('close', new Error('bad file descriptor'));
  await waitFor(7); // lost, connecting, lost (ENOENT), connecting, open
  ports[2]!.emit('data', Buffer.from('b'));
  await serial.stop();
  assert.equal(
    states.map((s) => s.state),
    ['connecting', 'open', 'lost', 'connecting', 'lost', 'connecting', 'open', 'closed'],
  );
  assert.is(
    states[2]!.error?.message,
    'serial port /dev/fake (115200 8N1): the port closed (bad file descriptor); retrying every 10 ms',
  );
  assert.is(states[4]!.error?.code, 'HEPEK_UNAVAILABLE');
  assert.equal(data, ['a', 'b']);
});

link(
  'a port whose device path vanishes while a read hangs is lost, and reopened once it is back',
  async () => {
    let present = true;
    const ports: FakePort[] = [];
    const states: LinkStatus[] = [];
    const serial = new SerialLink(
      { path: '/dev/ttyUSB9', baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 },
      () => {},
      (status) => states.push(status),
      {
        retryMs: 10,
        watchMs: 5,
        exists: () => present,
        createPort: () => {
          // The adapter is gone: opening fails, as serialport's does with ENOENT.
          const port = new FakePort(present ? null : new Error('ENOENT'));
          ports.push(port);
          return port;
        },
      },
    );
    const until = async (what: string, ok: () => boolean) => {
      for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
      assert.ok(ok(), `${what}: ${states.map((s) => s.state).join(', ')}`);
    };
    serial.start();
    try {
      await until('open', () => serial.status().state === 'open');
      // The fake port never emits close or error: only the path check can notice.
      present = false;
      await until('lost', () => states.some((s) => s.state === 'lost'));
      const lost = states.find((s) => s.state === 'lost')!;
      assert.is(
        lost.error?.message,
        'serial port /dev/ttyUSB9 (115200 8N1): /dev/ttyUSB9 went away; retrying every 10 ms',
      );
      await until('a retry while the path is gone', () => ports.length >= 2);
      assert.is(ports[1]!.isOpen, false);
      present = true;
      await until(
        'reopened',
        () => serial.status().state === 'open' && states.filter((s) => s.state === 'open').length === 2,
      );
    } finally {
      await serial.stop();
    }
    // A path that never existed (a test double, a COM port name) is not watched.
    const quiet: LinkStatus[] = [];
    const fake = new SerialLink(
      { path: '/dev/fake', baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 },
      () => {},
      (status) => quiet.push(status),
      { retryMs: 10, watchMs: 5, exists: () => false, createPort: () => new FakePort(null) },
    );
    fake.start();
    await new Promise((r) => setTimeout(r, 50));
    assert.is(fake.status().state, 'open');
    await fake.stop();
    assert.equal(
      quiet.map((s) => s.state),
      ['connecting', 'open', 'closed'],
    );
  },
);

link.run();

// ---------------------------------------------------------------------------------------------
const settings = suite('settings: meter.type dsmr');

settings('defaults keep the simulated meter; dsmr needs a port', () => {
  const s = resolveSettings({}, {});
  assert.is(s.meter.type, 'simulated');
  assert.equal(s.meter.dsmr, {
    port: null,
    profile: 'dsmr4',
    baudRate: null,
    dataBits: null,
    parity: null,
    stopBits: null,
    retryMs: 2000,
  });
  const dsmr = resolveSettings(
    { meter: { type: 'dsmr', dsmr: { port: '/dev/ttyUSB0', profile: 'dsmr2' } } },
    {},
  );
  assert.is(dsmr.meter.dsmr.port, '/dev/ttyUSB0');
  // What the runtime hands the registry builds a 9600 7E1 meter.
  const meter = createMeter('dsmr', dsmr.meter.dsmr) as DsmrSerialMeter;
  assert.equal(meter.options.serial, {
    path: '/dev/ttyUSB0',
    baudRate: 9600,
    dataBits: 7,
    parity: 'even',
    stopBits: 1,
  });
});

settings('refusals name the field, the value and what is allowed', () => {
  const cases: [override: unknown, message: string][] = [
    [
      { meter: { type: 'dsmr' } },
      'meter.dsmr.port: null is not allowed; expected the serial device of the P1 cable (e.g. "/dev/ttyUSB0") when meter.type is "dsmr"',
    ],
    [{ meter: { type: 'p1' } }, 'meter.type: "p1" is not allowed; expected one of "simulated", "dsmr"'],
    [
      { meter: { dsmr: { baudRate: 12345 } } },
      'meter.dsmr.baudRate: 12345 is not allowed; expected null or one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400',
    ],
    [
      { meter: { dsmr: { parity: 'mark' } } },
      'meter.dsmr.parity: "mark" is not allowed; expected one of null, "none", "even", "odd"',
    ],
    [
      { meter: { dsmr: { retryMs: 1 } } },
      'meter.dsmr.retryMs: 1 is not allowed; expected an integer from 10 to 600000',
    ],
    [{ meter: { dsmr: { speed: 1 } } }, 'meter.dsmr.speed: 1 is not allowed; expected a known setting'],
  ];
  for (const [override, message] of cases)
    assert.match(refused(() => resolveSettings(override, {})).message, message, message);
});

settings('settings.sample.json documents meter.dsmr with its defaults', () => {
  const sample = JSON.parse(readFileSync(path.resolve(__dirname, '..', 'settings.sample.json'), 'utf8')) as {
    meter: { dsmr: unknown };
  };
  assert.equal(sample.meter.dsmr, resolveSettings({}, {}).meter.dsmr);
});

settings.run();
