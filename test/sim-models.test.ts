import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { BATTERY_DEFAULTS, BatteryModel, parseBatteryOptions, stepBattery } from '../gateway/sim/battery';
import {
  HEAT_PUMP_DEFAULTS,
  THERMAL_DEFAULTS,
  THERMOSTAT_DEFAULTS,
  ThermalHouse,
  kWhPerC,
  parseThermostatOptions,
  stepThermal,
  thermostatDecide,
  type ThermostatOptions,
} from '../gateway/sim/thermal';
import { ConfigError } from '../gateway/errors';

const close = (a: number, b: number, eps: number, what: string) =>
  assert.ok(Math.abs(a - b) <= eps, `${what}: ${a} vs ${b} (±${eps})`);

// ---------------------------------------------------------------------------------------------
const battery = suite('battery model');

battery('charging stores power × efficiency × time (exact case)', () => {
  const b = new BatteryModel({ capacityWh: 10_000, chargeEfficiency: 0.9, initialSocPercent: 20 });
  const r = b.step(3600, 1000);
  assert.equal(
    { powerW: r.powerW, clip: r.clip, energyWh: r.energyWh, storedWh: r.storedWh, socPercent: r.socPercent },
    { powerW: 1000, clip: 'none', energyWh: 1000, storedWh: 900, socPercent: 29 },
  );
  close(r.lossWh, 100, 1e-9, 'loss');
});

battery('discharging draws |power| / efficiency from the cells (exact case)', () => {
  const b = new BatteryModel({ capacityWh: 10_000, dischargeEfficiency: 0.8, initialSocPercent: 50 });
  const r = b.step(1800, -2000);
  assert.is(r.powerW, -2000);
  assert.is(r.energyWh, -1000);
  assert.is(r.storedWh, -1250);
  assert.is(r.socPercent, 37.5);
  assert.is(r.lossWh, 250);
});

battery('power limits clip the setpoint and say so', () => {
  const b = new BatteryModel({ maxChargeW: 3000, maxDischargeW: 2500 });
  assert.equal([b.step(60, 4000).powerW, b.step(60, 4000).clip], [3000, 'charge-power']);
  const d = b.step(60, -9000);
  assert.equal([d.powerW, d.clip, d.requestedW], [-2500, 'discharge-power', -9000]);
});

battery('SoC max is reached exactly, never overshot; power is reduced to fit', () => {
  const b = new BatteryModel({
    capacityWh: 1000,
    chargeEfficiency: 0.5,
    socMaxPercent: 90,
    initialSocPercent: 80,
    maxChargeW: 10_000,
  });
  // 100 Wh headroom at 50 % efficiency → 200 Wh from the grid → 200 W over one hour.
  const r = b.step(3600, 1000);
  assert.is(r.clip, 'soc-max');
  close(r.powerW, 200, 1e-9, 'power');
  close(b.state().socPercent, 90, 1e-12, 'soc');
  const again = b.step(3600, 1000);
  assert.equal([again.powerW, again.clip, again.storedWh], [0, 'soc-max', 0]);
});

battery('SoC min is reached exactly; a full battery still discharges', () => {
  const b = new BatteryModel({
    capacityWh: 1000,
    dischargeEfficiency: 0.5,
    socMinPercent: 10,
    initialSocPercent: 20,
  });
  const r = b.step(3600, -1000);
  assert.is(r.clip, 'soc-min');
  close(r.powerW, -50, 1e-9, 'power'); // 100 Wh from the cells × 0.5
  close(b.state().socPercent, 10, 1e-12, 'soc');
  assert.is(b.step(60, 0).clip, 'none');
});

battery('initial SoC is clamped into the limits; zero or negative dt changes nothing', () => {
  const b = new BatteryModel({ socMinPercent: 20, socMaxPercent: 80, initialSocPercent: 95 });
  assert.is(b.state().socPercent, 80);
  const r = b.step(0, -1000);
  assert.equal([r.powerW, r.energyWh, r.socPercent], [0, 0, 80]);
  b.step(-5, 1000);
  assert.is(b.state().socPercent, 80);
});

