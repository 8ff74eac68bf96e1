/**
 * The money path inside `hepek start` (docs/money-path.md, DESIGN.md §1/§4): the in-process hub on
 * the embedded default and the payer, wired to the gateway's chain, broker, meter and relay.
 *
 * - **Hub** (`hub.embedded` and this gateway holds the dev `hub` key, i.e. it deployed the ledger):
 *   `gateway/hub` `Hub` on its own persistent MQTT session, payee of the channel, relay of opens,
 *   top-ups and readings; it signs and broadcasts the flat tariff (`hub.tariffErgonPerKWh`) and the
 *   DEMAND events of `hub.demand` (the one in progress or next, on the meter's clock).
 * - **Payer** (`channel.enabled`): `Payer` on the gateway's own MQTT client, billing each cycle on
 *   the meter's clock (the simulator's when simulated) at the hub-signed tariff, opening the channel
 *   on first start, topping it up and driving the relay from the spendable balance.
 * - **Broadcasts**: the retained tariff and DEMAND topics of `hub.region`, verified against the
 *   trusted hub (`hub.address`, else the embedded hub's key) before they count; an ignored one is
 *   logged with the reason.
 * - **Chain clock** (`chain.followSimClock`, in-process chain and simulated meter only): blocks are
 *   stamped no earlier than the simulator's clock, so readings signed on an accelerated clock are
 *   not refused as "in the future" and export stays within the rated power per second.
 *
 * Against a JSON-RPC node and an external hub it is one setting away: `hub.address` (and
 * `broker.url`), with `hub.embedded` false.
 */
import path from 'node:path';
import { getAddress, parseUnits, type Wallet } from 'ethers';
import type { MqttClient } from 'mqtt';
import type { Settings } from '../../settings';
import type { ChainConnection } from '../chain/connect';
import type { ContractAddresses } from '../chain/provision';
import type { Tariff } from '../chain/typed-data';
import { MeterReadings__factory } from '../chain/types';
import type { MeterReading, MeterSource, RelayDevice } from '../context';
import { parseDemandEvent, type DemandEvent } from '../demand/types';
import { systemClock } from '../devices/clock';
import { ConfigError } from '../errors';
import type { DeviceSigner } from '../identity/signer';
import type { Logger } from '../log';
import type { DemoProvider } from '../purchase';
import type { LedgerSink } from '../store/ledger';
import { Journal, JOURNAL_DEFAULTS } from '../store/journal';
import { Hub } from '../hub/hub';
import { hubDomain, hubTopics, type HubTrust } from '../hub/protocol';
import { payerChain } from './chain';
import { DemandFeed, TariffBook, type DemandState, type DemandVerdict } from './broadcasts';
import { Payer, payerTopics, type PayerRecord, type PayerState } from './payer';

/** The far end of the embedded hub's flat tariff (the simulator may run years ahead). */
export const FLAT_TARIFF_UNTIL_S = 253_402_300_799; // 9999-12-31T23:59:59Z

/** A verified DEMAND update as the nodes see it. */
export type DemandUpdate = DemandVerdict;

/** What the nodes (`hepek-channel-sign`, `hepek-mint`, `hepek-demand-listener`) use of the money path. */
export interface MoneyPath {
  readonly hubAddress: string;
  readonly region: string;
  readonly payer: Payer | null;
  readonly hub: Hub | null;
  readonly tariffs: TariffBook;
  /** Now on the meter's clock (the simulator's when simulated), unix seconds. */
  nowS(): number;
  /** The trust a broadcast is checked against now. */
  trust(): HubTrust;
  /** The hub's EIP-712 domain (tariffs, DEMAND events). */
  readonly hubDomain: ReturnType<typeof hubDomain>;
  /** The newest verified DEMAND event and whether it is in force now. */
  demand(): DemandState & { lastIgnored: string | null };
  /** Every DEMAND broadcast, verified (or ignored with the reason); returns the unsubscribe. */
  subscribeDemand(listener: (update: DemandUpdate) => void): () => void;
  /**
   * The channel part of the spendable balance: the open channel's deposit on chain − the newest
   * voucher the hub acknowledged, wei (read from the chain, so an open or top-up just mined counts
   * before the payer's next check).
   */
  channelUnspentWei(): Promise<bigint>;
  /** The device's export account on MeterReadings: accrued reward (wei) and carbon credits (mg CO2e). */
  rewards(): Promise<{ accruedWei: bigint; carbonMg: bigint; lastSeq: bigint }>;
  /** Claims the accrued reward to the HEPEK wallet (needs the owner's key: the dev member here). */
  claim(): Promise<{ txHash: string; amountWei: bigint }>;
  status(): Record<string, unknown>;
  stop(): Promise<void>;
}

