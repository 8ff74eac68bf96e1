/**
 * NMEA position sentences (checksums, fields, a stream in pieces, a real serial line through a
 * socat pty pair), the GPS settings, and the sensors with their units.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { ConfigError, InputError } from '../gateway/errors';
import { nmeaChecksum, parseNmea } from '../gateway/meters/gps/nmea';
import { decodeGpsConfig, NmeaPosition, positionFromConfig } from '../gateway/meters/gps/position';
import type { MqttLink } from '../gateway/devices/mqtt/link';
import { decodeMqttSensor, meterSensors, MqttSensor, valueAt } from '../gateway/sensors';
import { SimulatedHousehold } from '../gateway/sim/household';
import { removeDir, tempDir } from './helpers/gateway';
import { errorOf } from './helpers/assertions';

/** The NMEA 0183 reference examples (their checksums are published with them). */
const GGA = '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47';
const RMC = '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A';

/** A sentence with its checksum recomputed, for field tests past the checksum. */
function sentence(body: string): string {
  return `$${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}`;
}

const nmea = suite('NMEA sentences');

nmea('GGA: position, altitude, satellites, UTC time', () => {
  assert.equal(parseNmea(GGA), {
    sentence: 'GGA',
    talker: 'GP',
    time: '12:35:19.000',
    latitudeDeg: 48.1173,
    longitudeDeg: 11.5166667,
    satellites: 8,
    altitudeM: 545.4,
  });
});

nmea('RMC: position with the date; south and west are negative', () => {
  assert.equal(parseNmea(`${RMC}\r\n`), {
    sentence: 'RMC',
    talker: 'GP',
    time: '1994-03-23T12:35:19.000Z',
    latitudeDeg: 48.1173,
    longitudeDeg: 11.5166667,
    satellites: null,
    altitudeM: null,
  });
  const south = parseNmea(sentence('GNRMC,081836.50,A,3751.65,S,14507.36,W,000.0,360.0,130998,011.3,E'));
  assert.is((south as { latitudeDeg: number }).latitudeDeg, -37.8608333);
  assert.is((south as { longitudeDeg: number }).longitudeDeg, -145.1226667);
  assert.is(south.talker, 'GN');
});

nmea('no fix (GGA quality 0, RMC status V) is not a position', () => {
  assert.equal(parseNmea(sentence('GPGGA,123519,,,,,0,00,,,M,,M,,')), {
    sentence: 'GGA',
    talker: 'GP',
    noFix: true,
  });
  assert.equal(parseNmea(sentence('GPRMC,123519,V,,,,,,,230394,,')), {
    sentence: 'RMC',
    talker: 'GP',
    noFix: true,
  });
});

nmea('bad checksums are refused naming the checksum, the given and the computed value', () => {
  const cases: [string, string, string][] = [
    [
      'GGA off by one',
      GGA.replace('*47', '*48'),
      'checksum: "*48" is not allowed; expected *47 (the XOR of the characters between $ and *)',
    ],
    [
      'RMC with a changed digit',
      RMC.replace('4807.038', '4807.039'),
      'checksum: "*6A" is not allowed; expected *6B (the XOR of the characters between $ and *)',
    ],
    [
      'lower-case hex is read as hex',
      GGA.replace('*47', '*4f'),
      'checksum: "*4F" is not allowed; expected *47 (the XOR of the characters between $ and *)',
    ],
    [
      'missing checksum',
      GGA.slice(0, -3),
      'checksum: null is not allowed; expected a sentence ending in *hh (two hex digits)',
    ],
  ];
  for (const [name, line, message] of cases) {
    const err = errorOf(() => parseNmea(line));
    assert.instance(err, InputError, name);
    assert.is(err.message, message, name);
    assert.is((err as InputError).field, 'checksum', name);
  }
});

