import { BrowserProvider, Wallet, id, parseEther, type Eip1193Provider } from 'ethers';
import { defaultHardhatNetworkParams } from 'hardhat/internal/core/config/default-config';
import { createHardhatNetworkProvider } from 'hardhat/internal/hardhat-network/provider/provider';

export const DEV_CHAIN_ID = 31337;

/** Number of funded wallets devChain creates. */
const WALLETS = 6;
/** Each funded wallet starts with this balance. */
const BALANCE = parseEther('1000');

export interface DevChain {
  provider: BrowserProvider;
  /** Funded wallets in this order: admin, manufacturer, member, other, relayer, spare. */
  wallets: Wallet[];
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
 * Kept behind this one helper so the tests can switch to gateway/chain/embedded.ts later.
 */
export async function devChain(): Promise<DevChain> {
  const keys = Array.from({ length: WALLETS }, (_, i) => testKey(`wallet-${i}`));
  const eip1193 = await createHardhatNetworkProvider(
    {
      hardfork: 'cancun',
      chainId: DEV_CHAIN_ID,
      networkId: DEV_CHAIN_ID,
      blockGasLimit: 30_000_000,
      minGasPrice: 0n,
      automine: true,
      intervalMining: 0,
      mempoolOrder: 'priority',
      chains: defaultHardhatNetworkParams.chains,
      genesisAccounts: keys.map((privateKey) => ({ privateKey, balance: BALANCE })),
      allowUnlimitedContractSize: false,
      throwOnTransactionFailures: true,
      throwOnCallFailures: true,
      allowBlocksWithSameTimestamp: false,
      enableTransientStorage: false,
      enableRip7212: false,
    },
    { enabled: false },
  );
  // cacheTimeout -1: ethers otherwise caches identical reads for 250 ms, which would hide state
  // changes (nonces, balances) between back-to-back calls against an automining chain.
  const provider = new BrowserProvider(eip1193 as Eip1193Provider, DEV_CHAIN_ID, { cacheTimeout: -1 });
  const wallets = keys.map((k) => new Wallet(k, provider));
  return {
    provider,
    wallets,
    async close() {
      provider.destroy();
    },
  };
}
