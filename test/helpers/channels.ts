/**
 * Fixtures for the PaymentChannels suites: a fresh chain with ErgonToken, GatewayRegistry and
 * PaymentChannels, one registered and claimed device (the payer, holding 100 ERGON and no ETH) and
 * the hub as payee; plus small helpers to open, sign, close and move the clock.
 */
import { Wallet, id, parseEther, recoverAddress, toBeHex, toQuantity } from 'ethers';
import {
  channelIdOf,
  channelsDomain,
  compact,
  relayOpen,
  signOpen,
  signPermit,
  signVoucher,
  type ChannelsDeployment,
  type PermitArg,
} from '../../gateway/chain/channels';
import { signClaim } from '../../gateway/chain/eip712';
import { deviceIdFromSerial } from '../../gateway/chain/ids';
import { digestOf, type Open } from '../../gateway/chain/typed-data';
import {
  ErgonToken__factory,
  GatewayRegistry__factory,
  PaymentChannels__factory,
  type ErgonToken,
  type GatewayRegistry,
  type PaymentChannels,
} from '../../gateway/chain/types';
import { expectRevert } from './assertions';
import { DEV_CHAIN_ID, devChain, freshChainSuite, testKey, type DevChain } from './chain';

export const MINTER_ROLE = id('MINTER_ROLE');
export const MANUFACTURER_ROLE = id('MANUFACTURER_ROLE');
export const HOUR = 3600n;
export const MIN_PERIOD = 3600n;
export const MAX_PERIOD = 30n * 24n * 3600n;
export const DEADLINE = 2n ** 40n;
export const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
export const HALF_N = N / 2n;
export const UINT96_MAX = 2n ** 96n - 1n;

export interface Fixture {
  chain: DevChain;
  admin: Wallet;
  manufacturer: Wallet;
  member: Wallet;
  other: Wallet;
  relayer: Wallet;
  /** The hub: the payee of every channel here. */
  hub: Wallet;
  /** The gateway's device key = the HEPEK wallet = the payer. Holds ERGON, no ETH. */
  device: Wallet;
  deviceId: string;
  token: ErgonToken;
  registry: GatewayRegistry;
  channels: PaymentChannels;
  deployment: ChannelsDeployment;
}

export async function deployFixture(): Promise<Fixture> {
  const chain = await devChain();
  const [admin, manufacturer, member, other, relayer, hub] = chain.wallets;
  const token = await new ErgonToken__factory(admin).deploy(admin.address);
  await (await token.grantRole(MINTER_ROLE, admin.address)).wait();
  const registry = await new GatewayRegistry__factory(admin).deploy(admin.address);
  await (await registry.grantRole(MANUFACTURER_ROLE, manufacturer.address)).wait();
  const channels = await new PaymentChannels__factory(admin).deploy(
    await token.getAddress(),
    await registry.getAddress(),
  );
  const device = new Wallet(testKey('device'), chain.provider);
  const f: Fixture = {
    chain,
    admin,
    manufacturer,
    member,
    other,
    relayer,
    hub,
    device,
    deviceId: deviceIdFromSerial('HEPEK-0001'),
    token,
    registry,
    channels,
    deployment: { chainId: DEV_CHAIN_ID, channels: await channels.getAddress() },
  };
  await enrol(f, f.deviceId, device);
  await (await token.mint(device.address, parseEther('100'))).wait();
  return f;
}

/** Registers `key` as device `deviceId` and claims it for the member: an active, claimed device. */
export async function enrol(f: Fixture, deviceId: string, key: Wallet, claim = true): Promise<void> {
  await (await f.registry.connect(f.manufacturer).register(deviceId, key.address, 4600)).wait();
  if (!claim) return;
  const registry = await f.registry.getAddress();
  const signature = await signClaim(key, {
    chainId: DEV_CHAIN_ID,
    registry,
    deviceId,
    member: f.member.address,
    nonce: 0,
  });
  await (await f.registry.connect(f.member).claim(deviceId, f.member.address, 0, signature)).wait();
}

export function fixtureSuite(name: string) {
  return freshChainSuite(name, 'f', deployFixture);
}

