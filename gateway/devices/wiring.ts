/**
 * The configured devices of a running gateway: the relay, battery and thermostat from the one
 * registry, the position, the MQTT sensors and the relay's chain-loss watch — checked before the
 * gateway starts anything, started with the gateway's MQTT client and closed in one call.
 */
import type { Settings } from '../../settings';
import type { BalanceSource } from '../context';
import type { SimulatedHome } from '../sim/home';
import { decodeGpsConfig, positionFromConfig, type PositionSource } from '../meters/gps/position';
import { decodeMqttSensor, MqttSensor, type SensorValue } from '../sensors';
import { hasClose, type BatteryDevice, type RelayDevice, type ThermostatDevice } from './api';
import { ChainWatch } from './chain-watch';
import { systemClock, type Clock } from './clock';
import type { MqttLink } from './mqtt/link';
import { decodeDevice, fromConfig } from './registry';

/** Throws a ConfigError naming the first bad device setting; no I/O. */
export function checkDeviceSettings(settings: Settings): void {
  decodeDevice('relay', settings.relay.type, settings.relay.options);
  if (settings.battery.type !== 'none')
    decodeDevice('battery', settings.battery.type, settings.battery.options);
  if (settings.thermostat.type !== 'none')
    decodeDevice('thermostat', settings.thermostat.type, settings.thermostat.options);
  decodeGpsConfig(settings.gps);
  settings.sensors.forEach((raw, i) => decodeMqttSensor(raw, `sensors[${i}]`));
}

export interface GatewayDevices {
  relay: RelayDevice;
  battery: BatteryDevice | null;
  thermostat: ThermostatDevice | null;
  position: PositionSource | null;
  sensors: MqttSensor[];
  /** Starts the relay.onChainLoss watch on the gateway's balance source. */
  watchChain(balance: BalanceSource): void;
  /** What `/hepek/status` shows about the devices. */
  status(): Record<string, unknown>;
  close(): Promise<void>;
}

export async function startDevices(
  settings: Settings,
  deps: { mqtt: MqttLink; log: (text: string) => void; clock?: Clock; home?: SimulatedHome },
): Promise<GatewayDevices> {
  const clock = deps.clock ?? systemClock;
  const common = { mqtt: deps.mqtt, log: deps.log, clock, ...(deps.home ? { home: deps.home } : {}) };
  const relay = fromConfig('relay', settings.relay.type, settings.relay.options, common);
  const battery =
    settings.battery.type === 'none'
      ? null
      : fromConfig('battery', settings.battery.type, settings.battery.options, common);
  const thermostat =
    settings.thermostat.type === 'none'
      ? null
      : fromConfig('thermostat', settings.thermostat.type, settings.thermostat.options, common);
  let position: PositionSource | null = null;
  try {
    position = await positionFromConfig(decodeGpsConfig(settings.gps));
  } catch (err) {
    // A GPS receiver that is not plugged in must not stop the gateway; the status says so.
    deps.log(`gps: ${(err as Error).message}; the position is unknown until a restart`);
  }
  const sensors = settings.sensors.map(
    (raw, i) => new MqttSensor(deps.mqtt, decodeMqttSensor(raw, `sensors[${i}]`)),
  );
  let watch: ChainWatch | null = null;
  return {
    relay,
    battery,
    thermostat,
    position,
    sensors,
    watchChain(balance) {
      watch = new ChainWatch({
        relay,
        balance,
        action: settings.relay.onChainLoss,
        checkMs: settings.relay.chainCheckMs,
        lossAfterMs: settings.relay.chainLossAfterMs,
        clock,
        log: deps.log,
      });
      watch.start();
    },
    status() {
      const values: Record<string, SensorValue | null> = {};
      for (const sensor of sensors) values[sensor.id] = sensor.read();
      return {
        relay: { type: settings.relay.type, available: relay.state().available ?? true },
        chainLink: watch?.status() ?? null,
        battery: battery?.state() ?? null,
        thermostat: thermostat?.state() ?? null,
        position: position?.position() ?? null,
        sensors: values,
      };
    },
    async close() {
      watch?.stop();
      for (const sensor of sensors) sensor.close();
      await position?.close();
      await thermostat?.close();
      await battery?.close();
      if (hasClose(relay)) await relay.close();
    },
  };
}
