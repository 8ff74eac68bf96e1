/**
 * The seam between the gateway runtime and the Node-RED nodes.
 *
 * When the gateway embeds Node-RED it registers its live parts here; a `hepek-config` node with no
 * RPC URL then uses them. Node-RED loads the compiled nodes with its own `require`, which may be a
 * different module instance from the runtime's (tests run TypeScript sources), so the registry
 * lives on `globalThis` under a registered symbol rather than in a module variable.
 */

import type { GatewayMarket } from './market';
import type { BatteryDevice, ThermostatDevice } from './devices/api';
import type { LedgerSink } from './store/ledger';

/** One meter sample. Energy counters are cumulative, like a real meter's registers. */
export interface MeterReading {
  /** ISO 8601 time of the sample on the meter's clock (accelerated for the simulator). */
  timestamp: string;
  /** Cumulative energy imported from the grid, Wh. */
  importWh: number;
  /** Cumulative energy exported to the grid, Wh. */
  exportWh: number;
  /** Net grid power, W: positive while importing, negative while exporting. */
  powerW: number;
  /** Household consumption, W (simulated or measured; 0 when the meter cannot tell). */
  loadW: number;
  /** PV production, W (0 when the meter cannot tell). */
  pvW: number;
}

export interface MeterSource {
  /** A short name for logs and node status, e.g. `simulated`. */
  readonly kind: string;
  /** The newest reading, or null before the first one. */
  latest(): MeterReading | null;
  /** Calls `listener` with every new reading; returns the unsubscribe function. */
  subscribe(listener: (reading: MeterReading) => void): () => void;
}

export interface RelayState {
  /** true = closed (household supplied), false = open (supply cut). */
  on: boolean;
  /** ISO 8601 wall-clock time of the last change. */
  changedAt: string;
  /** Why it last changed, e.g. `balance below threshold`. */
  reason: string;
  /** Whether the relay answers (MQTT / Modbus adapters); absent for the simulated relay, which always does. */
  available?: boolean;
}

export interface RelayDevice {
  readonly kind: string;
  state(): RelayState;
  /** Switches the relay; resolves with the state after the switch (unchanged if already there). */
  set(on: boolean, reason: string): Promise<RelayState>;
  subscribe(listener: (state: RelayState) => void): () => void;
}

export interface SpendableBalance {
  /** The HEPEK wallet (the device key's address). */
  wallet: string;
  /** ERGON held by the wallet, in base units (18 decimals), as a decimal string. */
  ergonWei: string;
  /** Unspent channel deposit in base units (deposit minus newest voucher), as a decimal string. */
  channelUnspentWei: string;
  /** ergonWei + channelUnspentWei, as a decimal string. */
  spendableWei: string;
  /** The same spendable amount in ERGON, as a number for display and comparisons. */
  spendableErgon: number;
  /** The block the balance was read at. */
  blockNumber: number;
}

export interface BalanceSource {
  read(): Promise<SpendableBalance>;
}

export interface GatewayContext {
  /** The device id as registered on chain (bytes32 hex). */
  readonly deviceId: string;
  /** The human-readable serial the device id is derived from. */
  readonly serial: string;
  /** The HEPEK wallet address. */
  readonly wallet: string;
  readonly chainId: number;
  /** Deployed contract addresses; MeterReadings and Purchase are absent only in an older `chain.contracts`. */
  readonly contracts: {
    ErgonToken: string;
    GatewayRegistry: string;
    MeterReadings?: string;
    Purchase?: string;
    EnergyMarket?: string;
  };
  /** The default low threshold for the spendable balance, ERGON. */
  readonly lowThresholdErgon: number;
  readonly meter: MeterSource;
  readonly relay: RelayDevice;
  readonly balance: BalanceSource;
  /** The home battery, when one is configured (`settings.battery`). */
  readonly battery?: BatteryDevice;
  /** The thermostat / AC, when one is configured (`settings.thermostat`). */
  readonly thermostat?: ThermostatDevice;
  /** Where ERGON flows and prices are recorded for the dashboards (gateway/store/ledger.ts). */
  readonly ledger?: LedgerSink;
  /** The P2P energy market as this device (gateway/market/), when the deployment has one. */
  readonly market?: GatewayMarket;
  /** The money path (payer, hub broadcasts, export rewards), when billing runs (gateway/channel/wire.ts). */
  readonly money?: GatewayMoney;
}

/**
 * The money path as the registry carries it: gateway/channel/wire.ts's `MoneyPath`, kept opaque
 * here so this module (which the DApp page's types include) stays free of the hub and the payer.
 */
export interface GatewayMoney {
  readonly hubAddress: string;
  readonly region: string;
}

const REGISTRY = Symbol.for('hepek.gateway.registry');

type Registry = Map<string, GatewayContext>;

function registry(): Registry {
  const holder = globalThis as unknown as Record<symbol, Registry | undefined>;
  let found = holder[REGISTRY];
  if (!found) {
    found = new Map();
    holder[REGISTRY] = found;
  }
  return found;
}

export function registerGateway(context: GatewayContext, name = 'default'): () => void {
  registry().set(name, context);
  return () => {
    if (registry().get(name) === context) registry().delete(name);
  };
}

export function findGateway(name = 'default'): GatewayContext | undefined {
  return registry().get(name);
}
