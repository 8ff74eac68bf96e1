/** hepek-meter-read's sources through node-red-node-test-helper: raw P1 bytes, its own meters, bad configs. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import hepekConfig from '../nodes/hepek-config/hepek-config';
import hepekMeterRead from '../nodes/hepek-meter-read/hepek-meter-read';
import type { MeterReading } from '../gateway/context';
import type { NodeMessage } from '../nodes/shared/red';
import { SDM630 } from '../gateway/meters/modbus';
import { findMeterType } from '../gateway/meters/registry';
import { meterReadSources } from '../nodes/hepek-meter-read/logic';
import {
  AT,
  CATCH,
  CAUGHT,
  collect,
  flowTab,
  helper,
  lastStatus,
  nextMessage,
  OUT,
  statuses,
  until,
} from './helpers/node-red';
import { fakeModbusDevice } from './helpers/modbus';

const fixture = (name: string) => readFileSync(path.resolve(__dirname, 'fixtures', 'dsmr', name));
const NODES = [hepekConfig, hepekMeterRead];
const TAB = flowTab('meter-read');

const meter = (extra: Record<string, unknown>) => ({
  id: 'meter',
  type: 'hepek-meter-read',
  z: 'f1',
  ...AT,
  ...extra,
  wires: [['out']],
});

const errorText = (msg: NodeMessage) => (msg.error as { message: string }).message;

const raw = suite('hepek-meter-read source raw');
raw.before(() => helper.startServer());
raw.after(() => helper.stopServer());
raw.after.each(() => helper.unload());

raw('a telegram cut across messages (string, Buffer, line by line) is one reading', async () => {
  await helper.load(NODES, [TAB, meter({ source: 'raw' }), OUT]);
  const node = helper.getNode('meter');
  const out = collect(helper.getNode('out'));
  const bytes = fixture('dsmr50-gas-water.txt');
  node.receive({ payload: bytes.subarray(0, 100).toString('latin1') });
  node.receive({ payload: bytes.subarray(100, 500) });
  const lines = bytes
    .subarray(500)
    .toString('latin1')
    .split(/(?<=\n)/);
  for (const [i, line] of lines.entries()) node.receive({ payload: Buffer.from(line, 'latin1'), part: i });
  await until(() => out.length === 1, 'one reading');
  const msg = out[0]!;
  assert.is(msg.topic, 'meter');
  assert.is((msg.payload as MeterReading).importWh, 912468);
  assert.is(msg.part, lines.length - 1, 'the message that completed the telegram carries it');
  assert.is((msg.telegram as { equipmentId: string }).equipmentId, 'HEPK00001');
  assert.equal(lastStatus(node), { fill: 'blue', shape: 'dot', text: 'hepek-meter-read.status.import' });
});

raw('two telegrams in one message: two readings, in order', async () => {
  await helper.load(NODES, [TAB, meter({ source: 'raw' }), OUT]);
  const out = collect(helper.getNode('out'));
  helper.getNode('meter').receive({
    payload: Buffer.concat([fixture('dsmr50-gas-water.txt'), fixture('emucs-gas-water.txt')]),
  });
  await until(() => out.length === 2, 'two readings');
  assert.equal(
    out.map((m) => (m.payload as MeterReading).importWh),
    [912468, 90000],
  );
});

raw('a bad CRC: no reading, Catch gets the reason and the decoded values, the next one passes', async () => {
  await helper.load(NODES, [TAB, meter({ source: 'raw' }), OUT, CATCH, CAUGHT]);
  const node = helper.getNode('meter');
  const out = collect(helper.getNode('out'));
  const caught = nextMessage(helper.getNode('caught'));
  node.receive({ payload: fixture('dsmr50-bad-crc.txt') });
  const msg = await caught;
  assert.match(errorText(msg), /crc: "4D4E" is not allowed; expected [0-9A-F]{4}, the CRC16\/ARC/);
  assert.is((msg.telegram as { energyImportWh: { t1: number } }).energyImportWh.t1, 123457);
  assert.is(lastStatus(node)?.fill, 'red');
  assert.is(out.length, 0);

  const next = nextMessage(helper.getNode('out'));
  node.receive({ payload: fixture('dsmr50-gas-water.txt') });
  assert.is(((await next).payload as MeterReading).importWh, 912468);
});

raw('the status shows the first reading at once and the newest one after a quiet 250 ms', async () => {
  await helper.load(NODES, [TAB, meter({ source: 'raw' }), OUT]);
  const node = helper.getNode('meter');
  const out = collect(helper.getNode('out'));
  for (const name of ['dsmr50-gas-water.txt', 'emucs-gas-water.txt', 'dsmr50-export-zero-clock.txt'])
    node.receive({ payload: fixture(name) });
  await until(() => out.length === 3, 'three readings');
  const shown = () => statuses(node).filter((s) => s.shape === 'dot');
  assert.equal(
    shown().map((s) => s.text),
    ['hepek-meter-read.status.import'],
    'one status for three readings',
  );
  await until(() => shown().length === 2, 'the trailing status', 2000);
  assert.is(shown()[1]!.text, 'hepek-meter-read.status.export', 'the newest reading (exporting)');
});

raw('a payload that is not bytes goes to Catch naming msg.payload', async () => {
  await helper.load(NODES, [TAB, meter({ source: 'raw' }), OUT, CATCH, CAUGHT]);
  const caught = nextMessage(helper.getNode('caught'));
  helper.getNode('meter').receive({ payload: 42 });
  assert.match(
    errorText(await caught),
    'msg.payload: 42 is not allowed; expected P1 telegram bytes as a string or Buffer',
  );
});

raw.run();

// ---------------------------------------------------------------------------------------------
const own = suite('hepek-meter-read sources from the meter registry');
own.before(() => helper.startServer());
own.after(() => helper.stopServer());
own.after.each(() => helper.unload());

own('simulated: the node runs a household of its own and sends its readings', async () => {
  await helper.load(NODES, [
    TAB,
    meter({ source: 'simulated', intervalMs: '20', speed: '3600', pvPeakW: '0' }),
    OUT,
  ]);
  const first = (await nextMessage(helper.getNode('out'))).payload as MeterReading;
  const second = (await nextMessage(helper.getNode('out'))).payload as MeterReading;
  assert.is(first.pvW, 0);
  assert.ok(Date.parse(second.timestamp) > Date.parse(first.timestamp), 'time moves on');
  assert.ok(second.importWh >= first.importWh, 'counters never go back');
});

own('a poll before its own meter has read anything goes to Catch naming the meter', async () => {
  await helper.load(NODES, [
    TAB,
    meter({ source: 'modbus', model: 'sdm630', host: '127.0.0.1', port: '1', intervalMs: '60000' }),
    CATCH,
    CAUGHT,
    OUT,
  ]);
  const refused = nextMessage(helper.getNode('caught'));
  helper.getNode('meter').receive({ payload: 'poll' });
  assert.is(
    errorText(await refused),
    'DeviceUnavailableError: meter (modbus Eastron SDM630): has not produced a reading yet',
  );
});

own(
  'modbus: the node polls an SDM630 of its own over Modbus TCP; the saved serial port default is no TCP port',
  async () => {
    const device = await fakeModbusDevice();
    device.set(SDM630, { powerW: 1400, importWh: 12_345_500, exportWh: 2_500 });
    try {
      // The editor clears a non-numeric port when the source becomes modbus; a flow saved without it is refused.
      await helper.load(NODES, [
        TAB,
        meter({ source: 'modbus', port: '/dev/ttyUSB0', host: '127.0.0.1', intervalMs: '100' }),
        CATCH,
        CAUGHT,
        OUT,
      ]);
      const refused = nextMessage(helper.getNode('caught'));
      helper.getNode('meter').receive({ payload: 'poll' });
      assert.match(errorText(await refused), /port: "\/dev\/ttyUSB0" is not allowed/);
      await helper.unload();

      await helper.load(NODES, [
        TAB,
        meter({
          source: 'modbus',
          model: 'sdm630',
          host: '127.0.0.1',
          port: String(device.port),
          intervalMs: '100',
        }),
        OUT,
      ]);
      const reading = (await nextMessage(helper.getNode('out'), 5000)).payload as MeterReading;
      assert.is(reading.importWh, 12_345_500);
      assert.is(reading.exportWh, 2_500);
      assert.is(reading.powerW, 1400);
    } finally {
      await device.stop();
    }
  },
);

own('the editor offers every source the node accepts; each field it shows belongs to that source', () => {
  const html = readFileSync(
    path.resolve(__dirname, '../nodes/hepek-meter-read/hepek-meter-read.html'),
    'utf8',
  );
  const list = (name: string) =>
    [...(new RegExp(`var ${name} = \\[([^\\]]*)\\]`).exec(html)?.[1] ?? '').matchAll(/'([^']+)'/g)].map(
      (m) => m[1]!,
    );
  assert.equal(list('SOURCES'), meterReadSources());
  const locale = JSON.parse(
    readFileSync(
      path.resolve(__dirname, '../nodes/hepek-meter-read/locales/en-US/hepek-meter-read.json'),
      'utf8',
    ),
  ) as { 'hepek-meter-read': { label: Record<string, string>; source: Record<string, string> } };
  for (const source of list('SOURCES'))
    assert.ok(locale['hepek-meter-read'].source[source], `a locale text for source ${source}`);
  const shown: Record<string, string[]> = {
    dsmr: list('SERIAL_FIELDS'),
    simulated: list('SIM_FIELDS'),
    modbus: list('MODBUS_FIELDS'),
  };
  // Every Modbus option is in the editor (a meter there has no other place to be configured).
  assert.equal([...shown.modbus!].sort(), Object.keys(findMeterType('modbus')!.fields).sort());
  for (const [source, fields] of Object.entries(shown)) {
    const known = Object.keys(findMeterType(source)!.fields);
    for (const field of fields) {
      assert.ok(known.includes(field), `${source}: ${field} is a field of the type`);
      assert.ok(html.includes(`id="node-input-${field}"`), `${source}: an input for ${field}`);
      assert.ok(new RegExp(`\\n\\s+${field}: \\{ value:`).test(html), `${source}: a default for ${field}`);
      assert.ok(locale['hepek-meter-read'].label[field], `${source}: a label for ${field}`);
    }
  }
});

own('bad configs are refused naming the field, on every input', async () => {
  const cases: [name: string, extra: Record<string, unknown>, message: string][] = [
    [
      'unknown source',
      { source: 'zigbee' },
      'source: "zigbee" is not allowed; expected one of gateway, raw, simulated, dsmr, modbus',
    ],
    [
      'dsmr without port',
      { source: 'dsmr', port: '' },
      'port: null is not allowed; expected the serial device path',
    ],
    [
      'bad baud rate',
      { source: 'dsmr', port: '/dev/null', baudRate: '1234' },
      'baudRate: 1234 is not allowed; expected one of 1200,',
    ],
    ['bad parity', { source: 'dsmr', port: '/dev/null', parity: 'maybe' }, 'parity: "maybe" is not allowed'],
    ['bad interval', { source: 'simulated', intervalMs: '1' }, 'intervalMs: 1 is not allowed'],
  ];
  for (const [name, extra, message] of cases) {
    await helper.load(NODES, [TAB, meter(extra), OUT, CATCH, CAUGHT]);
    const caught = nextMessage(helper.getNode('caught'));
    helper.getNode('meter').receive({ payload: 'poll' });
    const text = errorText(await caught);
    assert.match(text, message, name);
    assert.is(lastStatus(helper.getNode('meter'))?.fill, 'red', name);
    await helper.unload();
  }
});

own('dsmr on a port that does not exist: red status, the loss to Catch once, polls say why', async () => {
  await helper.load(NODES, [
    TAB,
    meter({ source: 'dsmr', port: '/dev/hepek-no-such-port', retryMs: '20' }),
    OUT,
    CATCH,
    CAUGHT,
  ]);
  const node = helper.getNode('meter');
  const caught = collect(helper.getNode('caught'));
  await until(() => caught.length === 1, 'the loss reported', 3000);
  const reason = 'serial port /dev/hepek-no-such-port (115200 8N1): Error: No such file or directory';
  assert.match(errorText(caught[0]!), reason);
  assert.is(lastStatus(node)?.fill, 'red');
  assert.match(lastStatus(node)!.text!, 'serial port /dev/hepek-no-such-port');
  // Retries every 20 ms fail the same way and are not reported again; a poll gets the reason.
  const seen = statuses(node).length;
  await until(() => statuses(node).length >= seen + 6, 'three more retries', 3000);
  assert.is(caught.length, 1);
  node.receive({ payload: 'poll' });
  await until(() => caught.length === 2, 'the poll answered', 3000);
  assert.match(errorText(caught[1]!), reason);
});

own.run();
