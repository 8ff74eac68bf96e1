/**
 * A fleet of devices with open channels to one hub, on a fresh in-process dev chain (no journal),
 * for the hub and fleet benchmarks. Thousands of devices are provisioned quickly: the chain's
 * accounts are impersonated (no transaction signing), automine is off and each block carries many
 * transactions; the device-side signatures (claim, open, permit, vouchers) are made with the native
 * secp256k1 package. Every device is registered, claimed, holds 100 ERGON and has one open channel
 * (10 ERGON deposit) whose payee is the hub.
 */
import { createHash } from 'node:crypto';
import {
  BrowserProvider,
  TypedDataEncoder,
  Wallet,
  getAddress,
  parseEther,
  toQuantity,
  type TypedDataDomain,
} from 'ethers';
import createKeccakHash from 'keccak';
import { ecdsaSign, publicKeyCreate } from 'secp256k1';
import { createHardhatProvider, type Eip1193Provider } from '../gateway/chain/embedded';
import {
  PERMIT_TYPES,
  channelIdOf,
  channelsDomain,
  type ChannelsDeployment,
} from '../gateway/chain/channels';
import { claimDomain } from '../gateway/chain/eip712';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import { digestOf } from '../gateway/chain/typed-data';
import {
  ErgonToken__factory,
  GatewayRegistry__factory,
  PaymentChannels__factory,
} from '../gateway/chain/types';

export const FLEET_CHAIN_ID = 31337;
export const DEPOSIT = parseEther('10');

export interface FleetDevice {
  serial: string;
  privateKey: Buffer;
  address: string;
  channelId: bigint;
}

export interface Fleet {
  chain: Eip1193Provider;
  provider: BrowserProvider;
  /** The hub key: payee of every channel. */
  hub: Wallet;
  contracts: { PaymentChannels: string; GatewayRegistry: string; MeterReadings: null };
  deployment: ChannelsDeployment;
  devices: FleetDevice[];
  close(): Promise<void>;
}

function keccak(data: Buffer): Buffer {
  return createKeccakHash('keccak256').update(data).digest();
}

function keyOf(label: string): Buffer {
  return createHash('sha256').update(`hepek-bench-key:${label}`).digest();
}

function addressOf(privateKey: Buffer): string {
  const pub = Buffer.from(publicKeyCreate(privateKey, false)).subarray(1);
  return getAddress(`0x${keccak(pub).subarray(12).toString('hex')}`);
}

/** A 65-byte low-s `0x` signature of a 32-byte digest (what ethers' signTypedData returns). */
export function signDigest(digest: Buffer, privateKey: Buffer): string {
  const { signature, recid } = ecdsaSign(digest, privateKey);
  return `0x${Buffer.from(signature).toString('hex')}${(27 + recid).toString(16)}`;
}

function compact(sig: string): { r: string; vs: string } {
  const s = BigInt(`0x${sig.slice(66, 130)}`);
  const parity = sig.endsWith('1c') ? 1n : 0n;
  return { r: `0x${sig.slice(2, 66)}`, vs: `0x${((parity << 255n) | s).toString(16).padStart(64, '0')}` };
}

const hexDigest = (d: string) => Buffer.from(d.slice(2), 'hex');

