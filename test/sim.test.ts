import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AbiCoder, type Provider } from 'ethers';
import {
  HOUSEHOLD_DEFAULTS,
  SimulatedHousehold,
  integrateGrid,
  loadW,
  parseHouseholdOptions,
  pvW,
  type ProfileOptions,
} from '../gateway/sim/household';
import { SimulatedRelay } from '../gateway/devices/sim-relay';
import { createTokenBalanceSource } from '../gateway/chain/balance';
import { ConfigError, DeviceUnavailableError } from '../gateway/errors';
import type { RelayState } from '../gateway/context';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SOLSTICE = Date.UTC(2025, 5, 21);
const MIDWINTER = Date.UTC(2025, 11, 21);
const PROFILE: ProfileOptions = { ...HOUSEHOLD_DEFAULTS };
const QUIET: ProfileOptions = { ...HOUSEHOLD_DEFAULTS, noiseFraction: 0 };

/** A clock the test moves by hand. */
function manualClock(startMs = SOLSTICE) {
  let t = startMs;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

// ---------------------------------------------------------------------------------------------
const profile = suite('household profile (pure functions)');

profile('PV is zero at night, summer and winter', () => {
  for (const [name, t] of [
    ['summer midnight', SOLSTICE],
    ['summer 23:00', SOLSTICE + 23 * HOUR],
    ['winter 06:00 (before sunrise at 52°N)', MIDWINTER + 6 * HOUR],
    ['winter 17:00 (after sunset)', MIDWINTER + 17 * HOUR],
  ] as const) {
    assert.is(pvW(t, PROFILE), 0, name);
  }
  assert.ok(pvW(SOLSTICE + 12 * HOUR, PROFILE) > 0, 'sunny at noon');
});

profile('PV peaks at solar noon and reaches pvPeakW at the summer solstice', () => {
  const argmax = (opts: ProfileOptions, day: number) => {
    let best = day;
    for (let t = day; t < day + DAY; t += 5 * 60_000) if (pvW(t, opts) > pvW(best, opts)) best = t;
    return best;
  };
  assert.ok(
    Math.abs(argmax(QUIET, SOLSTICE) - (SOLSTICE + 12 * HOUR)) <= 5 * 60_000,
    'noise-free peak at 12:00',
  );
  assert.ok(
    Math.abs(argmax(PROFILE, SOLSTICE) - (SOLSTICE + 12 * HOUR)) <= 90 * 60_000,
    'noisy peak near 12:00',
  );
  const peak = pvW(SOLSTICE + 12 * HOUR, QUIET);
  assert.ok(Math.abs(peak - 4000) < 40, `solstice noon ${peak} W ≈ 4000 W`);
  assert.ok(pvW(MIDWINTER + 12 * HOUR, QUIET) < peak / 2, 'winter noon well below summer');
});

profile('annual load energy matches annualLoadKWh within 2 %', () => {
  for (const annualLoadKWh of [3500, 7000]) {
    const opts = { ...PROFILE, annualLoadKWh };
    const start = Date.UTC(2025, 0, 1);
    const step = 10 * 60_000;
    let wh = 0;
    for (let t = start; t < start + 365 * DAY; t += step) wh += (loadW(t + step / 2, opts) * step) / HOUR;
    const kWh = wh / 1000;
    assert.ok(Math.abs(kWh / annualLoadKWh - 1) < 0.02, `${kWh.toFixed(0)} kWh for ${annualLoadKWh}`);
  }
});

profile('load has morning and evening peaks above the night', () => {
  const at = (h: number) => loadW(Date.UTC(2025, 2, 10) + h * HOUR, QUIET);
  assert.ok(at(7.5) > 2 * at(3), 'breakfast > night');
  assert.ok(at(19) > at(7.5) && at(19) > at(13), 'evening is the highest');
});

profile('integrateGrid is additive over time and never negative', () => {
  const whole = integrateGrid(SOLSTICE, SOLSTICE + DAY, PROFILE);
  const morning = integrateGrid(SOLSTICE, SOLSTICE + 9 * HOUR, PROFILE);
  const rest = integrateGrid(SOLSTICE + 9 * HOUR, SOLSTICE + DAY, PROFILE);
  assert.ok(Math.abs(whole.importWh - morning.importWh - rest.importWh) < 0.5);
  assert.ok(Math.abs(whole.exportWh - morning.exportWh - rest.exportWh) < 0.5);
  assert.ok(whole.importWh > 0 && whole.exportWh > 0);
  assert.equal(integrateGrid(SOLSTICE, SOLSTICE - 1, PROFILE), { importWh: 0, exportWh: 0 });
});

profile('the same seed gives the same household, another seed another', () => {
  const times = [0, 1, 2, 3].map((i) => SOLSTICE + 9 * HOUR + i * 97_000);
  const a = times.map((t) => loadW(t, { ...PROFILE, seed: 7 }) + pvW(t, { ...PROFILE, seed: 7 }));
  const b = times.map((t) => loadW(t, { ...PROFILE, seed: 7 }) + pvW(t, { ...PROFILE, seed: 7 }));
  const c = times.map((t) => loadW(t, { ...PROFILE, seed: 8 }) + pvW(t, { ...PROFILE, seed: 8 }));
  assert.equal(a, b);
  assert.not.equal(a, c);
});

profile.run();

// ---------------------------------------------------------------------------------------------
const sim = suite('SimulatedHousehold');

sim('step() advances simulated time by speed × real time', () => {
  for (const speed of [1, 60, 3600]) {
    const clock = manualClock();
    const house = new SimulatedHousehold({ speed, startTime: SOLSTICE }, { now: clock.now });
    clock.advance(1000);
    const reading = house.step();
    assert.is(Date.parse(reading.timestamp) - SOLSTICE, 1000 * speed, `speed ${speed}`);
  }
});

sim('counters conserve energy: importWh − exportWh = ∫(load − pv) dt', () => {
  const clock = manualClock();
  const start = SOLSTICE;
  const house = new SimulatedHousehold(
    { speed: 3600, startTime: start, importWh: 500, exportWh: 20 },
    { now: clock.now },
  );
  // Two simulated days in uneven real steps (1 s real = 1 h simulated).
  for (const ms of [250, 1000, 3333, 7000, 10_000, 12_345, 14_072]) {
    clock.advance(ms);
    house.step();
  }
  const snap = house.snapshot();
  assert.is(snap.simTimeMs, start + 48 * HOUR);
  let netWh = 0;
  for (let t = start; t < snap.simTimeMs; t += 10_000)
    netWh += ((loadW(t + 5000, PROFILE) - pvW(t + 5000, PROFILE)) * 10_000) / HOUR;
  const counted = snap.importWh - 500 - (snap.exportWh - 20);
  assert.ok(Math.abs(counted - netWh) < 1, `counted ${counted.toFixed(2)} Wh vs ∫ ${netWh.toFixed(2)} Wh`);
  assert.ok(snap.exportWh - 20 > 1000, 'a June day with 4 kW PV exports');
  assert.ok(snap.importWh - 500 > 1000, 'and imports at night');
});

sim('readings report whole-Wh counters that never decrease, and net power = load − pv', () => {
  const clock = manualClock();
  const house = new SimulatedHousehold({ speed: 600, startTime: SOLSTICE + 5 * HOUR }, { now: clock.now });
  let previous = house.step();
  for (let i = 0; i < 50; i++) {
    clock.advance(1000);
    const reading = house.step();
    assert.ok(reading.importWh >= previous.importWh && reading.exportWh >= previous.exportWh);
    assert.ok(Number.isInteger(reading.importWh) && Number.isInteger(reading.exportWh));
    assert.ok(Math.abs(reading.powerW - (reading.loadW - reading.pvW)) < 0.11);
    previous = reading;
  }
  assert.is(house.latest(), previous);
});

sim('subscribers get every reading until they unsubscribe; a throwing one does not stop the rest', () => {
  const clock = manualClock();
  const errors: unknown[] = [];
  const house = new SimulatedHousehold({}, { now: clock.now, onListenerError: (e) => errors.push(e) });
  const seen: string[] = [];
  house.subscribe(() => {
    throw new Error('bad listener');
  });
  const off = house.subscribe((r) => seen.push(r.timestamp));
  clock.advance(1000);
  house.step();
  off();
  clock.advance(1000);
  house.step();
  assert.is(seen.length, 1);
  assert.is(errors.length, 2);
});

sim('start() emits at once and stop() clears the timer', () => {
  const house = new SimulatedHousehold({ intervalMs: 50 });
  assert.is(house.latest(), null);
  house.start();
  assert.ok(house.running);
  assert.ok(house.latest());
  house.start(); // harmless
  house.stop();
  assert.not.ok(house.running);
});

sim.run();

// ---------------------------------------------------------------------------------------------
const options = suite('household options (fromConfig)');

const BAD_OPTIONS: [name: string, raw: unknown, field: string][] = [
  ['speed zero', { speed: 0 }, 'speed'],
  ['interval too short', { intervalMs: 5 }, 'intervalMs'],
  ['interval fractional', { intervalMs: 100.5 }, 'intervalMs'],
  ['latitude beyond the pole', { latitudeDeg: 100 }, 'latitudeDeg'],
  ['load as text', { annualLoadKWh: '3500' }, 'annualLoadKWh'],
  ['negative PV', { pvPeakW: -1 }, 'pvPeakW'],
  ['NaN noise', { noiseFraction: NaN }, 'noiseFraction'],
  ['unparseable start', { startTime: 'yesterday' }, 'startTime'],
  ['a typo', { sped: 60 }, 'sped'],
];

options('bad options throw a ConfigError naming the field and the value', () => {
  for (const [name, raw, field] of BAD_OPTIONS) {
    try {
      SimulatedHousehold.fromConfig(raw);
      assert.unreachable(name);
    } catch (err) {
      assert.instance(err, ConfigError, name);
      assert.is((err as ConfigError).field, field, name);
      assert.match((err as Error).message, field, name);
      assert.match((err as Error).message, 'expected', name);
    }
  }
});

options('field names carry the settings prefix', () => {
  assert.throws(
    () => parseHouseholdOptions({ speed: -1 }, 'simulator.'),
    (e: ConfigError) => e.field === 'simulator.speed',
  );
});

options('defaults apply and startTime accepts ISO text', () => {
  const parsed = parseHouseholdOptions({ startTime: '2025-06-21T00:00:00Z', seed: 3 });
  assert.is(parsed.startTime, SOLSTICE);
  assert.is(parsed.seed, 3);
  assert.is(parsed.annualLoadKWh, 3500);
  assert.is(parsed.pvPeakW, 4000);
  assert.is(parsed.speed, 60);
  assert.equal(parseHouseholdOptions(undefined), { ...HOUSEHOLD_DEFAULTS });
});

options.run();

// ---------------------------------------------------------------------------------------------
const relay = suite('SimulatedRelay');

relay('starts closed, switches, and notifies only on a change', async () => {
  const clock = manualClock(Date.UTC(2025, 0, 1));
  const r = new SimulatedRelay({ now: clock.now });
  assert.is(r.state().on, true);
  const seen: RelayState[] = [];
  const off = r.subscribe((s) => seen.push(s));
  clock.advance(5000);
  const opened = await r.set(false, 'balance below threshold');
  assert.equal(opened, {
    on: false,
    changedAt: '2025-01-01T00:00:05.000Z',
    reason: 'balance below threshold',
  });
  await r.set(false, 'again');
  assert.is(seen.length, 1);
  assert.is(r.state().reason, 'balance below threshold');
  off();
  await r.set(true, 'command');
  assert.is(seen.length, 1);
  assert.is(r.state().on, true);
});

relay.run();

// ---------------------------------------------------------------------------------------------
const balance = suite('createTokenBalanceSource');

const TOKEN = '0x' + '11'.repeat(20);
const WALLET = '0x' + '22'.repeat(20);

function fakeProvider(opts: { block?: number; balanceWei?: bigint; fail?: Error }) {
  const calls: { blockTag?: unknown; to?: string }[] = [];
  const provider = {
    provider: undefined as unknown,
    async getBlockNumber() {
      if (opts.fail) throw opts.fail;
      return opts.block ?? 1;
    },
    async call(tx: { blockTag?: unknown; to?: string }) {
      calls.push(tx);
      return AbiCoder.defaultAbiCoder().encode(['uint256'], [opts.balanceWei ?? 0n]);
    },
  };
  provider.provider = provider;
  return { provider: provider as unknown as Provider, calls };
}

balance('reads balanceOf at the block it reports; channel part is 0', async () => {
  const { provider, calls } = fakeProvider({ block: 42, balanceWei: 12_345n * 10n ** 15n });
  const read = await createTokenBalanceSource(provider, TOKEN, WALLET).read();
  assert.equal(read, {
    wallet: WALLET,
    ergonWei: '12345000000000000000',
    channelUnspentWei: '0',
    spendableWei: '12345000000000000000',
    spendableErgon: 12.345,
    blockNumber: 42,
  });
  assert.is(calls[0].blockTag, 42);
  assert.is(calls[0].to?.toLowerCase(), TOKEN);
});

balance('an RPC failure is a DeviceUnavailableError naming the RPC', async () => {
  const { provider } = fakeProvider({ fail: new Error('connect ECONNREFUSED 127.0.0.1:8545') });
  const source = createTokenBalanceSource(provider, TOKEN, WALLET, { rpc: 'http://127.0.0.1:8545' });
  try {
    await source.read();
    assert.unreachable();
  } catch (err) {
    assert.instance(err, DeviceUnavailableError);
    assert.match((err as Error).message, 'http://127.0.0.1:8545');
    assert.match((err as Error).message, 'ECONNREFUSED');
  }
});

balance('bad addresses are refused naming the field', () => {
  const { provider } = fakeProvider({});
  assert.throws(() => createTokenBalanceSource(provider, '0x1234', WALLET), /tokenAddress/);
  assert.throws(() => createTokenBalanceSource(provider, TOKEN, 'me'), /wallet/);
});

balance.run();
