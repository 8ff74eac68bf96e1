/**
 * What a `hepek-config` node gives the other nodes: the meter, relay and balance source of either
 * the gateway embedded in this process or the config's own standalone set, and the wallet and
 * threshold that go with them.
 */
import type { MoneyPath } from '../../gateway/channel/wire';
import type { BalanceSource, MeterSource, RelayDevice } from '../../gateway/context';
import type { BatteryDevice, ThermostatDevice } from '../../gateway/devices/api';
import type { GatewayMarket } from '../../gateway/market';
import { ConfigError } from '../../gateway/errors';
import { failOutsideInput } from './errors';
import type { Node, NodeAPI } from './red';

export interface NodeGateway {
  /** `embedded`: the gateway running this Node-RED; `standalone`: the config's own RPC and simulators. */
  readonly mode: 'embedded' | 'standalone';
  readonly meter: MeterSource;
  readonly relay: RelayDevice;
  readonly balance: BalanceSource;
  /** The HEPEK wallet address. */
  readonly wallet: string;
  /** Low threshold for the spendable balance, ERGON. */
  readonly lowThresholdErgon: number;
  /** The home battery, when the gateway has one. */
  readonly battery?: BatteryDevice;
  /** The thermostat / AC, when the gateway has one. */
  readonly thermostat?: ThermostatDevice;
  /** The P2P energy market as this device, when the embedded gateway has one. */
  readonly market?: GatewayMarket;
  /** The money path (payer, verified hub broadcasts, export rewards), when the gateway bills. */
  readonly money?: MoneyPath;
}

/** The gateway's money path, or a ConfigError saying why there is none. */
export function moneyOf(gateway: NodeGateway): MoneyPath {
  if (!gateway.money)
    throw new ConfigError(
      'config',
      gateway.mode,
      'the gateway embedded by `hepek start` with billing on (channel.enabled and a hub: hub.embedded or hub.address)',
    );
  return gateway.money;
}

/** A `hepek-config` node instance. */
export interface HepekConfigNode extends Node {
  /** The gateway parts to use; throws (ConfigError, DeviceUnavailableError) when there are none. */
  gateway(): NodeGateway;
}

function isHepekConfig(node: Node | null): node is HepekConfigNode {
  return (
    node !== null &&
    node.type === 'hepek-config' &&
    typeof (node as Partial<HepekConfigNode>).gateway === 'function'
  );
}

/** The gateway of the `hepek-config` node a node's `config` property points at. */
export function configGateway(RED: NodeAPI, configId: unknown): NodeGateway {
  const node = typeof configId === 'string' && configId !== '' ? RED.nodes.getNode(configId) : null;
  if (!isHepekConfig(node)) {
    throw new ConfigError(
      'config',
      configId ?? '',
      'a hepek-config node (open this node and pick or add one)',
    );
  }
  return node.gateway();
}

/**
 * Connects a node to its config's gateway once. `subscribe` runs on the first successful attach
 * and returns its unsubscribe, which runs when the node closes. The first try is made at once; its
 * failure shows as a red status and in the log. Call the returned function again on each input: a
 * node whose gateway was missing at start-up attaches as soon as it is there.
 */
export function gatewayAttachment(
  RED: NodeAPI,
  node: Node,
  configId: unknown,
  subscribe: (gateway: NodeGateway) => () => void,
): () => NodeGateway {
  let unsubscribe: (() => void) | undefined;
  node.on('close', (_removed: boolean, done: () => void) => {
    unsubscribe?.();
    unsubscribe = undefined;
    done();
  });
  const attach = (): NodeGateway => {
    const gateway = configGateway(RED, configId);
    unsubscribe ??= subscribe(gateway);
    return gateway;
  };
  try {
    attach();
  } catch (err) {
    failOutsideInput(node, err);
  }
  return attach;
}

/** The gateway's market, or a ConfigError saying where one is available. */
export function gatewayMarket(gateway: NodeGateway): GatewayMarket {
  if (!gateway.market)
    throw new ConfigError(
      'config',
      gateway.mode,
      'the embedded gateway (blank RPC URL) of `hepek start` on a deployment with an EnergyMarket and a funded relay account',
    );
  return gateway.market;
}
