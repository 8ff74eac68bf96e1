/**
 * An offline money path for node tests: a real Payer (device key, journal, billing, voucher and
 * reading signatures) over a chain stand-in that reports one open channel, an MQTT stand-in that
 * records what is published and can deliver acks, a real DemandFeed verifying broadcasts against a
 * hub key, and an export account the test sets (MeterReadings' view).
 */
import { Wallet, type HDNodeWallet } from 'ethers';
import type { MoneyPath } from '../../gateway/channel/wire';
import { DemandFeed, TariffBook } from '../../gateway/channel/broadcasts';
import { Payer, payerTopics, type PayerMqtt, type PayerRecord } from '../../gateway/channel/payer';
import type { MeterSource } from '../../gateway/context';
import { ManualClock } from '../../gateway/devices/clock';
import { hubDomain, type HubTrust } from '../../gateway/hub/protocol';
import { Journal, JOURNAL_DEFAULTS } from '../../gateway/store/journal';

export const MONEY_SERIAL = 'HEPEK-SIM-0001';
export const CHAIN_ID = 31337;
export const CHANNELS = '0x' + '33'.repeat(20);
export const TOKEN = '0x' + '11'.repeat(20);
export const REGISTRY = '0x' + '22'.repeat(20);
export const READINGS = '0x' + '44'.repeat(20);
/** 0.3 ERGON per kWh, in wei per kWh. */
export const PRICE_WEI_PER_KWH = 300_000_000_000_000_000n;

export interface OfflineMoney {
  money: MoneyPath;
  payer: Payer;
  device: HDNodeWallet;
  hub: HDNodeWallet;
  channelId: bigint;
  /** Everything the payer published, in order. */
  published: Array<{ topic: string; payload: unknown }>;
  /** Delivers a hub ack to the payer. */
  ack(body: object): void;
  /** The export account `rewards()` reports; claims zero its accrued part. */
  account: { accruedWei: bigint; carbonMg: bigint; lastSeq: bigint };
  feed: DemandFeed;
  /** Now on the meter's clock, unix seconds (the test moves it). */
  clock: { nowS: number };
  close(): Promise<void>;
}

export async function offlineMoney(meter: MeterSource, dir: string, nowS: number): Promise<OfflineMoney> {
  const device = Wallet.createRandom();
  const hub = Wallet.createRandom();
  const channelId = BigInt(device.address) << 96n;
  const clock = { nowS };
  const published: OfflineMoney['published'] = [];
  const handlers: Record<string, Array<(...args: never[]) => void>> = { message: [], connect: [] };
  const mqtt: PayerMqtt = {
    connected: true,
    publish(topic, payload) {
      published.push({ topic, payload: JSON.parse(payload) });
    },
    subscribe() {},
    unsubscribe() {},
    on(event: string, fn: (...args: never[]) => void) {
      (handlers[event] ??= []).push(fn);
    },
    removeListener() {},
  };
  const topics = payerTopics(MONEY_SERIAL);
  const journal = await Journal.open<PayerRecord>({ dir, ...JOURNAL_DEFAULTS });
  const payer = new Payer(
    {
      cycleSeconds: 900,
      depositErgon: 10,
      topUpBelowErgon: 0,
      topUpErgon: 5,
      challengePeriod: 3600,
      resendSeconds: 3600,
      checkSeconds: 3600,
      sendReadings: false,
      autoPurchase: { enabled: false, amountErgon: 1, belowErgon: 0 },
    },
    {
      deviceId: '0x' + '01'.repeat(32),
      signer: device,
      domain: { chainId: CHAIN_ID, channels: CHANNELS, token: TOKEN, readings: READINGS },
      payee: hub.address,
      chain: {
        openChannel: async () => ({ channelId, deposit: 10n * 10n ** 18n, exitAt: 0n }),
        walletWei: async () => 5n * 10n ** 18n,
        channelNonce: async () => 1n,
        permitNonce: async () => 0n,
        nowS: () => clock.nowS,
      },
      mqtt,
      topics,
      journal,
      meter,
      priceAt: () => ({ tariffId: 'flat-test', weiPerKWh: PRICE_WEI_PER_KWH }),
      clock: new ManualClock(0),
      lowThresholdErgon: 0,
    },
  );
  payer.start();
  await payer.check();
  const domain = hubDomain(CHAIN_ID, REGISTRY);
  const trust = (): HubTrust => ({ hub: hub.address, region: 'default', nowS: clock.nowS });
  const feed = new DemandFeed(domain, trust);
  const account = { accruedWei: 0n, carbonMg: 0n, lastSeq: 0n };
  const money: MoneyPath = {
    hubAddress: hub.address,
    region: 'default',
    payer,
    hub: null,
    tariffs: new TariffBook(domain),
    hubDomain: domain,
    nowS: () => clock.nowS,
    trust,
    demand: () => feed.stateAt(clock.nowS),
    channelUnspentWei: async () => payer.channelUnspentWei(),
    subscribeDemand: (listener) => feed.subscribe(listener),
    rewards: async () => ({ ...account }),
    async claim() {
      const amountWei = account.accruedWei;
      account.accruedWei = 0n;
      return { txHash: '0x' + 'ab'.repeat(32), amountWei };
    },
    status: () => ({}),
    stop: async () => {},
  };
  return {
    money,
    payer,
    device,
    hub,
    channelId,
    published,
    ack(body) {
      for (const fn of handlers.message ?? [])
        (fn as (t: string, p: Buffer) => void)(topics.ack, Buffer.from(JSON.stringify(body)));
    },
    account,
    feed,
    clock,
    async close() {
      await payer.stop();
      await journal.close();
    },
  };
}