nmea('bad fields behind a good checksum are refused naming the field', () => {
  const cases: [string, string, string][] = [
    [
      'latitude',
      'GPGGA,123519,48x7.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,',
      'latitude: "48x7.038" is not allowed; expected ddmm.mmmm (degrees and decimal minutes)',
    ],
    [
      'minutes ≥ 60',
      'GPGGA,123519,4867.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,',
      'latitude: "4867.038" is not allowed; expected at most 90° with minutes below 60',
    ],
    [
      'hemisphere',
      'GPGGA,123519,4807.038,X,01131.000,E,1,08,0.9,545.4,M,46.9,M,,',
      'latitude hemisphere: "X" is not allowed; expected N or S',
    ],
    [
      'longitude',
      'GPRMC,123519,A,4807.038,N,1131.000,E,022.4,084.4,230394,003.1,W',
      'longitude: "1131.000" is not allowed; expected dddmm.mmmm (degrees and decimal minutes)',
    ],
    [
      'time',
      'GPGGA,253519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,',
      'time: "253519" is not allowed; expected hhmmss.sss (UTC)',
    ],
    [
      'RMC status',
      'GPRMC,123519,X,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W',
      'status: "X" is not allowed; expected A (valid) or V (void)',
    ],
    [
      'RMC date',
      'GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,231394,003.1,W',
      'date: "231394" is not allowed; expected ddmmyy',
    ],
    [
      'another sentence',
      'GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1',
      'sentence: "GPGSA" is not allowed; expected GGA or RMC',
    ],
  ];
  for (const [name, body, message] of cases)
    assert.is(errorOf(() => parseNmea(sentence(body))).message, message, name);
  assert.match(errorOf(() => parseNmea('hello')).message, 'sentence: "hello" is not allowed');
});

nmea('a stream in pieces: lines are reassembled, other sentences ignored, bad ones counted', () => {
  const source = new NmeaPosition();
  const seen: number[] = [];
  source.subscribe((p) => seen.push(p.latitudeDeg));
  const text = `garbage\r\n$GPGSV,3,1,11,03,03,111,00*74\r\n${GGA}\r\n${RMC.replace('*6A', '*00')}\r\n${RMC}\r\n`;
  for (let i = 0; i < text.length; i += 7) source.feed(text.slice(i, i + 7));
  assert.equal(seen, [48.1173, 48.1173]);
  assert.is(source.refused, 1);
  assert.match(source.lastError ?? '', 'checksum: "*00"');
  assert.equal(source.position(), {
    latitudeDeg: 48.1173,
    longitudeDeg: 11.5166667,
    altitudeM: 545.4,
    source: 'nmea',
    fixTime: '1994-03-23T12:35:19.000Z',
  });
});

nmea.run();

// ---------------------------------------------------------------------------------------------
const serial = suite<{ dir: string; socat?: ChildProcess; source?: NmeaPosition }>(
  'NMEA over a serial line',
  { dir: '' },
);
serial.before.each((ctx) => {
  ctx.dir = tempDir('nmea');
});
serial.after.each(async (ctx) => {
  await ctx.source?.close();
  ctx.socat?.kill('SIGTERM');
  removeDir(ctx.dir);
});

