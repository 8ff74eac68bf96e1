/**
 * Simulated battery and thermostat drivers: thin wrappers around the pure models of the simulated
 * home (`gateway/sim/battery.ts`, `gateway/sim/thermal.ts`), stepped on the injected clock every
 * `stepMs` with `speed` simulated seconds per real second. They sit under the same
 * `LimitedBattery` / `GuardedThermostat` as the real adapters, so limits and minimum on/off times
 * behave exactly as they would on hardware.
 */
import { BatteryModel, parseBatteryOptions, type BatteryOptions } from '../sim/battery';
import type { SimulatedHome } from '../sim/home';
import {
  parseHeatPumpOptions,
  parseThermalOptions,
  stepThermal,
  type HeatPumpOptions,
  type HvacAction,
  type ThermalOptions,
} from '../sim/thermal';
import type { BatteryDriver, ThermostatDriver, ThermostatSettings } from './api';
import { systemClock, type Clock } from './clock';
import type { ConfigReader } from './config';
import { Listeners } from './listeners';

export interface SimulationStep {
  /** Real time between model steps, ms. */
  stepMs: number;
  /** Simulated seconds per real second. */
  speed: number;
}

export function readSimulationStep(r: ConfigReader): SimulationStep {
  return {
    stepMs: r.number('stepMs', 1000, {
      min: 10,
      max: 3_600_000,
      integer: true,
      allowed: 'an integer from 10 to 3600000 ms',
    }),
    speed: r.number('speed', 1, { min: 0.001, max: 100_000, allowed: 'a number from 0.001 to 100000' }),
  };
}

/** Runs `step(dtSeconds)` on the clock until stopped. */
class Stepper {
  private timer: unknown = null;
  private last: number;

  constructor(
    private readonly clock: Clock,
    private readonly options: SimulationStep,
    private readonly step: (dtSeconds: number) => void,
  ) {
    this.last = clock.now();
    this.timer = clock.schedule(() => this.tick(), options.stepMs);
  }

  private tick(): void {
    const now = this.clock.now();
    this.step(((now - this.last) / 1000) * this.options.speed);
    this.last = now;
    this.timer = this.clock.schedule(() => this.tick(), this.options.stepMs);
  }

  stop(): void {
    if (this.timer !== null) this.clock.cancel(this.timer);
    this.timer = null;
  }
}

const always = { available: () => true, onAvailability: () => () => undefined };

export class SimulatedBatteryDriver implements BatteryDriver {
  readonly kind = 'simulated';
  readonly model: BatteryModel;
  private setpointW = 0;
  private readonly reports = new Listeners<{ socPct?: number; powerW?: number }>();
  private readonly stepper: Stepper;
  readonly available = always.available;
  readonly onAvailability = always.onAvailability;

  constructor(options: Partial<BatteryOptions>, step: SimulationStep, clock: Clock = systemClock) {
    this.model = new BatteryModel(options);
    this.stepper = new Stepper(clock, step, (dt) => {
      const result = this.model.step(dt, this.setpointW);
      this.reports.emit({ socPct: result.socPercent, powerW: result.powerW });
    });
  }

  async writeSetpoint(powerW: number): Promise<void> {
    this.setpointW = powerW;
  }

  onReport(listener: (report: { socPct?: number; powerW?: number }) => void): () => void {
    listener({ socPct: this.model.state().socPercent });
    return this.reports.add(listener);
  }

  async close(): Promise<void> {
    this.stepper.stop();
  }
}

export function readSimulatedBattery(r: ConfigReader): { model: BatteryOptions; step: SimulationStep } {
  const model = parseBatteryOptions(
    {
      capacityWh: r.number('capacityWh', 10_000, {
        min: 1,
        max: 10_000_000,
        allowed: 'a capacity from 1 to 10000000 Wh',
      }),
      initialSocPercent: r.number('initialSocPct', 50, {
        min: 0,
        max: 100,
        allowed: 'a state of charge from 0 to 100 %',
      }),
    },
    `${r.field('')}`,
  );
  return { model, step: readSimulationStep(r) };
}

export interface SimulatedThermostatOptions {
  house: ThermalOptions;
  heatPump: HeatPumpOptions;
  /** Constant outdoor temperature the house sees, °C. */
  outdoorC: number;
}

/**
 * The RC house with its heat pump. `on` runs the compressor: heating in mode heat, cooling in
 * mode cool, towards the setpoint in mode auto; fan moves air only.
 */