battery('energy balance holds for any sequence of setpoints (fast-check)', () => {
  fc.assert(
    fc.property(
      fc.record({
        capacityWh: fc.double({ min: 100, max: 50_000, noNaN: true }),
        chargeEfficiency: fc.double({ min: 0.5, max: 1, noNaN: true }),
        dischargeEfficiency: fc.double({ min: 0.5, max: 1, noNaN: true }),
        initialSocPercent: fc.double({ min: 0, max: 100, noNaN: true }),
      }),
      fc.array(
        fc.tuple(
          fc.double({ min: 0, max: 7200, noNaN: true }),
          fc.double({ min: -8000, max: 8000, noNaN: true }),
        ),
        {
          maxLength: 40,
        },
      ),
      (opts, steps) => {
        const b = new BatteryModel(opts);
        const startWh = b.state().storedWh;
        let gridWh = 0;
        for (const [dt, sp] of steps) {
          const r = b.step(dt, sp);
          gridWh += r.energyWh;
          const s = b.state().socPercent;
          assert.ok(s >= b.options.socMinPercent - 1e-9 && s <= b.options.socMaxPercent + 1e-9, `soc ${s}`);
          assert.ok(r.lossWh >= -1e-9, 'loss ≥ 0');
          assert.ok(Math.abs(r.powerW) <= Math.abs(sp) + 1e-9, 'never more than asked');
        }
        const t = b.totals();
        close(gridWh, t.chargedWh - t.dischargedWh, 1e-6, 'totals');
        close(gridWh, b.state().storedWh - startWh + t.lossWh, 1e-6, 'grid = Δstored + loss');
      },
    ),
    { seed: 42, numRuns: 300 },
  );
});

battery('stepBattery is pure: same inputs, same output', () => {
  const a = stepBattery(BATTERY_DEFAULTS, 5000, 900, 1234);
  const b = stepBattery(BATTERY_DEFAULTS, 5000, 900, 1234);
  assert.equal(a, b);
});

battery('bad options and setpoints are refused naming the field', () => {
  const cases: [unknown, string][] = [
    [{ capacityWh: 0 }, 'capacityWh'],
    [{ chargeEfficiency: 1.2 }, 'chargeEfficiency'],
    [{ socMinPercent: 60, socMaxPercent: 40 }, 'socMinPercent'],
    [{ maxChargeW: '5000' }, 'maxChargeW'],
    [{ capacityKWh: 10 }, 'capacityKWh'],
  ];
  for (const [raw, field] of cases) {
    try {
      parseBatteryOptions(raw, 'battery.');
      assert.unreachable(field);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).field, `battery.${field}`);
    }
  }
  assert.throws(
    () => new BatteryModel().step(60, NaN),
    (e: ConfigError) => e.field === 'setpointW',
  );
});

battery.run();

// ---------------------------------------------------------------------------------------------
const thermal = suite('RC thermal model');

const HOUSE = { ...THERMAL_DEFAULTS, resistanceCPerW: 0.01, capacitanceJPerC: kWhPerC(5) };
const TAU = 0.01 * 5 * 3.6e6; // 180 000 s = 50 h

thermal('free cooling follows the exact exponential toward the outdoor temperature', () => {
  for (const dt of [60, 3600, TAU, 5 * TAU]) {
    const r = stepThermal(HOUSE, HEAT_PUMP_DEFAULTS, 20, dt, { outdoorC: 0 });
    close(r.indoorC, 20 * Math.exp(-dt / TAU), 1e-9, `dt ${dt}`);
  }
  // After one time constant 1/e of the gap is left.
  close(stepThermal(HOUSE, HEAT_PUMP_DEFAULTS, 20, TAU, { outdoorC: 0 }).indoorC, 20 / Math.E, 1e-9, 'τ');
});

