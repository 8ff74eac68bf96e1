/**
 * `hepek market offers|list|buy|settle` for scripts, against the running gateway's chain (its DApp
 * RPC, `http://<nodeRed.host>:<nodeRed.port>/dapp/api/rpc`, which relays signed transactions) or
 * any node with `--rpc URL`. The device key of the user dir signs offers and buys (it never leaves
 * this process); the transaction is sent by `--key-env VAR`'s key, else the user dir's dev member
 * account (funded on the gateway's own dev chain).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  JsonRpcProvider,
  Network,
  VoidSigner,
  Wallet,
  ZeroAddress,
  type Signer,
  formatUnits,
  getAddress,
  isAddress,
  parseUnits,
  ZeroHash,
} from 'ethers';
import type { Settings } from '../../settings';
import { ConfigError, StateError } from '../errors';
import { probeChainId } from '../chain/connect';
import { rememberedDeployment } from '../chain/provision';
import { GatewayRegistry__factory } from '../chain/types';
import { loadOrCreateDevAccounts } from '../identity/dev-accounts';
import { KeystoreSigner } from '../identity/keystore';
import { MarketClient, type OfferView } from './client';

export const MARKET_SUBCOMMANDS = ['offers', 'list', 'buy', 'settle'] as const;
const CHAIN_FLAGS = ['--rpc', '--market', '--key-env', '--settings', '--user-dir'];

/** Flags per subcommand, for gateway/cli.ts's parseArgs. */
export const MARKET_FLAGS: Record<string, string[]> = {
  offers: [...CHAIN_FLAGS, '--json'],
  list: [...CHAIN_FLAGS, '--wh', '--price', '--start', '--end', '--expiry', '--json'],
  buy: [...CHAIN_FLAGS, '--offer', '--wh', '--max-price', '--json'],
  settle: [...CHAIN_FLAGS, '--offer', '--buyer', '--json'],
};

export const MARKET_USAGE = `
Market (P2P energy):
  market offers [--json]           open offers (--json: a JSON array)
  market list --wh N --price ERGON_PER_KWH --start TIME --end TIME [--expiry TIME]
                                   list N Wh of this device's export for the window (TIME: ISO 8601 or unix s)
  market buy --offer ID --wh N [--max-price ERGON_PER_KWH]
                                   take N Wh of an offer with this gateway's HEPEK wallet (escrowed)
  market settle --offer ID [--buyer ADDRESS]
                                   pay the seller and refund the buyers of a proven (or expired) offer
  Chain options: --rpc URL (default: the running gateway's chain), --market ADDRESS (default: the
  user dir's deployment or chain.contracts.EnergyMarket), --key-env VAR (sender key; default: the
  dev member account), --settings FILE, --user-dir DIR
`;

export interface MarketCommandDeps {
  settings: Settings;
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
}

/** Parses a positive whole number of Wh. */
export function parseWh(flag: string, value: string | undefined): bigint {
  if (value === undefined) throw new ConfigError(flag, value, 'a whole number of Wh > 0');
  if (!/^[1-9][0-9]*$/.test(value)) throw new ConfigError(flag, value, 'a whole number of Wh > 0');
  return BigInt(value);
}

/** Parses ERGON per kWh (decimal, up to 18 places) into base units per kWh. */
export function parsePrice(flag: string, value: string | undefined): bigint {
  if (value === undefined || !/^[0-9]+(\.[0-9]{1,18})?$/.test(value))
    throw new ConfigError(flag, value, 'ERGON per kWh, a decimal number such as 0.25');
  const units = parseUnits(value, 18);
  if (units === 0n) throw new ConfigError(flag, value, 'a price above 0 ERGON per kWh');
  return units;
}

/** Parses an ISO 8601 time or unix seconds into unix seconds. */
export function parseTime(flag: string, value: string | undefined): bigint {
  if (value === undefined) throw new ConfigError(flag, value, 'an ISO 8601 time or unix seconds');
  if (/^[0-9]+$/.test(value)) return BigInt(value);
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || !Number.isFinite(ms))
    throw new ConfigError(flag, value, 'an ISO 8601 time (e.g. 2026-12-08T10:00:00Z) or unix seconds');
  return BigInt(Math.floor(ms / 1000));
}

