/**
 * The simulated home's thermostat (gateway/sim/thermal.ts) as a ThermostatControl, so Home
 * Assistant's climate entity and Homebridge drive it on the embedded default. The simulator's own
 * thermostat already keeps the compressor's minimum on/off times. Its `off` mode is the control's
 * `on: false`; the mode it had before is kept so switching on again resumes it. Indoor temperature
 * changes (in 0.1 °C) arrive with the meter readings and are passed on to subscribers.
 */
import type { SimulatedHome } from '../../sim/home';
import { InputError } from '../../errors';
import type { ThermostatControl } from './integration';

type State = ReturnType<ThermostatControl['state']>;

export function simulatedHomeThermostat(home: SimulatedHome): ThermostatControl | null {
  const thermal = home.thermal;
  if (!thermal) return null;
  let lastMode: 'heat' | 'cool' | 'auto' = thermal.state().thermostat.mode === 'cool' ? 'cool' : 'heat';
  const listeners = new Set<(state: State) => void>();
  const state = (): State => {
    const { indoorC, thermostat } = thermal.state();
    if (thermostat.mode !== 'off') lastMode = thermostat.mode;
    return {
      on: thermostat.mode !== 'off',
      mode: thermostat.mode === 'off' ? lastMode : thermostat.mode,
      setpointC: thermostat.setpointC,
      indoorC: Math.round(indoorC * 10) / 10,
    };
  };
  const emit = () => {
    const s = state();
    for (const listener of [...listeners]) listener(s);
  };
  let lastIndoor = state().indoorC;
  const unsubscribeMeter = home.subscribe(() => {
    const indoor = state().indoorC;
    if (indoor !== lastIndoor) {
      lastIndoor = indoor;
      emit();
    }
  });
  return {
    state,
    async set(command) {
      if (command.mode === 'fan')
        throw new InputError(
          'thermostat.mode',
          'fan',
          'heat, cool or auto (the simulated heat pump has no fan-only mode)',
        );
      const patch: { mode?: 'off' | 'heat' | 'cool' | 'auto'; setpointC?: number } = {};
      if (command.setpointC !== undefined) patch.setpointC = command.setpointC;
      if (command.mode !== undefined) lastMode = command.mode;
      if (command.on === false) patch.mode = 'off';
      else if (command.on === true || command.mode !== undefined) patch.mode = command.mode ?? lastMode;
      home.setThermostat(patch);
      emit();
      return state();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) unsubscribeMeter();
      };
    },
  };
}