thermal('steps compose: one long step equals many short ones', () => {
  let t = 18;
  for (let i = 0; i < 60; i++)
    t = stepThermal(HOUSE, HEAT_PUMP_DEFAULTS, t, 60, { outdoorC: 30, solarWPerM2: 200 }).indoorC;
  const once = stepThermal(HOUSE, HEAT_PUMP_DEFAULTS, 18, 3600, { outdoorC: 30, solarWPerM2: 200 }).indoorC;
  close(t, once, 1e-9, 'composition');
});

thermal('steady state: heating at Q holds T = T_out + R·Q', () => {
  const pump = { ratedElectricW: 1000, copHeat: 3, copCool: 3 };
  // Equilibrium: 0 °C + 0.01 °C/W × 3000 W = 30 °C; starting there it stays.
  const r = stepThermal(HOUSE, pump, 30, 10 * TAU, { outdoorC: 0, hvac: 'heat' });
  close(r.indoorC, 30, 1e-9, 'equilibrium');
  close(r.hvacElectricWh, (1000 * 10 * TAU) / 3600, 1e-6, 'electric energy');
  close(r.hvacHeatWh, 3 * r.hvacElectricWh, 1e-6, 'COP');
});

thermal('energy balance: C·ΔT = envelope + solar + hvac, for any inputs (fast-check)', () => {
  fc.assert(
    fc.property(
      fc.double({ min: -10, max: 40, noNaN: true }),
      fc.double({ min: -20, max: 45, noNaN: true }),
      fc.double({ min: 1, max: 86_400, noNaN: true }),
      fc.double({ min: 0, max: 1000, noNaN: true }),
      fc.constantFrom('off', 'heat', 'cool') as fc.Arbitrary<'off' | 'heat' | 'cool'>,
      (t0, out, dt, sun, hvac) => {
        const r = stepThermal(HOUSE, HEAT_PUMP_DEFAULTS, t0, dt, { outdoorC: out, solarWPerM2: sun, hvac });
        const storedWh = (HOUSE.capacitanceJPerC * (r.indoorC - t0)) / 3600;
        const inWh = r.envelopeWh + r.solarWh + r.hvacHeatWh;
        close(storedWh, inWh, 1e-6 * Math.max(1, Math.abs(inWh), Math.abs(r.envelopeWh)), 'balance');
        const lo = Math.min(t0, r.indoorC);
        const hi = Math.max(t0, r.indoorC);
        assert.ok(r.meanIndoorC >= lo - 1e-9 && r.meanIndoorC <= hi + 1e-9, 'mean between ends');
      },
    ),
    { seed: 7, numRuns: 500 },
  );
});

thermal('cooling removes COP × electric energy; solar adds irradiance × aperture', () => {
  const pump = { ratedElectricW: 2000, copHeat: 3, copCool: 2.5 };
  const r = stepThermal({ ...HOUSE, solarApertureM2: 3 }, pump, 25, 3600, {
    outdoorC: 25,
    hvac: 'cool',
    hvacElectricW: 800,
    solarWPerM2: 500,
  });
  assert.is(r.hvacElectricWh, 800);
  assert.is(r.hvacHeatWh, -2000);
  assert.is(r.solarWh, 1500);
  assert.ok(r.indoorC < 25, 'net 500 W removed');
});

thermal.run();

// ---------------------------------------------------------------------------------------------
const thermostat = suite('thermostat');

const HEAT: ThermostatOptions = {
  ...THERMOSTAT_DEFAULTS,
  mode: 'heat',
  setpointC: 20,
  hysteresisC: 1,
  minOnSeconds: 0,
  minOffSeconds: 0,
};

thermostat('heat mode: hysteresis band around the setpoint (table)', () => {
  const table: [indoor: number, current: 'off' | 'heat', expected: 'off' | 'heat'][] = [
    [19.6, 'off', 'off'],
    [19.5, 'off', 'heat'],
    [20.4, 'heat', 'heat'],
    [20.5, 'heat', 'off'],
  ];
  for (const [indoor, current, expected] of table)
    assert.is(thermostatDecide(HEAT, indoor, current, 1e9), expected, `${indoor} ${current}`);
});