function parseOfferId(value: string | undefined): bigint {
  if (value === undefined || !/^[1-9][0-9]*$/.test(value))
    throw new ConfigError('--offer', value, 'an offer id, a whole number ≥ 1 (see hepek market offers)');
  return BigInt(value);
}

interface Connection {
  provider: JsonRpcProvider;
  chainId: bigint;
  client: (needsSender: boolean) => Promise<MarketClient>;
  contracts: Record<string, string | undefined>;
}

async function connect(flags: Map<string, string>, deps: MarketCommandDeps): Promise<Connection> {
  const { settings } = deps;
  const rpc =
    flags.get('--rpc') ??
    settings.chain.rpcUrl ??
    `http://${loopbackHost(settings.nodeRed.host)}:${settings.nodeRed.port}/dapp/api/rpc`;
  if (!/^https?:\/\//.test(rpc)) throw new ConfigError('--rpc', rpc, 'an http(s) JSON-RPC URL');
  let chainId: bigint;
  try {
    chainId = BigInt(await probeChainId(rpc, 10_000));
  } catch (err) {
    throw new StateError(
      rpc,
      `does not answer JSON-RPC (${(err as Error).message}); start the gateway (hepek start) or pass --rpc URL`,
      { cause: err },
    );
  }
  // One request per POST: the gateway's DApp RPC takes no batches.
  const provider = new JsonRpcProvider(rpc, Network.from(chainId), {
    cacheTimeout: -1,
    batchMaxCount: 1,
    staticNetwork: true,
  });
  const record = rememberedDeployment(settings.userDir, Number(chainId));
  const contracts: Record<string, string | undefined> = {
    ...(record?.contracts ?? {}),
    ...(settings.chain.contracts ?? {}),
  };
  const marketFlag = flags.get('--market');
  if (marketFlag !== undefined) {
    if (!isAddress(marketFlag))
      throw new ConfigError('--market', marketFlag, 'the 0x address of an EnergyMarket');
    contracts.EnergyMarket = getAddress(marketFlag);
  }
  if (!contracts.EnergyMarket)
    throw new ConfigError(
      '--market',
      undefined,
      `the EnergyMarket address: none is remembered in ${path.join(settings.userDir, 'deployments')} for chain ${chainId} or set in chain.contracts`,
    );
  if ((await provider.getCode(contracts.EnergyMarket)) === '0x')
    throw new ConfigError('--market', contracts.EnergyMarket, `an EnergyMarket deployed on chain ${chainId}`);
  const client = async (needsSender: boolean) => {
    let sender: Signer;
    const keyEnv = flags.get('--key-env');
    if (keyEnv !== undefined) {
      const key = deps.env[keyEnv];
      if (!key)
        throw new ConfigError(
          '--key-env',
          keyEnv,
          'the name of an environment variable holding a private key',
        );
      try {
        sender = new Wallet(key, provider);
      } catch (err) {
        throw new ConfigError('--key-env', keyEnv, 'a variable holding a 0x private key', { cause: err });
      }
    } else if (needsSender) {
      const keysDir = path.join(settings.userDir, 'keys');
      if (!existsSync(path.join(keysDir, 'dev-accounts.json')))
        throw new ConfigError(
          '--key-env',
          undefined,
          `a sender key: ${keysDir} has no dev accounts (not a dev-chain gateway)`,
        );
      sender = loadOrCreateDevAccounts(keysDir).member.connect(provider);
    } else sender = new VoidSigner(ZeroAddress, provider); // reads only
    if (!contracts.ErgonToken) throw new StateError('market', 'the deployment names no ErgonToken');
    return new MarketClient({
      chainId,
      market: contracts.EnergyMarket!,
      token: contracts.ErgonToken,
      relayer: sender,
    });
  };
  return { provider, chainId, client, contracts };
}

function loopbackHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}

async function deviceKey(settings: Settings, env: NodeJS.ProcessEnv): Promise<KeystoreSigner> {
  const dir = path.join(settings.userDir, 'keys');
  if (!existsSync(path.join(dir, 'device-keystore.json')))
    throw new StateError(dir, 'has no device keystore; run `hepek start` once with this user dir');
  return KeystoreSigner.open({
    dir,
    password: env[settings.identity.keystorePasswordEnv] ?? null,
    scryptN: settings.identity.scryptN,
  });
}