export async function provisionFleet(count: number, log: (line: string) => void = () => {}): Promise<Fleet> {
  // The bare Hardhat network: the durable EmbeddedChain accepts only signed raw transactions.
  const chain = await createHardhatProvider({
    chainId: FLEET_CHAIN_ID,
    hardfork: 'cancun',
    genesisTime: Math.floor(Date.now() / 1000),
    blockGasLimit: 30_000_000,
    initialBaseFeePerGas: 1_000_000_000,
  });
  const provider = new BrowserProvider(chain, FLEET_CHAIN_ID, { cacheTimeout: -1 });
  const admin = new Wallet(`0x${keyOf('admin').toString('hex')}`, provider);
  const member = new Wallet(`0x${keyOf('member').toString('hex')}`, provider);
  const hub = new Wallet(`0x${keyOf('hub').toString('hex')}`, provider);
  for (const w of [admin, member, hub])
    await chain.request({
      method: 'hardhat_setBalance',
      params: [w.address, toQuantity(parseEther('1000000'))],
    });
  const token = await new ErgonToken__factory(admin).deploy(admin.address);
  const registry = await new GatewayRegistry__factory(admin).deploy(admin.address);
  const channels = await new PaymentChannels__factory(admin).deploy(
    await token.getAddress(),
    await registry.getAddress(),
  );
  const addresses = {
    token: await token.getAddress(),
    registry: await registry.getAddress(),
    channels: await channels.getAddress(),
  };
  await (await token.grantRole(await token.MINTER_ROLE(), admin.address)).wait();
  await (await registry.grantRole(await registry.MANUFACTURER_ROLE(), admin.address)).wait();
  const deployment: ChannelsDeployment = { chainId: FLEET_CHAIN_ID, channels: addresses.channels };

  const devices: FleetDevice[] = [];
  for (let i = 0; i < count; i++) {
    const privateKey = keyOf(`device-${i}`);
    const address = addressOf(privateKey);
    devices.push({
      serial: `HPK-FLEET-${String(i).padStart(6, '0')}`,
      privateKey,
      address,
      channelId: channelIdOf(address, 0n),
    });
  }

  // Many transactions per block: impersonated senders, automine off, one evm_mine per chunk.
  for (const w of [admin, member, hub])
    await chain.request({ method: 'hardhat_impersonateAccount', params: [w.address] });
  await chain.request({ method: 'evm_setAutomine', params: [false] });
  const GAS = 400_000;
  const PER_BLOCK = 70; // 70 × 400k gas limit fits a 30M block
  const phase = async (name: string, txs: Array<{ from: string; to: string; data: string }>) => {
    const t0 = Date.now();
    for (let i = 0; i < txs.length; i += PER_BLOCK) {
      const chunk = txs.slice(i, i + PER_BLOCK);
      const hashes: string[] = [];
      for (const tx of chunk)
        hashes.push(
          (await chain.request({
            method: 'eth_sendTransaction',
            params: [{ ...tx, gas: toQuantity(GAS) }],
          })) as string,
        );
      await chain.request({ method: 'evm_mine', params: [] });
      const receipt = (await chain.request({
        method: 'eth_getTransactionReceipt',
        params: [hashes[hashes.length - 1]],
      })) as { status: string } | null;
      if (!receipt || receipt.status !== '0x1')
        throw new Error(
          `fleet setup: ${name} transaction ${hashes[hashes.length - 1]} failed or was not mined`,
        );
    }
    log(`fleet: ${name}: ${txs.length} transactions in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };
  const regIf = registry.interface;
  const tokIf = token.interface;
  const chIf = channels.interface;
  await phase(
    'register + mint',
    devices.flatMap((d) => [
      {
        from: admin.address,
        to: addresses.registry,
        data: regIf.encodeFunctionData('register', [deviceIdFromSerial(d.serial), d.address, 4600]),
      },
      {
        from: admin.address,
        to: addresses.token,
        data: tokIf.encodeFunctionData('mint', [d.address, parseEther('100')]),
      },
    ]),
  );
  const claimDom = claimDomain(FLEET_CHAIN_ID, addresses.registry);
  await phase(
    'claim',
    devices.map((d) => {
      const deviceId = deviceIdFromSerial(d.serial);
      const digest = digestOf('Claim', claimDom, { deviceId, member: member.address, nonce: 0 });
      return {
        from: member.address,
        to: addresses.registry,
        data: regIf.encodeFunctionData('claim', [
          deviceId,
          member.address,
          0,
          signDigest(hexDigest(digest), d.privateKey),
        ]),
      };
    }),
  );
  const channelsDom = channelsDomain(deployment);
  const permitDom: TypedDataDomain = {
    name: 'Ergon',
    version: '1',
    chainId: FLEET_CHAIN_ID,
    verifyingContract: addresses.token,
  };
  const deadline = 2n ** 40n;
  await phase(
    'open',
    devices.map((d) => {
      const open = {
        payer: d.address,
        payee: hub.address,
        deposit: DEPOSIT,
        challengePeriod: 3600n,
        nonce: 0n,
      };
      const sig = compact(signDigest(hexDigest(digestOf('Open', channelsDom, open)), d.privateKey));
      const permitDigest = TypedDataEncoder.hash(permitDom, PERMIT_TYPES, {
        owner: d.address,
        spender: addresses.channels,
        value: DEPOSIT,
        nonce: 0n,
        deadline,
      });
      const p = compact(signDigest(hexDigest(permitDigest), d.privateKey));
      return {
        from: hub.address,
        to: addresses.channels,
        data: chIf.encodeFunctionData('open', [open, sig.r, sig.vs, { deadline, r: p.r, vs: p.vs }]),
      };
    }),
  );
  await chain.request({ method: 'evm_setAutomine', params: [true] });
  // Spot checks: the first and last channel are open with the hub as payee.
  for (const d of [devices[0]!, devices[devices.length - 1]!]) {
    const state = await channels.channelOf(d.channelId);
    if (state.deposit !== DEPOSIT) throw new Error(`fleet setup: channel of ${d.serial} is not open`);
  }
  return {
    chain,
    provider,
    hub,
    contracts: {
      PaymentChannels: addresses.channels,
      GatewayRegistry: addresses.registry,
      MeterReadings: null,
    },
    deployment,
    devices,
    async close() {
      provider.destroy();
    },
  };
}
