/**
 * The device settings: defaults, what the schema refuses, and what the device factories refuse at
 * boot (before the gateway writes or starts anything), each naming its field.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveSettings } from '../settings';
import { checkDeviceSettings } from '../gateway/devices/wiring';
import { ConfigError } from '../gateway/errors';

const s = suite('device settings');

function refusal(override: unknown): string {
  try {
    checkDeviceSettings(resolveSettings(override, {}));
  } catch (err) {
    assert.instance(err, ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(override)}`);
}

s('defaults: simulated relay holding on chain loss, no battery, no thermostat, no position', () => {
  const settings = resolveSettings({}, {});
  assert.equal(settings.relay, {
    type: 'simulated',
    options: {},
    onChainLoss: 'hold',
    chainCheckMs: 15000,
    chainLossAfterMs: 60000,
  });
  assert.equal(settings.battery, { type: 'none', options: {} });
  assert.equal(settings.thermostat, { type: 'none', options: {} });
  assert.is(settings.gps.source, 'settings');
  assert.equal(settings.sensors, []);
  checkDeviceSettings(settings);
});

s('a Tasmota relay, a Modbus battery and a Shelly AC are accepted', () => {
  checkDeviceSettings(
    resolveSettings(
      {
        relay: { type: 'tasmota', options: { topic: 'supply' }, onChainLoss: 'open' },
        battery: { type: 'modbus', options: { host: '192.168.1.9', setpointRegister: 1, socRegister: 2 } },
        thermostat: { type: 'shelly', options: { prefix: 'shellyplus1-ac', minOnMs: 300000 } },
        gps: { latitudeDeg: 52.1, longitudeDeg: 5.1 },
        sensors: [{ id: 'outdoorTemperatureC', topic: 'tele/garden/SENSOR', path: 'AM2301.Temperature' }],
      },
      {},
    ),
  );
});

s('refusals name the field, the value and what is allowed', () => {
  const cases: [string, unknown, string][] = [
    [
      'relay type',
      { relay: { type: 'zigbee' } },
      'relay.type: "zigbee" is not allowed; expected one of "simulated", "tasmota", "shelly", "modbus"',
    ],
    [
      'onChainLoss',
      { relay: { onChainLoss: 'panic' } },
      'relay.onChainLoss: "panic" is not allowed; expected one of "hold", "open", "close"',
    ],
    [
      'chainLossAfterMs',
      { relay: { chainLossAfterMs: 10 } },
      'relay.chainLossAfterMs: 10 is not allowed; expected an integer from 1000 to 86400000 ms',
    ],
    [
      'relay options not an object',
      { relay: { options: 'plug' } },
      'relay.options: "plug" is not allowed; expected an object of relay options',
    ],
    [
      'tasmota without topic',
      { relay: { type: 'tasmota' } },
      'relay.options.topic: undefined is not allowed; expected an MQTT topic level without /, +, # or spaces',
    ],
    [
      'option of another type',
      { relay: { type: 'shelly', options: { prefix: 'x', topic: 'y' } } },
      'relay.options.topic: "y" is not allowed; expected a known option (known here: prefix, switchId, src, commandTimeoutMs)',
    ],
    [
      'battery type',
      { battery: { type: 'tesla' } },
      'battery.type: "tesla" is not allowed; expected one of "none", "simulated", "mqtt", "modbus"',
    ],
    [
      'battery SoC',
      { battery: { type: 'simulated', options: { maxSocPct: 120 } } },
      'battery.options.maxSocPct: 120 is not allowed; expected a state of charge from 0 to 100 %',
    ],
    [
      'thermostat min on',
      { thermostat: { type: 'simulated', options: { minOnMs: 1.5 } } },
      'thermostat.options.minOnMs: 1.5 is not allowed; expected an integer from 0 to 86400000 ms',
    ],
    [
      'gps latitude',
      { gps: { latitudeDeg: 91 } },
      'gps.latitudeDeg: 91 is not allowed; expected null or degrees from -90 to 90',
    ],
    [
      'gps nmea without path',
      { gps: { source: 'nmea' } },
      'gps.path: null is not allowed; expected the serial port of the GPS receiver (e.g. /dev/ttyACM0) when source is "nmea"',
    ],
    [
      'sensor topic wildcard',
      { sensors: [{ id: 'outdoorC', topic: 'tele/#' }] },
      'sensors[0].topic: "tele/#" is not allowed; expected an MQTT topic without wildcards or spaces',
    ],
  ];
  for (const [name, override, message] of cases) assert.is(refusal(override), message, name);
});

s.run();
