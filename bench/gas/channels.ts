/**
 * Gas of a payment channel's life (open with permit, top-up, close by the payee, the payer's exit and
 * withdraw) next to one plain ERGON transfer, and the 30-day lifetime ratio the issue asks for:
 *
 *   lifetimeRatio30d = 2880 × erc20Transfer / (openWithPermit + closeByPayee)
 *
 * i.e. paying the hub with one ERC-20 transfer per 15-minute billing cycle for 30 days versus one
 * channel whose 2880 vouchers stay off chain.
 *
 * Steady state: payer, payee and the channels contract already hold ERGON (another payer's channel
 * is open), the payer has used permits and opened a channel before. First time: a fresh deployment,
 * a payer on its first permit and first channel, a payee holding no ERGON, an empty contract.
 */
import {
  BrowserProvider,
  Wallet,
  id,
  parseEther,
  toQuantity,
  type ContractTransactionResponse,
} from 'ethers';
import { EmbeddedChain } from '../../gateway/chain/embedded';
import { compact, openWithPermit, signPermit, signVoucher } from '../../gateway/chain/channels';
import { signClaim } from '../../gateway/chain/eip712';
import { deviceIdFromSerial } from '../../gateway/chain/ids';
import {
  ErgonToken__factory,
  GatewayRegistry__factory,
  PaymentChannels__factory,
  type ErgonToken,
  type PaymentChannels,
} from '../../gateway/chain/types';
import type { GasRow } from './types';

const CHAIN_ID = 31337;
const HOUR = 3600n;
const DEADLINE = 2n ** 40n;
const DEPOSIT = parseEther('10');
/** Billing cycles in 30 days at one per 15 minutes. */
const CYCLES_30D = 30 * 24 * 4;

function key(label: string): string {
  return id(`hepek-bench-gas:${label}`);
}

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  if (!receipt || receipt.status !== 1) throw new Error('transaction failed');
  return Number(receipt.gasUsed);
}