thermostat('cool and auto modes; off stops at once', () => {
  const cool = { ...HEAT, mode: 'cool' as const, setpointC: 24 };
  assert.is(thermostatDecide(cool, 24.5, 'off', 1e9), 'cool');
  assert.is(thermostatDecide(cool, 23.5, 'cool', 1e9), 'off');
  const auto = { ...HEAT, mode: 'auto' as const, setpointC: 22 };
  assert.is(thermostatDecide(auto, 21.5, 'off', 1e9), 'off', 'inside the idle band');
  assert.is(thermostatDecide(auto, 21, 'off', 1e9), 'heat');
  assert.is(thermostatDecide(auto, 21.9, 'heat', 1e9), 'heat');
  assert.is(thermostatDecide(auto, 22, 'heat', 1e9), 'off');
  assert.is(thermostatDecide(auto, 23, 'off', 1e9), 'cool');
  assert.is(thermostatDecide({ ...HEAT, mode: 'off', minOnSeconds: 600 }, 10, 'heat', 1), 'off');
});

thermostat('minimum on and off times hold the compressor', () => {
  const opts = { ...HEAT, minOnSeconds: 300, minOffSeconds: 600 };
  assert.is(thermostatDecide(opts, 25, 'heat', 299), 'heat', 'min on');
  assert.is(thermostatDecide(opts, 25, 'heat', 300), 'off');
  assert.is(thermostatDecide(opts, 10, 'off', 599), 'off', 'min off');
  assert.is(thermostatDecide(opts, 10, 'off', 600), 'heat');
});

thermostat('a house with a heat pump holds the setpoint band on a cold day, without short cycles', () => {
  const house = new ThermalHouse(
    { ...HOUSE, initialIndoorC: 16, solarApertureM2: 0 },
    { ratedElectricW: 1500, copHeat: 3.5 },
    { mode: 'heat', setpointC: 21, hysteresisC: 1, minOnSeconds: 600, minOffSeconds: 600 },
  );
  const temps: number[] = [];
  let starts = 0;
  let last = 'off';
  let electricWh = 0;
  let startC = 0;
  for (let s = 0; s < 48 * 3600; s += 60) {
    if (s === 24 * 3600) startC = house.state().indoorC;
    const r = house.step(60, -5);
    if (r.hvac === 'heat' && last !== 'heat') starts++;
    last = r.hvac;
    if (s >= 24 * 3600) {
      temps.push(r.indoorC);
      electricWh += r.hvacElectricWh;
    }
  }
  assert.ok(
    Math.min(...temps) > 20.3 && Math.max(...temps) < 21.7,
    `${Math.min(...temps)}..${Math.max(...temps)}`,
  );
  assert.ok(starts < 48 * 6, `${starts} starts in 48 h`);
  // Second day: heat delivered = envelope loss at the mean temperature + what the house stored.
  const meanC = temps.reduce((a, b) => a + b, 0) / temps.length;
  const lossWh = ((meanC + 5) / HOUSE.resistanceCPerW) * 24;
  const storedWh = (HOUSE.capacitanceJPerC * (house.state().indoorC - startC)) / 3600;
  close(electricWh * 3.5, lossWh + storedWh, lossWh * 0.005, 'heat delivered on day 2');
});

thermostat('bad thermostat options name the field', () => {
  assert.throws(
    () => parseThermostatOptions({ mode: 'warm' }, 't.'),
    (e: ConfigError) => e.field === 't.mode',
  );
  assert.throws(
    () => parseThermostatOptions({ setpointC: 99 }),
    (e: ConfigError) => e.field === 'setpointC',
  );
  assert.throws(
    () => new ThermalHouse({ resistanceCPerW: 0 }),
    (e: ConfigError) => e.field === 'resistanceCPerW',
  );
  const h = new ThermalHouse();
  assert.throws(
    () => h.setThermostat({ hysteresisC: -1 }),
    (e: ConfigError) => e.field === 'hysteresisC',
  );
  assert.is(h.setThermostat({ mode: 'cool', setpointC: 24 }).mode, 'cool');
});

thermostat.run();