export function openRequest(f: Fixture, over: Partial<Open> = {}): Open {
  return {
    payer: f.device.address,
    payee: f.hub.address,
    deposit: parseEther('10'),
    challengePeriod: HOUR,
    nonce: 0n,
    ...over,
  };
}

export async function permitFor(f: Fixture, value: bigint, signer: Wallet = f.device, deadline = DEADLINE) {
  return signPermit(signer, {
    chainId: DEV_CHAIN_ID,
    token: await f.token.getAddress(),
    owner: signer.address,
    spender: f.deployment.channels,
    value,
    nonce: await f.token.nonces(signer.address),
    deadline,
  });
}

/** Opens a channel relayed by `relayer` and returns its id. */
export async function openChannel(
  f: Fixture,
  over: Partial<Open> = {},
  signer: Wallet = f.device,
): Promise<bigint> {
  const open = openRequest(f, { nonce: await f.channels.nonces(signer.address), ...over });
  const signature = compact(await signOpen(signer, f.deployment, open));
  const permit = await permitFor(f, open.deposit, signer);
  const { channelId } = await relayOpen(f.channels.connect(f.relayer), {
    open,
    signature,
    permit,
    channelId: channelIdOf(open.payer, open.nonce),
  });
  return channelId;
}

export async function voucher(
  f: Fixture,
  channelId: bigint,
  cumulativeAmount: bigint,
  signer: Wallet = f.device,
) {
  return compact(await signVoucher(signer, f.deployment, { channelId, cumulativeAmount }));
}

export async function closeAs(f: Fixture, channelId: bigint, amount: bigint, sig: { r: string; vs: string }) {
  return f.channels.connect(f.hub).close(channelId, amount, sig.r, sig.vs);
}

/**
 * Closing `channelId` for `amount` with a voucher signed for something else (another channel,
 * amount or deployment) reverts with ChannelInvalidSigner naming whoever ecrecover finds for this
 * channel and amount — not the device key recorded at open.
 */
export async function expectInvalidSigner(
  f: Fixture,
  channelId: bigint,
  amount: bigint,
  v: { r: string; vs: string },
): Promise<void> {
  const recovered = recoverAddress(
    digestOf('Voucher', channelsDomain(f.deployment), { channelId, cumulativeAmount: amount }),
    { r: v.r, yParityAndS: v.vs },
  );
  await expectRevert(closeAs(f, channelId, amount, v), f.channels, 'ChannelInvalidSigner', [
    channelId,
    recovered,
    f.device.address,
  ]);
}

/** The payer is a device key without ETH; the exit is its own transaction, so it needs gas money. */
export async function fundDevice(f: Fixture): Promise<void> {
  await f.chain.provider.send('hardhat_setBalance', [f.device.address, toQuantity(parseEther('1'))]);
}

export async function latestTime(f: Fixture): Promise<bigint> {
  return BigInt((await f.chain.provider.getBlock('latest'))!.timestamp);
}

/** Sets the next block's timestamp (injected clock: no sleeps). */
export async function setNextTime(f: Fixture, ts: bigint): Promise<void> {
  await f.chain.provider.send('evm_setNextBlockTimestamp', [Number(ts)]);
}

export async function startExit(f: Fixture, channelId: bigint, conceded = 0n): Promise<bigint> {
  await fundDevice(f);
  const tx = await f.channels.connect(f.device).startExit(channelId, f.hub.address, conceded);
  await tx.wait();
  return (await f.channels.channelOf(channelId)).exitAt;
}

export const balance = (f: Fixture, who: { address: string } | string) =>
  f.token.balanceOf(typeof who === 'string' ? who : who.address);

/** A compact signature whose 255-bit s lies above n/2: expressible in EIP-2098 form, and refused. */
export function highS(sig: { r: string; vs: string }): { r: string; vs: string } {
  return { r: sig.r, vs: toBeHex(HALF_N + 1n, 32) };
}

/** Splits a compact permit into the token's (v, s). */
export function expand(permit: PermitArg): { v: number; s: string } {
  const vs = BigInt(permit.vs);
  return { v: Number(vs >> 255n) + 27, s: toBeHex(vs & ((1n << 255n) - 1n), 32) };
}