export interface MoneyPathOptions {
  settings: Settings;
  chain: ChainConnection;
  contracts: ContractAddresses;
  /** The dev keys when this gateway deployed the ledger (null on someone else's deployment). */
  devKeys: { hub: Wallet; member: Wallet } | null;
  serial: string;
  deviceId: string;
  signer: DeviceSigner;
  /** The gateway's own MQTT client (full access). */
  client: MqttClient;
  brokerUrl: string;
  /** The login of the hub's own session on the broker, when the broker wants one. */
  brokerLogin: { username: string; password: string } | null;
  meter: MeterSource;
  /** The simulator's clock, ms, when the meter is simulated. */
  simClockMs: (() => number) | null;
  relay: RelayDevice;
  /** The dev chain's demo payment provider (gateway/purchase/demo-provider.ts), for `channel.autoPurchase`. */
  purchase: DemoProvider | null;
  /** Where the `paid` flow is recorded for the dashboards (gateway/store/ledger.ts). */
  ledger?: LedgerSink;
  log: Logger;
}

/** Checks `hub.demand` at boot: each entry must be a DemandEvent; names the entry and field. */
export function parseDemandSettings(raw: unknown[], region: string): DemandEvent[] {
  return raw.map((entry, i) => {
    try {
      const withRegion =
        typeof entry === 'object' && entry !== null && !('region' in entry) ? { ...entry, region } : entry;
      return parseDemandEvent(withRegion, `hub.demand[${i}]`);
    } catch (err) {
      const e = err as Error & { field?: string; value?: unknown; allowed?: string };
      throw new ConfigError(e.field ?? `hub.demand[${i}]`, e.value ?? entry, e.allowed ?? e.message, {
        cause: err,
      });
    }
  });
}

/** The DEMAND event to broadcast at `nowS`: the one in progress, else the next; null when none is left. */
export function dueDemand(events: readonly DemandEvent[], nowS: number): DemandEvent | null {
  const live = events.filter((e) => nowS < e.expiry && nowS < e.end).sort((a, b) => a.start - b.start);
  return live[0] ?? null;
}

/** The embedded hub's flat tariff: one period, in force from the epoch to year 9999. */
export function flatTariff(region: string, ergonPerKWh: number): Tariff {
  const weiPerKWh = parseUnits(String(ergonPerKWh), 18);
  return {
    id: `flat-${weiPerKWh}`,
    region,
    validFrom: 0,
    validUntil: FLAT_TARIFF_UNTIL_S,
    periodStarts: [0],
    weiPerKWh: [weiPerKWh],
  };
}