serial('a receiver on a socat pty pair: sentences written at 4800 baud become a position', async (ctx) => {
  const receiver = path.join(ctx.dir, 'gps');
  const writer = path.join(ctx.dir, 'host');
  ctx.socat = spawn('socat', [`pty,raw,echo=0,link=${receiver}`, `pty,raw,echo=0,link=${writer}`], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 5000;
  while (!(existsSync(receiver) && existsSync(writer))) {
    if (Date.now() > deadline) throw new Error('socat did not create the pty pair');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const gps = decodeGpsConfig({ source: 'nmea', path: receiver, baudRate: 4800 });
  ctx.source = (await positionFromConfig(gps)) as NmeaPosition;
  const fixed = new Promise((resolve) => ctx.source!.subscribe(resolve));
  writeFileSync(writer, `${GGA}\r\n`);
  assert.equal(await fixed, {
    latitudeDeg: 48.1173,
    longitudeDeg: 11.5166667,
    altitudeM: 545.4,
    source: 'nmea',
    fixTime: '12:35:19.000',
  });
});

serial.run();

// ---------------------------------------------------------------------------------------------
const settings = suite('gps settings');

settings('a configured position, none, and the refusals', async () => {
  const fixed = await positionFromConfig(
    decodeGpsConfig({ latitudeDeg: 52.37, longitudeDeg: 4.89, altitudeM: 2 }),
  );
  assert.equal(fixed?.position(), {
    latitudeDeg: 52.37,
    longitudeDeg: 4.89,
    altitudeM: 2,
    source: 'settings',
    fixTime: null,
  });
  assert.is(await positionFromConfig(decodeGpsConfig({})), null);
  const cases: [unknown, string][] = [
    [
      { source: 'nmea' },
      'gps.path: null is not allowed; expected the serial port of the GPS receiver (e.g. /dev/ttyACM0) when source is "nmea"',
    ],
    [
      { latitudeDeg: 95, longitudeDeg: 0 },
      'gps.latitudeDeg: 95 is not allowed; expected null or degrees from -90 to 90',
    ],
    [
      { latitudeDeg: 52 },
      'gps.longitudeDeg: null is not allowed; expected a value: latitudeDeg and longitudeDeg are set together',
    ],
    [
      { source: 'nmea', path: '/dev/x', baudRate: 4801 },
      'gps.baudRate: 4801 is not allowed; expected one of 4800, 9600, 19200, 38400, 57600, 115200',
    ],
  ];
  for (const [raw, message] of cases) {
    const err = errorOf(() => decodeGpsConfig(raw));
    assert.instance(err, ConfigError);
    assert.is(err.message, message);
  }
});

settings.run();

// ---------------------------------------------------------------------------------------------
const sensors = suite('sensors with units');

sensors('import/export power and energy from the meter, in W and Wh', () => {
  let t = Date.UTC(2025, 5, 21, 12); // noon in June: the simulated PV exports
  const meter = new SimulatedHousehold({ startTime: t, speed: 60, pvPeakW: 8000 }, { now: () => t });
  const { sensors: list, stop } = meterSensors(meter);
  t += 1000;
  const reading = meter.step();
  const byId = Object.fromEntries(list.map((s) => [s.id, s.read()]));
  assert.equal(Object.fromEntries(list.map((s) => [s.id, s.unit])), {
    importPowerW: 'W',
    exportPowerW: 'W',
    importEnergyWh: 'Wh',
    exportEnergyWh: 'Wh',
  });
  assert.ok(reading.powerW < 0, 'exporting at noon');
  assert.is(byId.exportPowerW?.value, -reading.powerW);
  assert.is(byId.importPowerW?.value, 0);
  assert.is(byId.exportEnergyWh?.value, reading.exportWh);
  assert.is(byId.importEnergyWh?.at, reading.timestamp);
  stop();
});

sensors('an outdoor temperature from an MQTT topic, as a number or at a JSON path', () => {
  const bus = new EventEmitter();
  const link = Object.assign(bus, {
    connected: true,
    publish: () => undefined,
    subscribe: () => undefined,
    unsubscribe: () => undefined,
  }) as unknown as MqttLink;
  const outdoor = new MqttSensor(
    link,
    decodeMqttSensor(
      { id: 'outdoorTemperatureC', topic: 'tele/garden/SENSOR', path: 'AM2301.Temperature' },
      'sensors[0]',
    ),
  );
  bus.emit('message', 'tele/garden/SENSOR', Buffer.from('{"AM2301":{"Temperature":-3.5,"Humidity":80}}'));
  assert.equal(
    { ...outdoor.read(), at: undefined },
    { id: 'outdoorTemperatureC', quantity: 'temperature', unit: '°C', value: -3.5, at: undefined },
  );
  bus.emit('message', 'tele/garden/SENSOR', Buffer.from('{"AM2301":{"Humidity":80}}'));
  assert.is(outdoor.read()?.value, -3.5, 'a payload without the value changes nothing');
  outdoor.close();
  assert.is(valueAt('21.5', ''), 21.5);
  assert.is(valueAt('n/a', ''), null);
  assert.is(
    errorOf(() => decodeMqttSensor({ id: 'x y', topic: 't' }, 'sensors[1]')).message,
    'sensors[1].id: "x y" is not allowed; expected a camelCase identifier ending in its unit, e.g. outdoorTemperatureC',
  );
});

sensors.run();
