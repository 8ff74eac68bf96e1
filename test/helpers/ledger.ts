/**
 * The ledger fixture: a fresh dev chain with ErgonToken, GatewayRegistry, MeterReadings and Purchase
 * deployed through the production deployment plan (gateway/chain/deploy.ts), named actors, and
 * helpers to register, claim and feed readings.
 */
import { Wallet, parseEther, toQuantity } from 'ethers';
import { deployLedger } from '../../gateway/chain/deploy';
import { signClaim, signReading, type SignedReading } from '../../gateway/chain/eip712';
import { deviceIdFromSerial } from '../../gateway/chain/ids';
import type { Reading } from '../../gateway/chain/typed-data';
import {
  ErgonToken__factory,
  GatewayRegistry__factory,
  MeterReadings__factory,
  Purchase__factory,
  type ErgonToken,
  type GatewayRegistry,
  type MeterReadings,
  type Purchase,
} from '../../gateway/chain/types';
import { DEV_CHAIN_ID, devChain, freshChainSuite, testKey, type DevChain } from './chain';

export const MODE = { consumer: 0, prosumer: 1, generator: 2 } as const;
export const RATED_EXPORT_W = 4600;

export interface Ledger {
  chain: DevChain;
  /** Deployer and admin of every contract. */
  admin: Wallet;
  manufacturer: Wallet;
  member: Wallet;
  other: Wallet;
  relayer: Wallet;
  operator: Wallet;
  /** Holds MeterReadings' MARKET_ROLE (the future EnergyMarket). */
  market: Wallet;
  /** The first device's key: registered by registerDevice, never funded. */
  device: Wallet;
  deviceId: string;
  token: ErgonToken;
  registry: GatewayRegistry;
  readings: MeterReadings;
  purchase: Purchase;
  addresses: Record<string, string>;
}

export async function ledgerFixture(): Promise<Ledger> {
  const chain = await devChain();
  const [admin, manufacturer, member, other, relayer, operator] = chain.wallets;
  const market = new Wallet(testKey('market'), chain.provider);
  await chain.provider.send('hardhat_setBalance', [market.address, toQuantity(parseEther('1000'))]);
  const addresses = await deployLedger(admin, {
    operator: operator.address,
    manufacturer: manufacturer.address,
  });
  const readings = MeterReadings__factory.connect(addresses.MeterReadings, admin);
  await (await readings.grantRole(await readings.MARKET_ROLE(), market.address)).wait();
  return {
    chain,
    admin,
    manufacturer,
    member,
    other,
    relayer,
    operator,
    market,
    device: new Wallet(testKey('device'), chain.provider),
    deviceId: deviceIdFromSerial('HEPEK-0001'),
    token: ErgonToken__factory.connect(addresses.ErgonToken, admin),
    registry: GatewayRegistry__factory.connect(addresses.GatewayRegistry, admin),
    readings,
    purchase: Purchase__factory.connect(addresses.Purchase, admin),
    addresses,
  };
}

/** Registers a device with the manufacturer. */
export async function registerDevice(
  l: Ledger,
  deviceId = l.deviceId,
  key: string = l.device.address,
  ratedExportW = RATED_EXPORT_W,
): Promise<void> {
  await (await l.registry.connect(l.manufacturer).register(deviceId, key, ratedExportW)).wait();
}

/** Registers, claims (for `member`, relayed) and sets the mode of a device. */
export async function onboardDevice(
  l: Ledger,
  opts: { deviceId?: string; key?: Wallet; member?: Wallet; mode?: number; ratedExportW?: number } = {},
): Promise<void> {
  const deviceId = opts.deviceId ?? l.deviceId;
  const key = opts.key ?? l.device;
  const member = opts.member ?? l.member;
  await registerDevice(l, deviceId, key.address, opts.ratedExportW ?? RATED_EXPORT_W);
  const nonce = await l.registry.nonces(deviceId);
  const signature = await signClaim(key, {
    chainId: DEV_CHAIN_ID,
    registry: l.addresses.GatewayRegistry!,
    deviceId,
    member: member.address,
    nonce,
  });
  await (await l.registry.connect(l.relayer).claim(deviceId, member.address, nonce, signature)).wait();
  const mode = opts.mode ?? MODE.prosumer;
  if (mode !== MODE.consumer) await (await l.registry.connect(l.operator).setMode(deviceId, mode)).wait();
}

/** A reading of `l.deviceId` with defaults for the fields a test does not care about. */
export function reading(l: Ledger, fields: Partial<Reading> & { seq: bigint; timestamp: bigint }): Reading {
  return {
    deviceId: l.deviceId,
    importWh: 0n,
    exportWh: 0n,
    batteryPermille: 500,
    ...fields,
  };
}

/** Signs a reading with `key` (the device key by default) for this fixture's MeterReadings. */
export function sign(l: Ledger, r: Reading, key: Wallet = l.device): Promise<SignedReading> {
  return signReading(key, { chainId: DEV_CHAIN_ID, verifyingContract: l.addresses.MeterReadings! }, r);
}

/** The latest block's timestamp. */
export async function now(l: Ledger): Promise<bigint> {
  const block = await l.chain.provider.getBlock('latest');
  return BigInt(block!.timestamp);
}

/** Makes the next block carry `timestamp` (unix seconds). */
export async function setNextTimestamp(l: Ledger, timestamp: bigint): Promise<void> {
  await l.chain.provider.send('evm_setNextBlockTimestamp', [toQuantity(timestamp)]);
}

/** A suite whose tests each get a fresh ledger as `l`; the chain is closed after each test. */
export function ledgerSuite(name: string) {
  return freshChainSuite(name, 'l', ledgerFixture);
}

/** Sends `send()` in a block with the given timestamp (unix seconds). */
export async function atTime<T>(l: Ledger, timestamp: bigint, send: () => Promise<T>): Promise<T> {
  await setNextTimestamp(l, timestamp);
  return send();
}

/** Submits one signed reading (relayed) in a block at `blockTime` and waits for it. */
export async function submitAt(l: Ledger, signed: SignedReading, blockTime: bigint): Promise<void> {
  await setNextTimestamp(l, blockTime);
  await (await l.readings.connect(l.relayer).submitReading(signed)).wait();
}