export class SimulatedThermostatDriver implements ThermostatDriver {
  readonly kind = 'simulated';
  private indoor: number;
  private settings: ThermostatSettings = { on: false, mode: 'auto', setpointC: 21 };
  private readonly reports = new Listeners<Partial<ThermostatSettings>>();
  private readonly stepper: Stepper;
  readonly available = always.available;
  readonly onAvailability = always.onAvailability;
  /** Electric energy the heat pump used, Wh. */
  electricWh = 0;

  constructor(
    readonly options: SimulatedThermostatOptions,
    step: SimulationStep,
    clock: Clock = systemClock,
  ) {
    this.indoor = options.house.initialIndoorC;
    this.stepper = new Stepper(clock, step, (dt) => {
      const result = stepThermal(options.house, options.heatPump, this.indoor, dt, {
        outdoorC: options.outdoorC,
        hvac: this.action(),
      });
      this.indoor = result.indoorC;
      this.electricWh += result.hvacElectricWh;
      this.reports.emit({});
    });
  }

  /** What the heat pump does now. */
  action(): HvacAction {
    const { on, mode, setpointC } = this.settings;
    if (!on || mode === 'fan') return 'off';
    if (mode === 'auto') return this.indoor < setpointC ? 'heat' : 'cool';
    return mode;
  }

  async write(settings: ThermostatSettings): Promise<void> {
    this.settings = { ...settings };
  }

  onReport(listener: (report: Partial<ThermostatSettings>) => void): () => void {
    return this.reports.add(listener);
  }

  indoorC(): number {
    return Math.round(this.indoor * 100) / 100;
  }

  async close(): Promise<void> {
    this.stepper.stop();
  }
}

export function readSimulatedThermostat(r: ConfigReader): {
  model: SimulatedThermostatOptions;
  step: SimulationStep;
} {
  const outdoorC = r.number('outdoorC', 30, {
    min: -40,
    max: 55,
    allowed: 'a temperature from -40 to 55 °C',
  });
  const initialIndoorC = r.number('initialIndoorC', 26, {
    min: -20,
    max: 50,
    allowed: 'a temperature from -20 to 50 °C',
  });
  return {
    model: {
      house: parseThermalOptions({ initialIndoorC }),
      heatPump: parseHeatPumpOptions({}),
      outdoorC,
    },
    step: readSimulationStep(r),
  };
}

/**
 * The battery of the gateway's simulated home (`settings.sim.battery`): setpoints go to the home,
 * so the simulated grid meter sees them, and its readings report the SoC.
 */
export class HomeBatteryDriver implements BatteryDriver {
  readonly kind = 'simulated';
  readonly available = always.available;
  readonly onAvailability = always.onAvailability;

  constructor(private readonly home: SimulatedHome) {}

  async writeSetpoint(powerW: number): Promise<void> {
    this.home.setBatterySetpoint(powerW);
  }

  onReport(listener: (report: { socPct?: number; powerW?: number }) => void): () => void {
    const soc = this.home.batteryState()?.socPercent;
    if (soc !== undefined) listener({ socPct: soc });
    return this.home.subscribe((r) =>
      listener({ socPct: r.batterySocPercent ?? undefined, powerW: r.batteryW }),
    );
  }

  async close(): Promise<void> {}
}

/**
 * The heat pump of the gateway's simulated home (`settings.sim.thermal`): `on` with a mode runs
 * the home's thermostat in that mode (fan = off for the model), off stops it; the home's readings
 * report the indoor temperature.
 */
export class HomeThermostatDriver implements ThermostatDriver {
  readonly kind = 'simulated';
  readonly available = always.available;
  readonly onAvailability = always.onAvailability;
  private indoor: number | null;

  constructor(private readonly home: SimulatedHome) {
    this.indoor = home.latest()?.indoorC ?? null;
  }

  async write(settings: ThermostatSettings): Promise<void> {
    const mode = settings.on && settings.mode !== 'fan' ? settings.mode : 'off';
    this.home.setThermostat({ mode, setpointC: settings.setpointC });
  }

  onReport(listener: (report: Partial<ThermostatSettings>) => void): () => void {
    return this.home.subscribe((r) => {
      if (r.indoorC === this.indoor) return;
      this.indoor = r.indoorC;
      listener({});
    });
  }

  indoorC(): number | null {
    return this.indoor === null ? null : Math.round(this.indoor * 100) / 100;
  }

  async close(): Promise<void> {}
}