export async function startMoneyPath(o: MoneyPathOptions): Promise<MoneyPath | null> {
  const { settings, chain, contracts, log } = o;
  const hubSettings = settings.hub;
  const channelsAddress = contracts.PaymentChannels;
  if (!channelsAddress) {
    log.info('channel: no PaymentChannels in this deployment; billing off');
    return null;
  }
  const demandEvents = parseDemandSettings(hubSettings.demand, hubSettings.region);
  const runHub = hubSettings.embedded && o.devKeys !== null;
  if (hubSettings.embedded && !o.devKeys)
    log.info(
      'hub: hub.embedded is set, but this gateway did not deploy the ledger and holds no hub key; using hub.address',
    );
  const hubAddress = hubSettings.address
    ? getAddress(hubSettings.address)
    : runHub
      ? o.devKeys!.hub.address
      : null;
  if (!hubAddress) {
    log.info('channel: no hub to pay (hub.address is null and no embedded hub runs); billing off');
    return null;
  }
  const cleanup: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const step of cleanup.reverse()) {
      try {
        await step();
      } catch (err) {
        log.warn(`money path: stop: ${(err as Error).message}`);
      }
    }
  };
  try {
    const simClock = o.simClockMs;
    const nowS = () => Math.floor((simClock ? simClock() : Date.now()) / 1000);
    // What the chain's clock is at least: the wall clock, and the simulator's when the chain follows it.
    const follow = settings.chain.followSimClock && chain.embedded !== null && simClock !== null;
    const chainNowS = () => Math.max(Math.floor(Date.now() / 1000), follow ? nowS() : 0);
    const domain = hubDomain(chain.chainId, contracts.GatewayRegistry);
    const region = hubSettings.region;
    const trust = (): HubTrust => ({ hub: hubAddress, region, nowS: nowS() });

    // Chain clock: at most one empty block per reading, only while the simulator is ahead.
    if (follow) {
      let chainAheadUntilS = 0;
      const pump = (reading: MeterReading) => {
        const simS = Math.floor(Date.parse(reading.timestamp) / 1000) + 1;
        if (!Number.isFinite(simS) || simS <= chainAheadUntilS) return;
        const embedded = chain.embedded!;
        chainAheadUntilS = simS;
        embedded
          .request({ method: 'eth_getBlockByNumber', params: ['latest', false] })
          .then((block) => {
            const latest = Number((block as { timestamp: string }).timestamp);
            if (simS > latest) return embedded.request({ method: 'evm_mine', params: [simS] });
            chainAheadUntilS = Math.max(chainAheadUntilS, latest);
            return undefined;
          })
          .catch((err: Error) => log.warn(`chain clock: ${err.message}`));
      };
      cleanup.push(o.meter.subscribe(pump));
    }

    // The hub, when this gateway plays the operator.
    let hub: Hub | null = null;
    if (runHub) {
      const wallet = o.devKeys!.hub.connect(chain.provider);
      hub = await Hub.open({
        provider: chain.provider,
        wallet,
        chainId: chain.chainId,
        contracts: {
          PaymentChannels: channelsAddress,
          GatewayRegistry: contracts.GatewayRegistry,
          MeterReadings: contracts.MeterReadings ?? null,
        },
        dir: path.join(settings.userDir, 'hub'),
        region,
        closeSpentPercent: hubSettings.closeSpentPercent,
        closeIntervalSeconds: hubSettings.closeIntervalSeconds,
        readingBatchSize: 50,
        deviceCacheSeconds: 60,
        now: chainNowS,
        log,
      });
      const running = hub;
      cleanup.push(() => running.stop());
      const hubClient = await hub.connect(o.brokerUrl, o.brokerLogin ?? {});
      hubClient.on('error', (err) => log.warn(`hub mqtt: ${err.message}`));
      const tariff = flatTariff(region, hubSettings.tariffErgonPerKWh);
      let demandSent: string | null = null;
      const broadcast = async () => {
        await running.publishTariff(tariff);
        const due = dueDemand(demandEvents, nowS());
        const key = due ? JSON.stringify(due) : null;
        if (key === demandSent) return;
        if (due) await running.publishDemand(due);
        else await running.clearDemand(region);
        demandSent = key;
        log.info(
          due ? `hub: DEMAND ${due.id} level ${due.level} broadcast` : 'hub: no DEMAND event; cleared',
        );
      };
      // Retained, so once is enough — and again on every reconnect (a restarted broker forgot them).
      let broadcasting = false;
      const rebroadcast = (force: boolean) => {
        if (broadcasting) return;
        if (force) demandSent = '\u0000';
        broadcasting = true;
        broadcast()
          .catch((err: Error) => log.warn(`hub: broadcast: ${err.message}`))
          .finally(() => (broadcasting = false));
      };
      hubClient.on('connect', () => rebroadcast(true));
      rebroadcast(true);
      running.start(hubSettings.tickMs);
      // DEMAND windows open and close on the meter's clock: check on every reading.
      cleanup.push(
        o.meter.subscribe(() => {
          const due = dueDemand(demandEvents, nowS());
          if ((due ? JSON.stringify(due) : null) !== demandSent) rebroadcast(false);
        }),
      );
      log.info(`hub: embedded, key ${running.address}, region ${region}, ${tariff.id} wei/kWh`);
    }

    // Broadcasts the gateway acts on, verified first.
    const tariffs = new TariffBook(domain);
    const demandFeed = new DemandFeed(domain, trust, (err) => log.warn(`demand listener: ${err.message}`));
    const tariffTopic = hubTopics.tariff(region);
    const demandTopic = hubTopics.demand(region);
    const onBroadcast = (topic: string, payload: Buffer) => {
      if (topic === tariffTopic) {
        if (payload.length === 0) return;
        const t = tariffs.accept(payload, trust());
        if (t) log.info(`channel: tariff ${t.id} from the hub accepted`);
        else log.warn(`channel: ignored a tariff broadcast: ${tariffs.lastRefusal}`);
      } else if (topic === demandTopic) {
        const verdict = demandFeed.accept(payload);
        if (verdict.kind === 'ignored') log.warn(`demand: ignored a DEMAND broadcast: ${verdict.reason}`);
      }
    };
    o.client.on('message', onBroadcast);
    const subscribe = () => o.client.subscribe([tariffTopic, demandTopic], { qos: 1 });
    o.client.on('connect', subscribe);
    if (o.client.connected) subscribe();
    cleanup.push(() => {
      o.client.removeListener('message', onBroadcast);
      o.client.removeListener('connect', subscribe);
    });

    // The payer.
    const addresses = { channels: channelsAddress, token: contracts.ErgonToken };
    const chainReads = payerChain(chain.provider, addresses, o.signer.address, chainNowS);
    let payer: Payer | null = null;
    if (settings.channel.enabled) {
      const journal = await Journal.open<PayerRecord>({
        dir: path.join(settings.userDir, 'channel'),
        ...JOURNAL_DEFAULTS,
        log: log.warn,
      });
      cleanup.push(() => journal.close());
      const ch = settings.channel;
      const provider = o.purchase;
      const requestPurchase = provider
        ? async (amountWei: bigint) => {
            // The embedded default plays the payment provider too: a signed payment.succeeded.
            const answer = await provider.pay({ amountWei });
            if (answer.status >= 300) throw new Error(`purchase refused: ${JSON.stringify(answer.body)}`);
          }
        : undefined;
      if (ch.autoPurchase.enabled && !requestPurchase)
        log.warn(
          'channel: channel.autoPurchase is on, but this gateway has no purchase provider; not buying',
        );
      payer = new Payer(
        {
          cycleSeconds: ch.cycleSeconds,
          depositErgon: ch.depositErgon,
          topUpBelowErgon: ch.topUpBelowErgon,
          topUpErgon: ch.topUpErgon,
          challengePeriod: ch.challengePeriod,
          resendSeconds: ch.resendSeconds,
          checkSeconds: ch.checkSeconds,
          sendReadings: ch.sendReadings && contracts.MeterReadings !== undefined,
          autoPurchase: ch.autoPurchase,
        },
        {
          deviceId: o.deviceId,
          signer: o.signer,
          domain: {
            chainId: chain.chainId,
            ...addresses,
            readings: contracts.MeterReadings ?? channelsAddress,
          },
          payee: hubAddress,
          chain: chainReads,
          mqtt: o.client,
          topics: payerTopics(o.serial),
          journal,
          meter: o.meter,
          priceAt: tariffs.priceAt,
          clock: systemClock,
          relay: o.relay,
          lowThresholdErgon: settings.balance.lowThresholdErgon,
          ...(requestPurchase ? { requestPurchase } : {}),
          ...(o.ledger
            ? {
                onPaid: (deltaWei: bigint, voucher: { id: string }, endS: number) => {
                  // The voucher id makes a replayed record count once.
                  o.ledger!.addErgon('paid', deltaWei, new Date(endS * 1000), voucher.id).catch(
                    (err: Error) => log.warn(`ledger: voucher ${voucher.id} not recorded: ${err.message}`),
                  );
                },
              }
            : {}),
          batteryPermille: (r) => {
            const soc = (r as MeterReading & { batterySocPercent?: number | null }).batterySocPercent;
            return typeof soc === 'number' ? Math.round(soc * 10) : 0;
          },
          log,
        },
      );
      const running = payer;
      payer.start();
      cleanup.push(() => running.stop());
      log.info(`channel: paying hub ${hubAddress} every ${ch.cycleSeconds} s of the meter's clock`);
    }

    const readings = contracts.MeterReadings
      ? MeterReadings__factory.connect(contracts.MeterReadings, chain.provider)
      : null;
    const member = o.devKeys?.member.connect(chain.provider) ?? null;
    const path_: MoneyPath = {
      hubAddress,
      region,
      payer,
      hub,
      tariffs,
      hubDomain: domain,
      nowS,
      trust,
      demand: () => demandFeed.stateAt(nowS()),
      async channelUnspentWei() {
        if (!payer) return 0n;
        const open = await chainReads.openChannel();
        if (!open) return 0n;
        const acked = payer.ackedWeiOf(open.channelId);
        return open.deposit > acked ? open.deposit - acked : 0n;
      },
      subscribeDemand: (listener) => demandFeed.subscribe(listener),
      async rewards() {
        if (!readings)
          throw new ConfigError('chain.contracts.MeterReadings', null, 'a MeterReadings address');
        const account = await readings.accountOf(o.deviceId);
        return { accruedWei: account.accruedWei, carbonMg: account.carbonMg, lastSeq: account.lastSeq };
      },
      async claim() {
        if (!readings)
          throw new ConfigError('chain.contracts.MeterReadings', null, 'a MeterReadings address');
        if (!member)
          throw new ConfigError(
            'hub.embedded',
            false,
            "a gateway that deployed the ledger (the device owner's key claims rewards; elsewhere claim from the DApp)",
          );
        const { accruedWei } = await readings.accountOf(o.deviceId);
        const tx = await readings.connect(member).claimRewards(o.deviceId);
        await tx.wait();
        return { txHash: tx.hash, amountWei: accruedWei };
      },
      status() {
        const state: PayerState | null = payer?.state() ?? null;
        return {
          hub: hubAddress,
          region,
          embeddedHub: hub ? { stats: { ...hub.stats } } : null,
          tariff: tariffs.list()[0]?.id ?? null,
          demand: demandFeed.current(),
          payer: state,
        };
      },
      stop: stopAll,
    };
    return path_;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