function describe(o: OfferView): string {
  const price = formatUnits(o.pricePerKWh, 18);
  const when = `${new Date(o.deliveryStart * 1000).toISOString()} – ${new Date(o.deliveryEnd * 1000).toISOString()}`;
  return `#${o.offerId}  ${o.availableWh}/${o.wattHours} Wh left  ${price} ERGON/kWh  ${when}  seller ${o.sellerWallet}`;
}

/** Runs one market subcommand; returns the exit code. */
export async function marketCommand(
  sub: string,
  flags: Map<string, string>,
  deps: MarketCommandDeps,
): Promise<number> {
  if (!(MARKET_SUBCOMMANDS as readonly string[]).includes(sub))
    throw new ConfigError('market', sub, `one of ${MARKET_SUBCOMMANDS.join(', ')} (see hepek help)`);
  // Every value is checked before anything touches the chain or the keystore.
  const json = flags.has('--json');
  const req =
    sub === 'list'
      ? {
          wattHours: parseWh('--wh', flags.get('--wh')),
          pricePerKWh: parsePrice('--price', flags.get('--price')),
          deliveryStart: parseTime('--start', flags.get('--start')),
          deliveryEnd: parseTime('--end', flags.get('--end')),
          expiry: flags.has('--expiry') ? parseTime('--expiry', flags.get('--expiry')) : undefined,
        }
      : null;
  if (req && !(req.deliveryStart < req.deliveryEnd))
    throw new ConfigError('--end', flags.get('--end'), `a time after --start ${flags.get('--start')}`);
  const offerId = sub === 'buy' || sub === 'settle' ? parseOfferId(flags.get('--offer')) : 0n;
  const buyWh = sub === 'buy' ? parseWh('--wh', flags.get('--wh')) : 0n;
  const maxPrice =
    sub === 'buy' && flags.has('--max-price')
      ? parsePrice('--max-price', flags.get('--max-price'))
      : undefined;
  const buyer = flags.get('--buyer');
  if (buyer !== undefined && !isAddress(buyer))
    throw new ConfigError('--buyer', buyer, 'a 0x wallet address');

  const conn = await connect(flags, deps);
  try {
    if (sub === 'offers') {
      const offers = await (await conn.client(false)).openOffers();
      if (json) deps.out(`${JSON.stringify(offers, null, 2)}\n`);
      else deps.out(offers.length === 0 ? 'no open offers\n' : `${offers.map(describe).join('\n')}\n`);
      return 0;
    }
    const client = await conn.client(true);
    if (sub === 'settle') {
      const settled = await client.settle(offerId, buyer === undefined ? undefined : getAddress(buyer));
      if (json) deps.out(`${JSON.stringify(settled, null, 2)}\n`);
      else if (settled.length === 0) deps.out(`offer ${offerId}: nobody left to settle\n`);
      else
        for (const s of settled)
          deps.out(
            `offer ${offerId}: ${s.buyerWallet} got ${s.deliveredWh} Wh, paid ${formatUnits(s.paid, 18)} ERGON, refunded ${formatUnits(s.refunded, 18)} ERGON\n`,
          );
      return 0;
    }
    const device = await deviceKey(deps.settings, deps.env);
    if (sub === 'list') {
      const registry = GatewayRegistry__factory.connect(conn.contracts.GatewayRegistry!, conn.provider);
      const deviceId = await registry.deviceIdOfKey(device.address);
      if (deviceId === ZeroHash)
        throw new StateError(
          'market',
          `the device key ${device.address} is not registered on chain ${conn.chainId}`,
        );
      const id = await client.list(device, deviceId, req!);
      const offer = await client.offer(id);
      deps.out(json ? `${JSON.stringify(offer, null, 2)}\n` : `listed ${describe(offer)}\n`);
      return 0;
    }
    const { escrow } = await client.buy(device, offerId, buyWh, maxPrice);
    const result = {
      offerId: Number(offerId),
      wattHours: Number(buyWh),
      buyerWallet: device.address,
      escrow: escrow.toString(),
    };
    deps.out(
      json
        ? `${JSON.stringify(result, null, 2)}\n`
        : `bought ${buyWh} Wh of offer ${offerId} for ${device.address}; ${formatUnits(escrow, 18)} ERGON escrowed\n`,
    );
    return 0;
  } finally {
    conn.provider.destroy();
  }
}
