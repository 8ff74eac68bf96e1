import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GatewayContext } from '../gateway/context';
import { ConfigError, InputError } from '../gateway/errors';
import { SimulatedRelay } from '../gateway/devices/sim-relay';
import { SimulatedHousehold } from '../gateway/sim/household';
import {
  DEFAULT_LOW_THRESHOLD_ERGON,
  embeddedGateway,
  normaliseConfig,
  type StandaloneSettings,
} from '../nodes/hepek-config/logic';
import { formatPower, gridFlow, pollMessage, readingStatus } from '../nodes/hepek-meter-read/logic';
import {
  balanceMessage,
  balanceStatus,
  nextThresholdState,
  normaliseBalanceDef,
  type ThresholdState,
} from '../nodes/hepek-balance/logic';
import { parseRelayCommand, relayReason, relayStatus } from '../nodes/hepek-relay/logic';

const TOKEN = '0x' + '11'.repeat(20);
const WALLET = '0x' + 'ab'.repeat(20);

/** Asserts `fn` throws `type` with `field` and the field's name in the message. */
function throwsNaming(
  fn: () => unknown,
  type: typeof ConfigError | typeof InputError,
  field: string,
  name: string,
) {
  try {
    fn();
  } catch (err) {
    assert.instance(err, type, name);
    assert.is((err as ConfigError).field, field, name);
    assert.match((err as Error).message, field, name);
    return;
  }
  assert.unreachable(`${name}: did not throw`);
}

// ---------------------------------------------------------------------------------------------
const config = suite('hepek-config logic');

config('blank rpcUrl means the embedded gateway', () => {
  assert.equal(normaliseConfig({ rpcUrl: '' }), { mode: 'embedded', lowThresholdErgon: undefined });
  assert.equal(normaliseConfig({ rpcUrl: '  ', lowThresholdErgon: '2.5' }), {
    mode: 'embedded',
    lowThresholdErgon: 2.5,
  });
});

config('a standalone config decodes its addresses, defaults and simulator', () => {
  const settings = normaliseConfig({
    rpcUrl: ' http://127.0.0.1:8545 ',
    tokenAddress: TOKEN,
    wallet: WALLET,
    chainId: '31337',
    speed: '120',
    intervalMs: '500',
    pvPeakW: '',
  }) as StandaloneSettings;
  assert.is(settings.mode, 'standalone');
  assert.is(settings.rpcUrl, 'http://127.0.0.1:8545/');
  assert.is(settings.chainId, 31337);
  assert.is(settings.lowThresholdErgon, DEFAULT_LOW_THRESHOLD_ERGON);
  assert.is(settings.simulator.speed, 120);
  assert.is(settings.simulator.intervalMs, 500);
  assert.is(settings.simulator.pvPeakW, 4000);
});

const STANDALONE = { rpcUrl: 'http://127.0.0.1:8545', tokenAddress: TOKEN, wallet: WALLET };
const BAD_CONFIGS: [name: string, def: Record<string, unknown>, field: string][] = [
  ['rpcUrl without a scheme', { ...STANDALONE, rpcUrl: 'localhost:8545' }, 'rpcUrl'],
  ['rpcUrl with ftp', { ...STANDALONE, rpcUrl: 'ftp://node' }, 'rpcUrl'],
  ['tokenAddress too short', { ...STANDALONE, tokenAddress: '0x1234' }, 'tokenAddress'],
  ['tokenAddress missing', { ...STANDALONE, tokenAddress: '' }, 'tokenAddress'],
  ['wallet not an address', { ...STANDALONE, wallet: 'my wallet' }, 'wallet'],
  ['negative threshold', { lowThresholdErgon: '-1' }, 'lowThresholdErgon'],
  ['threshold not a number', { ...STANDALONE, lowThresholdErgon: 'lots' }, 'lowThresholdErgon'],
  ['chain id zero', { ...STANDALONE, chainId: '0' }, 'chainId'],
  ['speed as a word', { ...STANDALONE, speed: 'fast' }, 'speed'],
  ['interval too short', { ...STANDALONE, intervalMs: '1' }, 'intervalMs'],
];

config('nonsense is refused naming the field', () => {
  for (const [name, def, field] of BAD_CONFIGS)
    throwsNaming(() => normaliseConfig(def), ConfigError, field, name);
});

config(
  'embeddedGateway: none registered is a ConfigError on rpcUrl; thresholds take precedence in order',
  () => {
    throwsNaming(() => embeddedGateway(undefined, { mode: 'embedded' }), ConfigError, 'rpcUrl', 'no gateway');
    const found = {
      wallet: WALLET,
      lowThresholdErgon: 3,
      meter: new SimulatedHousehold(),
      relay: new SimulatedRelay(),
      balance: { read: async () => Promise.reject(new Error('unused')) },
    } as unknown as GatewayContext;
    assert.is(embeddedGateway(found, { mode: 'embedded' }).lowThresholdErgon, 3, "gateway's default");
    assert.is(
      embeddedGateway(found, { mode: 'embedded', lowThresholdErgon: 0 }).lowThresholdErgon,
      0,
      "config's own",
    );
    assert.is(embeddedGateway(found, { mode: 'embedded' }).wallet, WALLET);
  },
);

config.run();

// ---------------------------------------------------------------------------------------------
const meter = suite('hepek-meter-read logic');

