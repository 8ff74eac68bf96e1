/**
 * The MQTT topic contract every integration shares (Home Assistant, the Homebridge plugin, the
 * OpenADR VEN). Each topic's payload is described in gateway/integrations/homeassistant/README.md;
 * parts of the gateway that produce a value publish it here, retained, and anything that drives a
 * device listens on the `…/set` command topics.
 */
export interface HepekTopics {
  /** `online` / `offline` (retained; `offline` is the gateway client's last will). */
  status: string;
  /** `{timestamp, importWh, exportWh, powerW, loadW, pvW}` — the latest meter reading. */
  meter: string;
  /** `{on, changedAt, reason}` — the supply relay. */
  relay: string;
  /** Command: `ON` / `OFF`. */
  relaySet: string;
  /** `{wallet, spendableErgon, ergonWei, channelUnspentWei, spendableWei, blockNumber}`. */
  balance: string;
  /** `{socPct, powerW}` — the home battery (powerW > 0 charging). */
  battery: string;
  /** `{indoorC, outdoorC, setpointC, mode}` — the thermostat / AC and the temperatures it sees. */
  thermostat: string;
  /** Command: the setpoint, °C, as a plain number (`21.5`). */
  thermostatSetpointSet: string;
  /** Command: `off` / `heat` / `cool` / `auto`. */
  thermostatModeSet: string;
  /** `{active, event}` — event is the normalised DemandEvent (gateway/demand/types.ts) or null. */
  demand: string;
  /** `ON` / `OFF` — whether the household takes part in demand response. */
  demandAllow: string;
  /** Command: `ON` / `OFF`. */
  demandAllowSet: string;
  /** `{currentErgonPerKWh, nextErgonPerKWh, forecast: [{start, ergonPerKWh}]}`. */
  price: string;
  /** `{action, setpointW, until, storedEnergyValueErgon, degradationCostErgonPerKWh, steps}`. */
  plan: string;
}

export function hepekTopics(serial: string): HepekTopics {
  const base = `hepek/${serial}`;
  return {
    status: `${base}/status`,
    meter: `${base}/meter`,
    relay: `${base}/relay`,
    relaySet: `${base}/relay/set`,
    balance: `${base}/balance`,
    battery: `${base}/battery`,
    thermostat: `${base}/thermostat`,
    thermostatSetpointSet: `${base}/thermostat/setpoint/set`,
    thermostatModeSet: `${base}/thermostat/mode/set`,
    demand: `${base}/demand`,
    demandAllow: `${base}/demand/allow`,
    demandAllowSet: `${base}/demand/allow/set`,
    price: `${base}/price`,
    plan: `${base}/plan`,
  };
}
