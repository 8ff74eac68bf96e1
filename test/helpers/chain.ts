import { suite } from 'uvu';
import { BrowserProvider, Wallet, id, parseEther, toQuantity, type Eip1193Provider } from 'ethers';
import { EmbeddedChain } from '../../gateway/chain/embedded';

export const DEV_CHAIN_ID = 31337;

/** Number of funded wallets devChain creates. */
const WALLETS = 6;
/** Each funded wallet starts with this balance. */
const BALANCE = parseEther('1000');

export interface DevChain {
  provider: BrowserProvider;
  /** Funded wallets in this order: admin, manufacturer, member, other, relayer, spare. */
  wallets: Wallet[];
  /** The EIP-1193 chain under `provider`, for tests that interpose on requests (an RPC outage). */
  raw: EmbeddedChain;
  close(): Promise<void>;
}

/**
 * Deterministic test keys: a fixed seed gives the same addresses every run, so failures reproduce.
 * Keys with other labels (device keys, forgers) are unfunded on purpose: a device key needs no ETH.
 */
export function testKey(label: string): string {
  return id(`hepek-test-key:${label}`);
}

/**
 * A fresh in-process Hardhat (EDR) chain with automine, so each transaction is mined as sent.
 */
export async function devChain(): Promise<DevChain> {
  const keys = Array.from({ length: WALLETS }, (_, i) => testKey(`wallet-${i}`));
  // The gateway's own chain without a journal: the tests exercise the provider users run.
  const chain = await EmbeddedChain.open({ dir: null, chainId: DEV_CHAIN_ID, hardfork: 'cancun' });
  // cacheTimeout -1: ethers otherwise caches identical reads for 250 ms, which would hide state
  // changes (nonces, balances) between back-to-back calls against an automining chain.
  const provider = new BrowserProvider(chain, DEV_CHAIN_ID, { cacheTimeout: -1 });
  const wallets = keys.map((k) => new Wallet(k, provider));
  for (const wallet of wallets)
    await chain.request({ method: 'hardhat_setBalance', params: [wallet.address, toQuantity(BALANCE)] });
  return {
    provider,
    wallets,
    raw: chain,
    async close() {
      provider.destroy();
      await chain.close();
    },
  };
}

/**
 * A suite whose every test gets a freshly deployed fixture as `ctx[key]` on its own dev chain, and
 * whose chain is closed after each test (after.each runs even when the test failed).
 */
export function freshChainSuite<K extends string, T extends { chain: DevChain }>(
  name: string,
  key: K,
  deploy: () => Promise<T>,
) {
  const s = suite<Record<K, T>>(name, { [key]: undefined } as unknown as Record<K, T>);
  s.before.each(async (ctx) => {
    (ctx as Record<K, T>)[key] = await deploy();
  });
  s.after.each(async (ctx) => {
    await (ctx as Record<K, T>)[key].chain.close();
  });
  return s;
}

/**
 * A provider through a link the test can cut: while `link.down` every request fails like a refused
 * TCP connection; otherwise it reaches `chain` (`link.calls` counts the requests that got through).
 */
export function flakyProvider(chain: { send(method: string, params: unknown[]): Promise<unknown> }): {
  link: { down: boolean; calls: number };
  provider: BrowserProvider;
} {
  const link = { down: false, calls: 0 };
  const flaky: Eip1193Provider = {
    request: async ({ method, params }) => {
      if (link.down)
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8545'), { code: 'ECONNREFUSED' });
      link.calls++;
      return chain.send(method, (params as unknown[]) ?? []);
    },
  };
  return { link, provider: new BrowserProvider(flaky, DEV_CHAIN_ID, { cacheTimeout: -1 }) };
}
