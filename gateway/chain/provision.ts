/**
 * Contracts deployed once and remembered; the device registered, claimed and given a demo balance
 * on a dev chain. Idempotent: every step checks the chain first, so a restart, a crash half-way or
 * a second gateway on the same node does each step at most once.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { id, parseEther, parseUnits, ZeroAddress, type AbstractProvider, type Wallet } from 'ethers';
import type { Settings } from '../../settings';
import { ConfigError, DeviceUnavailableError, StateError } from '../errors';
import type { DevAccounts } from '../identity/dev-accounts';
import type { DeviceSigner } from '../identity/signer';
import type { ChainConnection } from './connect';
import { deployLedger, LEDGER_CONTRACTS } from './deploy';
import { signClaim, signReceipt } from './eip712';
import {
  ErgonToken__factory,
  GatewayRegistry__factory,
  MeterReadings__factory,
  Purchase__factory,
  type ErgonToken,
  type GatewayRegistry,
  type MeterReadings,
  type Purchase,
} from './types';

/** Deployed contracts by name (the names of gateway/chain/deploy.ts DEPLOY_PLAN). */
export interface ContractAddresses {
  ErgonToken: string;
  GatewayRegistry: string;
  /** Absent only in a `chain.contracts` deployment made before MeterReadings existed. */
  MeterReadings?: string;
  /** Absent only in a `chain.contracts` deployment made before Purchase existed. */
  Purchase?: string;
  [name: string]: string | undefined;
}

/** What the device does on the grid (GatewayRegistry.DeviceMode, in enum order). */
export const DEVICE_MODES = ['consumer', 'prosumer', 'generator'] as const;
export type DeviceMode = (typeof DEVICE_MODES)[number];

export interface DeploymentRecord {
  chainId: number;
  /** Hash of block 0: a node reset to a new genesis must not reuse stale addresses. */
  genesisHash: string;
  contracts: ContractAddresses;
  deployedAtBlock: number;
  /** Device ids that received the one-off demo mint. */
  demoMinted: string[];
}

export interface Contracts {
  addresses: ContractAddresses;
  token: ErgonToken;
  registry: GatewayRegistry;
  /** null when `chain.contracts` names no MeterReadings. */
  readings: MeterReadings | null;
  /** null when `chain.contracts` names no Purchase. */
  purchase: Purchase | null;
}

/**
 * The payment id of a device's one-off demo mint. Deterministic, so the Purchase contract itself
 * remembers whether it happened: a crash between the mint and the deployment record cannot mint twice.
 */
export function demoPaymentId(deviceId: string): string {
  return id(`hepek-demo-mint:${deviceId}`);
}

/** Gas money for each dev role: plenty on our own chain, a modest share of a dev node's faucet account. */
const DEV_ETH = parseEther('10000');
const DEV_NODE_ETH = parseEther('10');
const MIN_DEV_ETH = parseEther('1');

function deploymentFile(userDir: string, chainId: number): string {
  return path.join(userDir, 'deployments', `${chainId}.json`);
}

function readRecord(file: string): DeploymentRecord | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DeploymentRecord;
  } catch (err) {
    throw new StateError(file, 'is not valid JSON', { cause: err });
  }
}

function writeRecord(file: string, record: DeploymentRecord): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
}

async function hasCode(provider: AbstractProvider, address: string): Promise<boolean> {
  return (await provider.getCode(address)) !== '0x';
}