meter('formatPower shows W below 1 kW and kW above', () => {
  const cases: [powerW: number, text: string][] = [
    [0, '0 W'],
    [349.6, '350 W'],
    [-850, '850 W'],
    [1234, '1.23 kW'],
    [-12_500, '12.5 kW'],
  ];
  for (const [powerW, text] of cases) assert.is(formatPower(powerW), text, String(powerW));
});

meter('grid flow and status follow the sign of net power', () => {
  assert.is(gridFlow(500), 'import');
  assert.is(gridFlow(-500), 'export');
  assert.is(gridFlow(0.2), 'idle');
  const reading = { timestamp: '', importWh: 0, exportWh: 0, powerW: -1500, loadW: 500, pvW: 2000 };
  assert.equal(readingStatus(reading), {
    fill: 'green',
    shape: 'dot',
    key: 'status.export',
    power: '1.50 kW',
  });
  const msg = pollMessage({ payload: 'tick', keep: 1 }, reading);
  assert.equal(msg, { topic: 'meter', payload: reading, keep: 1 });
});

meter.run();

// ---------------------------------------------------------------------------------------------
const balance = suite('hepek-balance logic');

balance('threshold state machine with hysteresis', () => {
  const cases: [
    name: string,
    state: ThresholdState,
    ergon: number,
    threshold: number,
    hysteresis: number,
    next: string,
  ][] = [
    ['first read above', 'unknown', 5, 1, 0, 'above'],
    ['first read below', 'unknown', 0.5, 1, 0, 'below'],
    ['exactly at the threshold is not below', 'above', 1, 1, 0, 'above'],
    ['drops below', 'above', 0.99, 1, 0.5, 'below'],
    ['back at the threshold, still inside hysteresis', 'below', 1.2, 1, 0.5, 'below'],
    ['reaches threshold + hysteresis', 'below', 1.5, 1, 0.5, 'above'],
    ['without hysteresis, back at the threshold', 'below', 1, 1, 0, 'above'],
    ['zero threshold never cuts', 'unknown', 0, 0, 0, 'above'],
  ];
  for (const [name, state, ergon, threshold, hysteresis, next] of cases) {
    assert.is(nextThresholdState(state, ergon, threshold, hysteresis), next, name);
  }
});

balance('settings: blank threshold defers to the config; bad values name the field', () => {
  assert.equal(normaliseBalanceDef({ lowThresholdErgon: '', hysteresisErgon: '' }), {
    lowThresholdErgon: undefined,
    hysteresisErgon: 0,
  });
  assert.equal(normaliseBalanceDef({ lowThresholdErgon: '2', hysteresisErgon: 0.5 }), {
    lowThresholdErgon: 2,
    hysteresisErgon: 0.5,
  });
  throwsNaming(
    () => normaliseBalanceDef({ lowThresholdErgon: '-3' }),
    ConfigError,
    'lowThresholdErgon',
    'negative',
  );
  throwsNaming(() => normaliseBalanceDef({ hysteresisErgon: 'x' }), ConfigError, 'hysteresisErgon', 'word');
});

balance('the message keeps the reading and carries the relay command', () => {
  const report = {
    wallet: WALLET,
    ergonWei: '500000000000000000',
    channelUnspentWei: '0',
    spendableWei: '500000000000000000',
    spendableErgon: 0.5,
    blockNumber: 7,
    lowThresholdErgon: 1,
    belowThreshold: true,
  };
  const msg = balanceMessage({ payload: { powerW: 10 } }, report);
  assert.equal(msg, { payload: false, reading: { powerW: 10 }, balance: report });
  assert.equal(balanceStatus(report), {
    fill: 'red',
    shape: 'ring',
    key: 'status.below',
    ergon: '0.50',
    threshold: '1.00',
  });
});

balance.run();

// ---------------------------------------------------------------------------------------------
const relay = suite('hepek-relay logic');

relay('accepted commands', () => {
  const cases: [payload: unknown, on: boolean][] = [
    [true, true],
    [false, false],
    ['on', true],
    ['off', false],
    [' OFF ', false],
    [1, true],
    [0, false],
    [{ on: true }, true],
    [{ on: false }, false],
  ];
  for (const [payload, on] of cases) assert.is(parseRelayCommand(payload), on, JSON.stringify(payload));
});

relay('anything else is an InputError naming msg.payload', () => {
  for (const payload of ['maybe', '', 2, -1, null, undefined, [], { on: 'yes' }, 'true']) {
    throwsNaming(
      () => parseRelayCommand(payload),
      InputError,
      'msg.payload',
      JSON.stringify(payload) ?? 'undefined',
    );
  }
});

relay('reason: msg.reason, else the balance verdict, else command', () => {
  const cases: [name: string, msg: Record<string, unknown>, reason: string][] = [
    ['explicit', { reason: ' maintenance ' }, 'maintenance'],
    ['blank reason ignored', { reason: '', balance: { belowThreshold: true } }, 'balance below threshold'],
    ['balance ok', { balance: { belowThreshold: false } }, 'balance above threshold'],
    ['plain', { payload: true }, 'command'],
  ];
  for (const [name, msg, reason] of cases) assert.is(relayReason(msg), reason, name);
  assert.equal(relayStatus({ on: true, changedAt: '', reason: '' }), {
    fill: 'green',
    shape: 'dot',
    key: 'status.on',
  });
  assert.equal(relayStatus({ on: false, changedAt: '', reason: '' }), {
    fill: 'red',
    shape: 'ring',
    key: 'status.off',
  });
});

relay.run();
