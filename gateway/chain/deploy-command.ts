/**
 * `hepek deploy --rpc URL [--key-env VAR] [--json]`: deploys the ledger set (DEPLOY_PLAN) to any
 * JSON-RPC node and prints the addresses. The deployer becomes admin, operator and manufacturer of
 * every contract; hand those roles on with grantRole/revokeRole afterwards.
 */
import { Wallet, type Signer } from 'ethers';
import { ConfigError } from '../errors';
import { openJsonRpc } from './connect';
import { deployLedger, LEDGER_CONTRACTS, type LedgerAddresses } from './deploy';

export interface DeployOptions {
  rpc: string;
  /** Name of the environment variable that holds the deployer's private key; else the node's first unlocked account. */
  keyEnv: string | null;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

export interface DeployResult {
  chainId: number;
  deployer: string;
  contracts: LedgerAddresses;
}

export async function deployCommand(options: DeployOptions): Promise<DeployResult> {
  const { rpc, keyEnv, env, log } = options;
  if (!/^https?:\/\/\S+$/.test(rpc))
    throw new ConfigError('--rpc', rpc, 'an http:// or https:// JSON-RPC URL, e.g. http://127.0.0.1:8545');
  let key: string | null = null;
  if (keyEnv !== null) {
    key = env[keyEnv] ?? null;
    if (key === null || !/^(0x)?[0-9a-fA-F]{64}$/.test(key.trim()))
      throw new ConfigError(
        '--key-env',
        keyEnv,
        `the name of an environment variable holding the deployer's 32-byte hex private key (${keyEnv} is ${key === null ? 'unset' : 'not such a key'})`,
      );
  }

  const { provider, chainId } = await openJsonRpc(rpc, '--rpc', 250);
  try {
    let signer: Signer;
    if (key !== null) {
      signer = new Wallet(key.trim().startsWith('0x') ? key.trim() : `0x${key.trim()}`, provider);
    } else {
      const accounts = (await provider.send('eth_accounts', [])) as string[];
      if (accounts.length === 0)
        throw new ConfigError(
          '--key-env',
          undefined,
          `the name of an environment variable holding the deployer's private key: the node at ${rpc} has no unlocked account`,
        );
      signer = await provider.getSigner(accounts[0]);
    }
    const deployer = await signer.getAddress();
    log(`deploying ${LEDGER_CONTRACTS.join(', ')} to chain ${chainId} at ${rpc} as ${deployer}`);
    const contracts = await deployLedger(signer, { operator: deployer, manufacturer: deployer }, log);
    return { chainId, deployer, contracts };
  } finally {
    provider.destroy();
  }
}