/** Gives the dev roles ETH for gas: directly on the in-process chain, from an unlocked account on a dev node. */
async function fundDevAccounts(
  conn: ChainConnection,
  accounts: DevAccounts,
  allowDevFunding: boolean,
): Promise<void> {
  const addresses = Object.values(accounts).map((w) => w.address);
  if (conn.embedded) {
    for (const address of addresses) {
      if ((await conn.provider.getBalance(address)) < MIN_DEV_ETH)
        await conn.embedded.request({
          method: 'hardhat_setBalance',
          params: [address, `0x${DEV_ETH.toString(16)}`],
        });
    }
    return;
  }
  const needy: string[] = [];
  for (const address of addresses)
    if ((await conn.provider.getBalance(address)) < MIN_DEV_ETH) needy.push(address);
  if (needy.length === 0) return;
  const rpc = conn.provider as unknown as { send(method: string, params: unknown[]): Promise<unknown> };
  const unlocked = allowDevFunding ? ((await rpc.send('eth_accounts', [])) as string[]) : [];
  if (unlocked.length === 0)
    throw new ConfigError(
      'chain.rpcUrl',
      conn.rpcUrl,
      `a node where ${needy.join(', ')} hold ETH for gas: fund them, enable chain.devFunding on a dev node with unlocked accounts, or set chain.contracts to an existing deployment`,
    );
  for (const to of needy) {
    try {
      const hash = (await rpc.send('eth_sendTransaction', [
        { from: unlocked[0], to, value: `0x${DEV_NODE_ETH.toString(16)}` },
      ])) as string;
      await conn.provider.waitForTransaction(hash, 1, 30_000);
    } catch (err) {
      throw new DeviceUnavailableError(
        'chain.rpcUrl',
        `could not fund dev account ${to} from the node's unlocked account ${unlocked[0]}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
}

/**
 * Finds or makes the deployment: `chain.contracts` if set, else the remembered one if it still
 * exists on this chain, else a fresh deployment by the dev operator.
 */
export async function ensureContracts(
  conn: ChainConnection,
  settings: Settings,
  accounts: DevAccounts,
  log: (line: string) => void,
): Promise<{ contracts: Contracts; record: DeploymentRecord | null; recordFile: string | null }> {
  const { provider } = conn;
  const bind = (addresses: ContractAddresses): Contracts => ({
    addresses,
    token: ErgonToken__factory.connect(addresses.ErgonToken, provider),
    registry: GatewayRegistry__factory.connect(addresses.GatewayRegistry, provider),
    readings: addresses.MeterReadings
      ? MeterReadings__factory.connect(addresses.MeterReadings, provider)
      : null,
    purchase: addresses.Purchase ? Purchase__factory.connect(addresses.Purchase, provider) : null,
  });

  if (settings.chain.contracts) {
    for (const [name, address] of Object.entries(settings.chain.contracts))
      if (address !== undefined && !(await hasCode(provider, address)))
        throw new ConfigError(
          `chain.contracts.${name}`,
          address,
          `the address of a deployed ${name} on chain ${conn.chainId}`,
        );
    return { contracts: bind(settings.chain.contracts), record: null, recordFile: null };
  }

  const genesis = await provider.getBlock(0);
  if (!genesis?.hash) throw new DeviceUnavailableError('chain', 'the node did not return block 0');
  const file = deploymentFile(settings.userDir, conn.chainId);
  const existing = readRecord(file);
  if (existing && existing.genesisHash === genesis.hash) {
    const missing: string[] = [];
    for (const name of LEDGER_CONTRACTS) {
      const address = existing.contracts[name];
      if (address === undefined || !(await hasCode(provider, address))) missing.push(name);
    }
    if (missing.length === 0)
      return { contracts: bind(existing.contracts), record: existing, recordFile: file };
    log(
      `chain: the remembered contracts in ${file} (${missing.join(', ')}) have no code on this chain; deploying again`,
    );
  } else if (existing) {
    log(`chain: ${file} belongs to another chain (genesis ${existing.genesisHash}); deploying again`);
  }

  await fundDevAccounts(conn, accounts, settings.chain.devFunding);
  const operator = accounts.operator.connect(provider);
  // The dev operator deploys and administers; MINTER_ROLE goes to MeterReadings and Purchase only.
  const deployed = await deployLedger(
    operator,
    { operator: operator.address, manufacturer: accounts.manufacturer.address },
    () => {},
    { marketToleranceS: BigInt(settings.market.toleranceS), marketGraceS: BigInt(settings.market.graceS) },
  );
  const addresses = deployed as ContractAddresses;
  const record: DeploymentRecord = {
    chainId: conn.chainId,
    genesisHash: genesis.hash,
    contracts: addresses,
    deployedAtBlock: await provider.getBlockNumber(),
    demoMinted: [],
  };
  writeRecord(file, record);
  log(`chain: deployed ${LEDGER_CONTRACTS.map((name) => `${name} at ${addresses[name]}`).join(', ')}`);
  return { contracts: bind(addresses), record, recordFile: file };
}

export interface DeviceIdentity {
  deviceId: string;
  serial: string;
  signer: DeviceSigner;
  ratedExportW: number;
  /** The mode the dev operator sets; default prosumer (the simulated household has PV). */
  mode?: DeviceMode;
}

/**
 * Plays manufacturer and member for this device on a chain we deployed ourselves: register the
 * device key, claim it for the demo member with a device-signed EIP-712 Claim (relayed by the
 * member, since the device holds no ETH), set its mode as the operator, and mint the demo balance
 * once through a Purchase receipt signed by the operator.
 */
export async function provisionDevice(
  conn: ChainConnection,
  deployed: { contracts: Contracts; record: DeploymentRecord | null; recordFile: string | null },
  accounts: DevAccounts,
  device: DeviceIdentity,
  demoMintErgon: number,
  log: (line: string) => void,
): Promise<void> {
  const { contracts, record, recordFile } = deployed;
  const info = await contracts.registry.deviceOf(device.deviceId);
  if (record === null) {
    // Someone else's deployment: a manufacturer registers devices, not us.
    if (info.key === ZeroAddress)
      log(
        `chain: device ${device.serial} (${device.deviceId}) is not registered on ${contracts.addresses.GatewayRegistry}; ask the manufacturer to register ${device.signer.address}`,
      );
    return;
  }
  const as = (wallet: Wallet) => wallet.connect(conn.provider);
  if (info.key === ZeroAddress) {
    const registry = contracts.registry.connect(as(accounts.manufacturer));
    await (await registry.register(device.deviceId, device.signer.address, device.ratedExportW)).wait();
    log(`chain: registered device ${device.serial} with key ${device.signer.address}`);
  } else if (info.key.toLowerCase() !== device.signer.address.toLowerCase()) {
    throw new StateError(
      recordFile ?? 'chain',
      `device ${device.serial} is registered with key ${info.key}, but this gateway's key is ${device.signer.address}; the keystore does not belong to this chain`,
    );
  }
  if (info.owner === ZeroAddress) {
    const member = accounts.member.address;
    const nonce = await contracts.registry.nonces(device.deviceId);
    const signature = await signClaim(device.signer, {
      chainId: conn.chainId,
      registry: contracts.addresses.GatewayRegistry,
      deviceId: device.deviceId,
      member,
      nonce,
    });
    const registry = contracts.registry.connect(as(accounts.member));
    await (await registry.claim(device.deviceId, member, nonce, signature)).wait();
    log(`chain: device claimed by the demo member ${member}`);
  }
  const mode = DEVICE_MODES.indexOf(device.mode ?? 'prosumer');
  if ((await contracts.registry.deviceOf(device.deviceId)).mode !== BigInt(mode)) {
    await (await contracts.registry.connect(as(accounts.operator)).setMode(device.deviceId, mode)).wait();
    log(`chain: device mode set to ${DEVICE_MODES[mode]}`);
  }
  if (demoMintErgon > 0 && !record.demoMinted.includes(device.deviceId)) {
    const purchase = contracts.purchase!;
    const paymentId = demoPaymentId(device.deviceId);
    if (await purchase.isRedeemed(paymentId)) {
      log(`chain: the demo ERGON for ${device.serial} were minted before; recording it`);
    } else {
      const receipt = {
        paymentId,
        hepekWallet: device.signer.address,
        amount: parseUnits(String(demoMintErgon), 18),
      };
      const signature = await signReceipt(
        accounts.operator,
        { chainId: conn.chainId, verifyingContract: contracts.addresses.Purchase! },
        receipt,
      );
      await (
        await purchase
          .connect(as(accounts.operator))
          .redeem(receipt.paymentId, receipt.hepekWallet, receipt.amount, signature)
      ).wait();
      log(`chain: minted ${demoMintErgon} demo ERGON to the HEPEK wallet ${device.signer.address}`);
    }
    record.demoMinted.push(device.deviceId);
    writeRecord(recordFile!, record);
  }
}

/** The deployment a user dir remembers for a chain (what `hepek start` deployed there), or null. */
export function rememberedDeployment(userDir: string, chainId: number): DeploymentRecord | null {
  return readRecord(deploymentFile(userDir, chainId));
}
