/**
 * Settings: defaults, overrides, errors that name the field, and the committed JSON Schema in step
 * with the one in settings.ts.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isLoopback, resolveSettings, settingsJsonSchema } from '../settings';
import { checkHardfork, contractsEvmVersion } from '../gateway/chain/artifacts';
import { ConfigError, describeValue } from '../gateway/errors';

const settings = suite('settings');

settings('defaults bind everything to loopback and use the embedded parts', () => {
  const s = resolveSettings({}, {});
  assert.is(s.userDir, path.join(os.homedir(), '.hepek'));
  assert.is(s.nodeRed.host, '127.0.0.1');
  assert.is(s.nodeRed.port, 1880);
  assert.is(s.broker.host, '127.0.0.1');
  assert.is(s.broker.port, 1883);
  assert.is(s.broker.url, null);
  assert.is(s.chain.rpcUrl, null);
  assert.is(s.chain.hardfork, 'cancun');
  assert.is(s.meter.type, 'simulated');
});

settings('HEPEK_USER_DIR and a file override merge deeply over the defaults', () => {
  const s = resolveSettings(
    { chain: { rpcUrl: 'http://127.0.0.1:8545' }, meter: { speed: 10 } },
    { HEPEK_USER_DIR: '/tmp/h' },
  );
  assert.is(s.userDir, '/tmp/h');
  assert.is(s.chain.rpcUrl, 'http://127.0.0.1:8545');
  assert.is(s.chain.chainId, 31337, 'untouched siblings keep their default');
  assert.is(s.meter.speed, 10);
  assert.is(s.meter.intervalMs, 1000);
});

const bad: Array<[string, unknown, string, string]> = [
  ['rpcUrl as a number', { chain: { rpcUrl: 42 } }, 'chain.rpcUrl', '42'],
  ['a float port', { broker: { port: 1883.5 } }, 'broker.port', '1883.5'],
  ['a negative threshold', { balance: { lowThresholdErgon: -1 } }, 'balance.lowThresholdErgon', '-1'],
  ['an unknown nested key', { meter: { sped: 2 } }, 'meter.sped', '2'],
  ['a non-object top level', [1, 2], '', '[1,2]'],
  ['a scrypt cost that is not a power of two', { identity: { scryptN: 1000 } }, 'identity.scryptN', '1000'],
  [
    'a contract address that is not an address',
    { chain: { contracts: { ErgonToken: '0x12', GatewayRegistry: '0x12' } } },
    'chain.contracts.ErgonToken',
    '"0x12"',
  ],
  [
    'contracts missing one address',
    { chain: { contracts: { ErgonToken: `0x${'1'.repeat(40)}` } } },
    'chain.contracts.GatewayRegistry',
    'undefined',
  ],
  ['a battery that is not an object', { sim: { battery: 5 } }, 'sim.battery', '5'],
  [
    'a tiny journal segment',
    { store: { journal: { segmentBytes: 10 } } },
    'store.journal.segmentBytes',
    '10',
  ],
  ['influx without a database', { influx: { url: 'http://127.0.0.1:8086' } }, 'influx.database', 'undefined'],
  ['influx over ftp', { influx: { url: 'ftp://h', database: 'd' } }, 'influx.url', '"ftp://h"'],
  [
    'an influx batch of 0',
    { influx: { url: 'http://h:8086', database: 'd', batchSize: 0 } },
    'influx.batchSize',
    '0',
  ],
];
for (const [name, override, field, shown] of bad) {
  settings(`refuses ${name}, naming ${field || 'the top level'}`, () => {
    try {
      resolveSettings(override, {});
      assert.unreachable('should have thrown');
    } catch (err) {
      assert.instance(err, ConfigError);
      const e = err as ConfigError;
      assert.is(e.field, field);
      assert.ok(e.message.includes(`${shown} is not allowed; expected `), e.message);
    }
  });
}

settings('sim, store and influx default to no battery, a bounded journal and no InfluxDB', () => {
  const s = resolveSettings({}, {});
  assert.equal(s.sim, {
    battery: null,
    thermal: null,
    profileFile: null,
    startTime: null,
    priceFile: null,
    priceStartDate: null,
    priceForecastModel: 'models/price-np/model.onnx',
    batterySetpoint: 0,
  });
  assert.equal(s.store.journal, { segmentBytes: 4194304, retainBytes: 16777216, maxBytes: 268435456 });
  assert.is(s.influx, null);
  const on = resolveSettings({ influx: { url: 'http://127.0.0.1:8086', database: 'hepek' } }, {});
  assert.equal(on.influx, { url: 'http://127.0.0.1:8086', database: 'hepek' });
});

settings('adminAuth allows the editor off loopback', () => {
  const s = resolveSettings(
    { nodeRed: { host: '0.0.0.0', adminAuth: { type: 'credentials', users: [] } } },
    {},
  );
  assert.is(s.nodeRed.host, '0.0.0.0');
  assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost'));
  assert.not.ok(isLoopback('0.0.0.0') || isLoopback('192.168.1.2'));
});

settings('settings.schema.json is the schema in settings.ts', () => {
  const committed = JSON.parse(readFileSync(path.join(__dirname, '..', 'settings.schema.json'), 'utf8'));
  assert.equal(committed, JSON.parse(JSON.stringify(settingsJsonSchema())));
});

settings('settings.sample.json is valid and documents every top-level section', () => {
  const sample = JSON.parse(
    readFileSync(path.join(__dirname, '..', 'settings.sample.json'), 'utf8'),
  ) as Record<string, unknown>;
  const s = resolveSettings(sample, {});
  assert.is(s.nodeRed.port, 1880);
  const sections = Object.keys(settingsJsonSchema().properties as Record<string, unknown>);
  for (const key of sections.filter((k) => k !== 'userDir'))
    assert.ok(key in sample, `sample mentions ${key}`);
});

settings('a dev-chain hardfork older than the contracts is refused, naming chain.hardfork', () => {
  assert.not.throws(() => checkHardfork('cancun', 'cancun'));
  assert.not.throws(() => checkHardfork('prague', 'cancun'));
  try {
    checkHardfork('shanghai', 'cancun');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.match(
      (err as Error).message,
      /chain\.hardfork: "shanghai" is not allowed; expected a hardfork at least as new as the contracts' evmVersion "cancun"/,
    );
  }
  assert.is(contractsEvmVersion(), 'cancun', 'the build targets cancun by default');
});

settings.run();

const describe = suite('describeValue: the refused value as the user wrote it');

describe('NaN and infinities are named, not shown as null', () => {
  assert.is(new ConfigError('x', Number.NaN, 'a number').message, 'x: NaN is not allowed; expected a number');
  assert.is(describeValue(Number.POSITIVE_INFINITY), 'Infinity');
  assert.is(describeValue(-Infinity), '-Infinity');
  assert.is(describeValue(null), 'null');
  assert.is(describeValue(12n), '12n');
  assert.is(describeValue('a'.repeat(200)).length, 120);
});

describe.run();
