/**
 * The gateway's market handle: a MarketClient relaying through a funded account, the device key
 * that signs offers and buys, and the agent that proves and settles on a timer (settings.market).
 */
import type { Signer } from 'ethers';
import type { Settings } from '../../settings';
import type { TypedDataSigner } from '../chain/typed-data';
import type { MeterSource } from '../context';
import type { Logger } from '../log';
import { MarketAgent } from './agent';
import { MarketClient } from './client';

export { MarketAgent } from './agent';
export { MarketClient, type OfferView, type OfferRequest, type SettlementView } from './client';
export { costOf, marketDomain, signBuy, signCancel, signOffer } from './sign';

/** What the nodes use: list/cancel as this device, buy with its HEPEK wallet. */
export interface GatewayMarket {
  client: MarketClient;
  device: TypedDataSigner & { address: string };
  deviceId: string;
  agent: MarketAgent;
  stop(): void;
}

export interface MarketDeps {
  chainId: number;
  contracts: { ErgonToken: string; MeterReadings?: string; EnergyMarket?: string };
  device: TypedDataSigner & { address: string };
  deviceId: string;
  meter: MeterSource;
  /** A funded account that sends the transactions; null = no market (e.g. a chain we did not deploy). */
  relayer: Signer | null;
}

/**
 * Starts the market agent on `settings.market.intervalMs` (when `settings.market.auto`), or returns
 * null when the deployment has no EnergyMarket or there is no account to relay with.
 */
export function startMarket(settings: Settings, deps: MarketDeps, log: Logger): GatewayMarket | null {
  const { EnergyMarket: market, MeterReadings: readings, ErgonToken: token } = deps.contracts;
  if (!market || !readings || !deps.relayer) {
    log.info(
      `market: off (${!market || !readings ? 'the deployment has no EnergyMarket' : 'no funded account to relay with on this chain'})`,
    );
    return null;
  }
  const client = new MarketClient({ chainId: deps.chainId, market, token, relayer: deps.relayer });
  const agent = new MarketAgent({
    client,
    readings,
    device: deps.device,
    deviceId: deps.deviceId,
    relayer: deps.relayer,
    counters: () => deps.meter.latest(),
    log: (line) => log.info(line),
  });
  let timer: NodeJS.Timeout | null = null;
  if (settings.market.auto) {
    timer = setInterval(() => void agent.tick(), settings.market.intervalMs);
    timer.unref();
  }
  return {
    client,
    device: deps.device,
    deviceId: deps.deviceId,
    agent,
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
