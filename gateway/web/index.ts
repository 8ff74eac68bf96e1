/**
 * The DApp as the runtime starts it: readings kept from now on, its routes for the editor's server.
 */
import path from 'node:path';
import type { JsonRpcApiProvider } from 'ethers';
import type { Settings } from '../../settings';
import type { ChainConnection } from '../chain/connect';
import type { GatewayContext } from '../context';
import type { DevAccounts } from '../identity/dev-accounts';
import { packageRoot } from '../paths';
import { MeterReadings__factory } from '../chain/types';
import type { PricesResponse } from './api';
import { createDappMarket } from './market';
import { createDapp, type Dapp, type DappOptions } from './server';

export { createDapp, type Dapp, type DappOptions } from './server';

export function startDapp(
  settings: Settings,
  chain: ChainConnection,
  context: GatewayContext,
  accounts: DevAccounts,
  extras: {
    purchase?: DappOptions['purchase'];
    prices?: { prices(): Promise<PricesResponse> } | null;
    channel?: DappOptions['channel'];
    /** The deployment's first block, when this gateway deployed it (settlements are read from there). */
    deployedAtBlock?: number;
  } = {},
): Dapp {
  const { purchase, prices, channel } = extras;
  // Every provider connectChain makes (BrowserProvider, JsonRpcProvider, WebSocketProvider) speaks JSON-RPC.
  const provider = chain.provider as JsonRpcApiProvider;
  return createDapp({
    context,
    mode: settings.mode,
    rpc: (method, params) => provider.send(method, params),
    embedded: chain.embedded !== null,
    chainLabel: chain.label,
    demoMember: chain.embedded ? accounts.member : null,
    adminAuth: settings.nodeRed.adminAuth !== null,
    pageDir: path.join(packageRoot(), 'dist', 'web'),
    ...(context.contracts.MeterReadings ? { rewards: rewardsReader(chain, context) } : {}),
    ...(purchase ? { purchase } : {}),
    ...(prices ? { prices: () => prices.prices() } : {}),
    ...(channel ? { channel } : {}),
    ...(context.market
      ? {
          market: createDappMarket({
            market: context.market,
            provider: chain.provider,
            chainId: context.chainId,
            registry: context.contracts.GatewayRegistry,
            ...(extras.deployedAtBlock !== undefined ? { fromBlock: extras.deployedAtBlock } : {}),
            // The in-process chain stamps blocks on the simulator's clock when it follows it.
            clockRate: () =>
              settings.chain.followSimClock && chain.embedded && settings.meter.type === 'simulated'
                ? settings.meter.speed
                : 1,
          }),
        }
      : {}),
  });
}

/** Reads this device's account in MeterReadings through the generated binding (its ABI cannot drift). */
function rewardsReader(chain: ChainConnection, context: GatewayContext) {
  const readings = MeterReadings__factory.connect(context.contracts.MeterReadings!, chain.provider);
  return async () => {
    const account = await readings.accountOf(context.deviceId);
    return {
      accruedWei: account.accruedWei.toString(),
      carbonMg: account.carbonMg.toString(),
      lastSeq: account.lastSeq.toString(),
    };
  };
}
