import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { SimulatedHome, parseHomeOptions, type HomeReading } from '../gateway/sim/home';
import { HOUSEHOLD_DEFAULTS, loadW, pvW } from '../gateway/sim/household';
import { emhassProfilePath, parseLoadPvCsv, seriesProfile } from '../gateway/sim/profile';
import { ConfigError, InputError } from '../gateway/errors';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SOLSTICE = Date.UTC(2025, 5, 21);
const MIDWINTER = Date.UTC(2025, 11, 21);

const close = (a: number, b: number, eps: number, what: string) =>
  assert.ok(Math.abs(a - b) <= eps, `${what}: ${a} vs ${b} (±${eps})`);

function manualClock(startMs = 1_700_000_000_000) {
  let t = startMs;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** importWh − exportWh must grow by exactly load + hvac + battery − pv. */
function assertBalanced(home: SimulatedHome, start: { importWh: number; exportWh: number }) {
  const c = home.counters();
  const e = home.energy();
  close(
    c.importWh - start.importWh - (c.exportWh - start.exportWh),
    e.loadWh + e.hvacWh + e.batteryWh - e.pvWh,
    1e-6,
    'counters = ∫ grid power',
  );
}

// ---------------------------------------------------------------------------------------------
const home = suite('SimulatedHome');

home('without battery or heat pump it meters what the household profile integrates to', () => {
  const h = new SimulatedHome({ startTime: SOLSTICE });
  h.advance(86_400);
  // Independent midpoint integral of the profile on the same 60 s grid.
  let loadWh = 0;
  let pvWh = 0;
  for (let t = SOLSTICE; t < SOLSTICE + DAY; t += 60_000) {
    loadWh += loadW(t + 30_000, HOUSEHOLD_DEFAULTS) / 60;
    pvWh += pvW(t + 30_000, HOUSEHOLD_DEFAULTS) / 60;
  }
  close(h.energy().loadWh, loadWh, 1e-6, 'load');
  close(h.energy().pvWh, pvWh, 1e-6, 'pv');
  assertBalanced(h, { importWh: 0, exportWh: 0 });
  assert.ok(h.counters().exportWh > 5000, 'a June day with 4 kW PV exports');
});

home('the battery in self-consumption mode absorbs the PV surplus and feeds the evening', () => {
  const plain = new SimulatedHome({ startTime: SOLSTICE });
  const withBattery = new SimulatedHome({
    startTime: SOLSTICE,
    battery: { capacityWh: 10_000, initialSocPercent: 10 },
    batterySetpoint: 'self-consumption',
  });
  plain.advance(86_400);
  withBattery.advance(86_400);
  assertBalanced(withBattery, { importWh: 0, exportWh: 0 });
  assert.ok(withBattery.counters().exportWh < plain.counters().exportWh - 5000, 'less export');
  assert.ok(withBattery.counters().importWh < plain.counters().importWh - 1000, 'less import');
  // Same household behind the meter.
  close(withBattery.energy().loadWh, plain.energy().loadWh, 1e-9, 'same load');
});

home('a fixed battery setpoint shows in grid power and SoC; a home without battery refuses one', () => {
  const h = new SimulatedHome({
    startTime: SOLSTICE,
    battery: { capacityWh: 10_000, initialSocPercent: 50, chargeEfficiency: 0.9 },
  });
  const before = h.advance(60);
  h.setBatterySetpoint(2000);
  const r = h.advance(3600);
  assert.is(r.batteryW, 2000);
  close(r.batterySocPercent!, 50 + 18, 1e-6, 'soc +1.8 kWh of 10');
  close(r.powerW, r.loadW + 2000 - r.pvW, 0.11, 'battery in net power');
  assert.ok(before.batteryW === 0);
  assertBalanced(h, { importWh: 0, exportWh: 0 });
  const none = new SimulatedHome();
  assert.throws(
    () => none.setBatterySetpoint(100),
    (e: ConfigError) => e.field === 'battery',
  );
  assert.throws(
    () => h.setBatterySetpoint(NaN),
    (e: ConfigError) => e.field === 'batterySetpoint',
  );
});

home('a heat pump keeps the house at the setpoint in winter and its power is metered', () => {
  const h = new SimulatedHome({
    startTime: MIDWINTER,
    thermal: {
      house: { resistanceCPerW: 1 / 150, capacitanceJPerC: 3.6e7, solarApertureM2: 4, initialIndoorC: 18 },
      heatPump: { ratedElectricW: 2000, copHeat: 3.5, copCool: 3 },
      thermostat: { mode: 'heat', setpointC: 21, hysteresisC: 1, minOnSeconds: 300, minOffSeconds: 300 },
    },
  });
  const temps: number[] = [];
  for (let i = 0; i < 48 * 4; i++) {
    const r = h.advance(900);
    if (i >= 24 * 4) temps.push(r.indoorC!);
  }
  assert.ok(
    Math.min(...temps) > 20 && Math.max(...temps) < 22,
    `${Math.min(...temps)}..${Math.max(...temps)}`,
  );
  assert.ok(h.energy().hvacWh > 5000, `heat pump used ${h.energy().hvacWh} Wh in two winter days`);
  assertBalanced(h, { importWh: 0, exportWh: 0 });
  h.setThermostat({ mode: 'off' });
  const off = h.advance(3600);
  assert.is(off.hvac, 'off');
  assert.is(off.hvacW, 0);
});

home('same seed, same home; another seed, another', () => {
  const run = (seed: number) => {
    const h = new SimulatedHome({
      startTime: SOLSTICE,
      seed,
      battery: {},
      batterySetpoint: 'self-consumption',
    });
    return [1, 2, 3].map(() => h.advance(3333));
  };
  assert.equal(run(5), run(5));
  assert.not.equal(run(5), run(6));
});

home('on a clock: simulated time = speed × real time; readings go to subscribers', () => {
  const clock = manualClock();
  const h = new SimulatedHome({ speed: 600, startTime: SOLSTICE, intervalMs: 50 }, { now: clock.now });
  const seen: HomeReading[] = [];
  h.subscribe((r) => seen.push(r));
  clock.advance(1000);
  const r = h.step();
  assert.is(Date.parse(r.timestamp) - SOLSTICE, 600_000);
  assert.is(seen.length, 1);
  assert.is(h.latest(), r);
  assert.equal(h.state(), r, 'state() reads without advancing');
  clock.advance(-500);
  assert.is(h.step().timestamp, r.timestamp, 'a clock stepping back does not rewind');
});

home('snapshot and restore carry counters, time, SoC and indoor temperature', () => {
  const opts = {
    startTime: SOLSTICE,
    battery: {},
    thermal: {},
    batterySetpoint: 'self-consumption' as const,
  };
  const a = new SimulatedHome(parseHomeOptions(opts));
  a.advance(7200);
  const snap = a.snapshot();
  const b = new SimulatedHome(parseHomeOptions(opts));
  b.restore(snap);
  assert.equal(b.snapshot(), snap);
  assert.equal(a.advance(600), b.advance(600));
});

home.run();

// ---------------------------------------------------------------------------------------------
const series = suite('load/PV series replay');

const CSV = [
  'timestamp,P_PV,P_Load,other',
  '2022-05-08 00:00:00+00:00,0,400,x',
  '2022-05-08 00:30:00+00:00,100,600,x',
  '2022-05-08 01:00:00+00:00,1000,200,x',
].join('\n');

series('a CSV replays piecewise-constant, loops, and meters exactly the recorded energy', () => {
  const data = parseLoadPvCsv(CSV, 'fixture.csv');
  const start = Date.parse('2022-05-08T00:00:00Z');
  const profile = seriesProfile(data, 'fixture', { seed: 1, latitudeDeg: 52 });
  assert.is(profile.loadW(start + 29 * 60_000), 400);
  assert.is(profile.pvW(start + 61 * 60_000), 1000);
  assert.is(profile.loadW(start + 90 * 60_000), 400, 'loops after the last interval');
  // 7 s steps never align with the 30 min edges: the home must cut its substeps there.
  const h = new SimulatedHome({ startTime: start, maxStepSeconds: 7 }, { profile });
  for (let i = 0; i < 2 * 1800; i++) h.advance(3); // three hours (two loops)
  close(h.energy().loadWh, 2 * (400 + 600 + 200) * 0.5, 1e-6, 'load energy');
  close(h.energy().pvWh, 2 * (0 + 100 + 1000) * 0.5, 1e-6, 'pv energy');
  assertBalanced(h, { importWh: 0, exportWh: 0 });
});

series('an outdoor temperature column drives the house; without one it is synthetic', () => {
  const csv = [
    'timestamp,P_Load,P_PV,temp_air',
    '2022-01-10T00:00:00Z,300,0,-8',
    '2022-01-10T00:30:00Z,300,0,-6',
  ];
  const data = parseLoadPvCsv(csv.join('\n'), 'cold.csv');
  assert.equal([...data.outdoorC!], [-8, -6]);
  const start = Date.parse('2022-01-10T00:00:00Z');
  const profile = seriesProfile(data, 'cold', { seed: 1, latitudeDeg: 52 });
  assert.is(profile.outdoorC(start + 40 * 60_000), -6);
  const h = new SimulatedHome(
    { startTime: start, thermal: { thermostat: { mode: 'heat', setpointC: 21 } } },
    { profile },
  );
  const r = h.advance(1800);
  assert.is(r.outdoorC, -8);
  assert.is(parseLoadPvCsv(CSV, 'f.csv').outdoorC, null);
  assert.throws(
    () => parseLoadPvCsv(csv.join('\n').replace(',-6', ',warm'), 'cold.csv'),
    (e: Error) => /line 3 temp_air/.test(e.message),
  );
});

series('profileFile "emhass" falls back to the synthetic profile when the data folder is absent', () => {
  const saved = process.env.HEPEK_DATA;
  process.env.HEPEK_DATA = '/nonexistent/hepek-data';
  try {
    assert.is(new SimulatedHome({ profileFile: 'emhass' }).profile.label, 'synthetic');
  } finally {
    if (saved === undefined) delete process.env.HEPEK_DATA;
    else process.env.HEPEK_DATA = saved;
  }
});

series('bad CSV rows are refused naming the line and column', () => {
  const cases: [string, RegExp][] = [
    ['timestamp,P_PV\n2022-01-01T00:00Z,1\n2022-01-01T00:30Z,1', /P_Load/],
    [CSV.replace('600', '-5'), /line 3 P_Load/],
    [CSV.replace('2022-05-08 01:00', '2022-05-08 01:10'), /line 4 timestamp/],
    [CSV.replace('2022-05-08 00:30:00+00:00', 'soon'), /line 3 timestamp/],
  ];
  for (const [text, message] of cases)
    assert.throws(
      () => parseLoadPvCsv(text, 'f.csv'),
      (e: Error) => e instanceof InputError && message.test(e.message),
    );
});

series('the emhass series from shared/data replays its recorded energy (needs ../shared/data)', () => {
  const file = emhassProfilePath();
  if (!file) {
    if (process.env.CI)
      assert.unreachable('CI is set but ../shared/data/load_pv is missing (set HEPEK_DATA)');
    console.log(
      '  skipped: ../shared/data/load_pv/opt_res_perfect_optim_cost.csv not found (set HEPEK_DATA)',
    );
    return;
  }
  const data = parseLoadPvCsv(readFileSync(file, 'utf8'), file);
  assert.is(data.stepMs, 30 * 60_000);
  assert.is(data.loadW.length, 384, '8 days of 30 min');
  const h = SimulatedHome.fromConfig({ startTime: data.startMs, profileFile: 'emhass', maxStepSeconds: 600 });
  assert.is(h.profile.label, file);
  h.advance((data.stepMs / 1000) * data.loadW.length);
  const recordedLoadWh = data.loadW.reduce((a, b) => a + b, 0) * 0.5;
  const recordedPvWh = data.pvW.reduce((a, b) => a + b, 0) * 0.5;
  close(h.energy().loadWh, recordedLoadWh, 1e-6, 'load');
  close(h.energy().pvWh, recordedPvWh, 1e-6, 'pv');
  assertBalanced(h, { importWh: 0, exportWh: 0 });
});

series.run();

// ---------------------------------------------------------------------------------------------
const opts = suite('home options');

opts('bad options are refused naming the field with its prefix', () => {
  const cases: [unknown, string][] = [
    [{ battery: 5 }, 'sim.battery'],
    [{ battery: { capacityWh: -1 } }, 'sim.battery.capacityWh'],
    [{ thermal: { house: { resistanceCPerW: 0 } } }, 'sim.thermal.house.resistanceCPerW'],
    [{ thermal: { pump: {} } }, 'sim.thermal.pump'],
    [{ thermal: { thermostat: { mode: 'warm' } } }, 'sim.thermal.thermostat.mode'],
    [{ outdoor: { meanC: 'mild' } }, 'sim.outdoor.meanC'],
    [{ profileFile: 3 }, 'sim.profileFile'],
    [{ maxStepSeconds: 0 }, 'sim.maxStepSeconds'],
    [{ batterySetpoint: 'max' }, 'sim.batterySetpoint'],
    [{ speed: 0 }, 'sim.speed'],
    [{ startTime: 'June' }, 'sim.startTime'],
  ];
  for (const [raw, field] of cases) {
    try {
      parseHomeOptions(raw, 'sim.');
      assert.unreachable(field);
    } catch (err) {
      assert.instance(err, ConfigError, field);
      assert.is((err as ConfigError).field, field);
    }
  }
  assert.throws(
    () => SimulatedHome.fromConfig({ profileFile: '/nonexistent/profile.csv' }),
    (e: ConfigError) => e.field === 'profileFile' && /nonexistent/.test(e.message),
  );
});

opts('sim.startTime: the simulated clock starts there and runs at its speed', () => {
  const parsed = parseHomeOptions({ startTime: '2026-06-21T09:00:00Z' }, 'sim.');
  assert.is(parsed.startTime, Date.UTC(2026, 5, 21, 9));
  let now = 1_000_000;
  const home = new SimulatedHome({ ...parsed, speed: 60 }, { now: () => now });
  now += 60_000;
  const reading = home.step();
  assert.is(reading.timestamp, new Date(Date.UTC(2026, 5, 21, 10)).toISOString());
});

opts('defaults: no battery, no heat pump, synthetic profile', () => {
  const parsed = parseHomeOptions({});
  assert.is(parsed.battery, null);
  assert.is(parsed.thermal, null);
  assert.is(parsed.profileFile, null);
  assert.is(new SimulatedHome(parsed).profile.label, 'synthetic');
  assert.is(parseHomeOptions({ battery: {} }).battery!.capacityWh, 10_000);
});

opts.run();
