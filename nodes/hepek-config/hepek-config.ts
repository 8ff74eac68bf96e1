/**
 * `hepek-config`: where the other HEPEK nodes get their meter, relay and balance. Blank RPC URL =
 * the gateway embedded in this process; otherwise its own JSON-RPC provider and simulators.
 */
import { JsonRpcProvider, Network } from 'ethers';
import { findGateway } from '../../gateway/context';
import { createTokenBalanceSource } from '../../gateway/chain/balance';
import type { BatteryDevice, ThermostatDevice } from '../../gateway/devices/api';
import { fromConfig as deviceFromConfig } from '../../gateway/devices/registry';
import { SimulatedRelay } from '../../gateway/devices/sim-relay';
import { SimulatedHousehold } from '../../gateway/sim/household';
import { toError } from '../shared/errors';
import type { NodeGateway } from '../shared/gateway';
import type { Node, NodeAPI, NodeDef } from '../shared/red';
import { registerHepekType } from '../shared/register';
import { embeddedGateway, normaliseConfig, type HepekConfigSettings, type StandaloneSettings } from './logic';

interface Standalone {
  gateway: NodeGateway;
  household: SimulatedHousehold;
  provider: JsonRpcProvider;
  battery: BatteryDevice;
  thermostat: ThermostatDevice;
}

function buildStandalone(settings: StandaloneSettings): Standalone {
  const network = settings.chainId === undefined ? undefined : Network.from(settings.chainId);
  const provider = new JsonRpcProvider(settings.rpcUrl, network, network ? { staticNetwork: network } : {});
  const household = new SimulatedHousehold(settings.simulator);
  // A standalone Node-RED gets the simulated home's battery and AC too, on the household's speed.
  const speed = settings.simulator.speed;
  const battery = deviceFromConfig('battery', 'simulated', { speed });
  const thermostat = deviceFromConfig('thermostat', 'simulated', { speed });
  const gateway: NodeGateway = {
    mode: 'standalone',
    meter: household,
    relay: new SimulatedRelay(),
    balance: createTokenBalanceSource(provider, settings.tokenAddress, settings.wallet, {
      rpc: settings.rpcUrl,
    }),
    wallet: settings.wallet,
    lowThresholdErgon: settings.lowThresholdErgon,
    battery,
    thermostat,
  };
  household.start();
  return { gateway, household, provider, battery, thermostat };
}

type ConfigNode = Node & { gateway?: () => NodeGateway };

export = function (RED: NodeAPI): void {
  function HepekConfigNode(this: ConfigNode, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    let settings: HepekConfigSettings | undefined;
    let standalone: Standalone | undefined;
    let failure: Error | undefined;
    try {
      settings = normaliseConfig(def);
      if (settings.mode === 'standalone') standalone = buildStandalone(settings);
    } catch (err) {
      failure = toError(err);
      // Config nodes have no status; the log and the nodes that use it (red status, Catch) say it.
      this.error(failure);
    }

    this.gateway = (): NodeGateway => {
      if (failure) throw failure;
      if (standalone) return standalone.gateway;
      return embeddedGateway(findGateway(), settings as Extract<HepekConfigSettings, { mode: 'embedded' }>);
    };

    this.on('close', (_removed, done) => {
      if (standalone) {
        standalone.household.stop();
        standalone.provider.destroy();
        void standalone.battery.close();
        void standalone.thermostat.close();
        standalone = undefined;
      }
      done();
    });
  }
  registerHepekType(RED, 'hepek-config', HepekConfigNode, (node: ConfigNode, err) => {
    // The nodes that use this config then fail with the reason, not with "no hepek-config".
    node.gateway = () => {
      throw err;
    };
  });
};