export async function measure(): Promise<GasRow[]> {
  const chain = await EmbeddedChain.open({ dir: null, chainId: CHAIN_ID, hardfork: 'cancun' });
  const provider = new BrowserProvider(chain, CHAIN_ID, { cacheTimeout: -1 });
  try {
    const [admin, manufacturer, member, hub, hub2, relayer] = [
      'admin',
      'mf',
      'member',
      'hub',
      'hub2',
      'relayer',
    ].map((l) => new Wallet(key(l), provider));
    // Payers are device keys; they get ETH only for the exit, which is their own transaction.
    const [fresh, payer, other] = ['fresh', 'payer', 'other'].map(
      (l) => new Wallet(key(`device-${l}`), provider),
    );
    for (const w of [admin, manufacturer, member, hub, hub2, relayer, fresh, payer, other])
      await chain.request({
        method: 'hardhat_setBalance',
        params: [w.address, toQuantity(parseEther('100'))],
      });

    const token = await new ErgonToken__factory(admin).deploy(admin.address);
    await (await token.grantRole(id('MINTER_ROLE'), admin.address)).wait();
    const registry = await new GatewayRegistry__factory(admin).deploy(admin.address);
    await (await registry.grantRole(id('MANUFACTURER_ROLE'), manufacturer.address)).wait();
    const channels = await new PaymentChannels__factory(admin).deploy(
      await token.getAddress(),
      await registry.getAddress(),
    );
    const channelsAddress = await channels.getAddress();
    const deployment = { chainId: CHAIN_ID, channels: channelsAddress };
    let serial = 0;
    for (const device of [fresh, payer, other]) {
      const deviceId = deviceIdFromSerial(`HEPEK-BENCH-${serial++}`);
      await (await registry.connect(manufacturer).register(deviceId, device.address, 4600)).wait();
      const signature = await signClaim(device, {
        chainId: CHAIN_ID,
        registry: await registry.getAddress(),
        deviceId,
        member: member.address,
        nonce: 0,
      });
      await (await registry.connect(member).claim(deviceId, member.address, 0, signature)).wait();
      await (await token.mint(device.address, parseEther('1000'))).wait();
    }

    const open = async (device: Wallet, payee: Wallet): Promise<{ channelId: bigint; gas: number }> => {
      const { channelId, receipt } = await openWithPermit(device, channels.connect(payee), token, {
        chainId: CHAIN_ID,
        payee: payee.address,
        deposit: DEPOSIT,
        challengePeriod: HOUR,
        deadline: DEADLINE,
      });
      return { channelId, gas: Number(receipt.gasUsed) };
    };
    const permit = async (device: Wallet, value: bigint) =>
      signPermit(device, {
        chainId: CHAIN_ID,
        token: await token.getAddress(),
        owner: device.address,
        spender: channelsAddress,
        value,
        nonce: await token.nonces(device.address),
        deadline: DEADLINE,
      });
    const topUp = async (c: PaymentChannels, channelId: bigint, device: Wallet) =>
      gasOf(c.topUp(channelId, parseEther('5'), await permit(device, parseEther('5'))));
    const close = async (device: Wallet, payee: Wallet, channelId: bigint, amount: bigint) => {
      const v = compact(await signVoucher(device, deployment, { channelId, cumulativeAmount: amount }));
      return gasOf(channels.connect(payee).close(channelId, amount, v.r, v.vs));
    };
    const exitAndWithdraw = async (device: Wallet, payee: Wallet, channelId: bigint) => {
      const startExit = await gasOf(
        channels.connect(device).startExit(channelId, payee.address, parseEther('1.5')),
      );
      await chain.request({ method: 'evm_increaseTime', params: [Number(HOUR)] });
      const withdraw = await gasOf(channels.connect(relayer).withdraw(channelId));
      return { startExit, withdraw };
    };
    const transfer = (t: ErgonToken, to: string) => gasOf(t.transfer(to, parseEther('0.25')));

    // First time: empty contract, the fresh payer's first permit and channel, a payee without ERGON.
    const first = await open(fresh, hub);
    const topUpFirst = await topUp(channels.connect(hub), first.channelId, fresh);
    const closeFirst = await close(fresh, hub, first.channelId, parseEther('2.5'));
    // The exit pays a second hub that holds no ERGON yet; the contract holds only this channel.
    const firstExit = await open(fresh, hub2);
    const exitFirst = await exitAndWithdraw(fresh, hub2, firstExit.channelId);
    const transferFirst = await transfer(token.connect(fresh), key('recipient').slice(0, 42));

    // Steady state: another payer's channel stays open, so the contract's balance never drops to
    // zero; `payer` has been through a channel and permit before; the hub holds ERGON.
    await open(other, hub);
    const warm = await open(payer, hub);
    await close(payer, hub, warm.channelId, parseEther('1'));
    const steady = await open(payer, hub);
    const topUpSteady = await topUp(channels.connect(hub), steady.channelId, payer);
    const closeSteady = await close(payer, hub, steady.channelId, parseEther('2.5'));
    const steadyExit = await open(payer, hub);
    const exitSteady = await exitAndWithdraw(payer, hub, steadyExit.channelId);
    const transferSteady = await transfer(token.connect(payer), hub.address);

    const ratio = (CYCLES_30D * transferSteady) / (steady.gas + closeSteady);
    return [
      {
        key: 'openWithPermit',
        gas: steady.gas,
        note: 'relayed by the hub: Open + permit + transferFrom; target ≤ 90,000',
      },
      { key: 'topUp', gas: topUpSteady, note: 'relayed by the payee with a permit' },
      {
        key: 'closeByPayee',
        gas: closeSteady,
        note: 'newest voucher; payee and payer paid; target ≤ 60,000',
      },
      { key: 'startExit', gas: exitSteady.startExit, note: 'payer concedes its newest voucher amount' },
      { key: 'withdraw', gas: exitSteady.withdraw, note: 'after the challenge period; both paid' },
      { key: 'erc20Transfer', gas: transferSteady, note: 'ERGON transfer, both balances nonzero' },
      {
        key: 'lifetimeRatio30d',
        gas: Math.round(ratio * 10) / 10,
        note: `${CYCLES_30D} × erc20Transfer / (openWithPermit + closeByPayee); must be ≥ 500`,
      },
      {
        key: 'openWithPermit',
        gas: first.gas,
        firstTime: true,
        note: 'first permit + channel, empty contract',
      },
      { key: 'topUp', gas: topUpFirst, firstTime: true, note: 'contract holds only this channel' },
      {
        key: 'closeByPayee',
        gas: closeFirst,
        firstTime: true,
        note: 'payee held no ERGON; contract emptied',
      },
      { key: 'startExit', gas: exitFirst.startExit, firstTime: true },
      {
        key: 'withdraw',
        gas: exitFirst.withdraw,
        firstTime: true,
        note: 'payee held no ERGON; contract emptied',
      },
      { key: 'erc20Transfer', gas: transferFirst, firstTime: true, note: 'recipient held no ERGON' },
    ];
  } finally {
    provider.destroy();
    await chain.close();
  }
}
