/**
 * The payer's billing loop (docs/money-path.md, DESIGN.md §1/§4).
 *
 * Driven by meter readings: each reading carries its time on the meter's clock (the simulator's
 * accelerated clock, or the wall clock for a real meter), so a cycle ends when a reading falls in
 * a later `cycleSeconds` slot than the previous one — no timer decides what is billed, and a test
 * replays a day by feeding readings. At a cycle end the import delta × the hub-signed tariff in
 * force becomes a voucher signed by the device key, **journaled (fdatasync) before it is
 * published**, then published on `hepek/<serial>/hub/voucher` (QoS 1) and resent until the hub
 * acks it. A device-signed reading of the counters goes with it, for the hub to relay.
 *
 * Every journal record is the payer's whole state, so recovery is "take the newest record": after
 * a kill -9 the unacked voucher is resent under the same id and the counter already billed is
 * never billed again.
 *
 * A housekeeping tick (every `checkSeconds` on the injected clock) reads the chain: it opens the
 * channel on first start (a device-signed Open + permit relayed by the hub), notices a channel the
 * hub closed and opens the next, tops the channel up from the wallet, and drives the relay from
 * the spendable balance (wallet + deposit − newest acked voucher).
 */
import type { Clock } from '../devices/clock';
import type { MeterReading, MeterSource, RelayDevice } from '../context';
import type { DeviceSigner } from '../identity/signer';
import type { Journal } from '../store/journal';
import {
  billTo,
  cycleIndexOf,
  ergonToWei,
  initialBilling,
  startChannel,
  wholeWh,
  type BillingState,
} from './billing';
import {
  buildOpen,
  buildReading,
  buildTopUp,
  buildVoucher,
  type OpenJson,
  type PayerDomain,
  type ReadingJson,
  type TopUpJson,
  type VoucherJson,
} from './messages';
import { decodeJson, hubTopics, parseAck, type Ack } from '../hub/protocol';

/** The `channel` settings the loop needs (settings.ts documents each). */
export interface PayerOptions {
  cycleSeconds: number;
  depositErgon: number;
  topUpBelowErgon: number;
  topUpErgon: number;
  challengePeriod: number;
  resendSeconds: number;
  checkSeconds: number;
  sendReadings: boolean;
  autoPurchase: { enabled: boolean; amountErgon: number; belowErgon: number };
}

/** What the payer reads from the chain. */
export interface PayerChain {
  /** The payer's open channel, or null. */
  openChannel(): Promise<{ channelId: bigint; deposit: bigint; exitAt: bigint } | null>;
  /** ERGON in the HEPEK wallet, wei. */
  walletWei(): Promise<bigint>;
  /** PaymentChannels.nonces(payer): the next channel's nonce. */
  channelNonce(): Promise<bigint>;
  /** ErgonToken.nonces(payer): the next permit's nonce. */
  permitNonce(): Promise<bigint>;
  /** Unix seconds for permit deadlines (the wall clock). */
  nowS(): number;
}

/** The MQTT client surface the payer uses (mqtt.js's MqttClient satisfies it). */
export interface PayerMqtt {
  readonly connected: boolean;
  publish(topic: string, payload: string, opts: { qos: 1; retain?: boolean }): unknown;
  subscribe(topic: string, opts: { qos: 1 }): unknown;
  unsubscribe(topic: string): unknown;
  on(event: 'message', fn: (topic: string, payload: Buffer) => void): unknown;
  on(event: 'connect', fn: () => void): unknown;
  removeListener(event: string, fn: (...args: never[]) => void): unknown;
}

/** The device → hub topics (gateway/hub/protocol.ts is their one definition). */
export interface PayerTopics {
  open: string;
  voucher: string;
  reading: string;
  topup: string;
  ack: string;
}

/** The tariff in force at a meter time: its id and price, or null when none is known and valid. */
export type PriceAt = (timeS: number) => { tariffId: string; weiPerKWh: bigint } | null;

export interface PayerDeps {
  deviceId: string;
  signer: DeviceSigner;
  domain: PayerDomain;
  /** The hub's payee address (the channel's payee). */
  payee: string;
  chain: PayerChain;
  mqtt: PayerMqtt;
  topics: PayerTopics;
  journal: Journal<PayerRecord>;
  meter: MeterSource;
  priceAt: PriceAt;
  clock: Clock;
  relay?: RelayDevice;
  /** Below this spendable balance the relay opens, ERGON. */
  lowThresholdErgon: number;
  /** Buys ERGON for the wallet (the purchase provider); used only with autoPurchase.enabled. */
  requestPurchase?: (amountWei: bigint) => Promise<unknown>;
  /** Battery state of charge of a reading, ‰ (0 when unknown). */
  batteryPermille?: (reading: MeterReading) => number;
  onState?: (state: PayerState) => void;
  /** A voucher signed over `deltaWei` more to the hub for the cycle ending at `endS` (the ledger's `paid` flow). */
  onPaid?: (deltaWei: bigint, voucher: VoucherJson, endS: number) => void;
  log?: { info(text: string): void; warn(text: string): void };
}

/** One journal record: the payer's whole durable state after a change. */
export interface PayerRecord {
  kind: 'payer';
  billing: Omit<BillingState, 'exactMilliWei' | 'cumulativeAmount'> & {
    exactMilliWei: string;
    cumulativeAmount: string;
  };
  channel: { channelId: string; deposit: string } | null;
  voucher: VoucherJson | null;
  reading: ReadingJson | null;
  readingSeq: number;
}

/** What `/hepek/status` and the balance topic report (amounts in wei as decimal strings). */
export interface PayerState {
  channelId: string | null;
  depositWei: string | null;
  cumulativeAmountWei: string;
  ackedAmountWei: string;
  unspentWei: string;
  cycle: number;
  billedImportWh: number;
  voucher: { id: string; acked: boolean } | null;
  /** The newest reading sent; `status` is the hub's last word on it (queued, accepted, rejected). */
  reading: { seq: number; acked: boolean; status: string | null; reason?: string } | null;
  pending: string[];
  lastRefusal: { id: string; kind: string; code: string; reason: string } | null;
  lastError: string | null;
}

/** The topics of one device (gateway/hub/protocol.ts is their one definition). */
export function payerTopics(serial: string): PayerTopics {
  return {
    open: hubTopics.open(serial),
    voucher: hubTopics.voucher(serial),
    reading: hubTopics.reading(serial),
    topup: hubTopics.topup(serial),
    ack: hubTopics.ack(serial),
  };
}

export class Payer {
  private billing: BillingState;
  private channel: { channelId: bigint; deposit: bigint } | null;
  private voucher: VoucherJson | null;
  private reading: ReadingJson | null;
  private readingSeq: number;
  private voucherAcked = false;
  private readingAcked = false;
  private readingStatus: { seq: number; status: string; reason?: string } | null = null;
  private ackedAmount = 0n;
  private pendingOpen: OpenJson | null = null;
  private pendingTopUp: TopUpJson | null = null;
  private purchasing = false;
  private relayOpenedByPayer = false;
  private lastRefusal: PayerState['lastRefusal'] = null;
  private lastError: string | null = null;
  /** Everything that changes state runs through this chain, one step at a time. */
  private queue: Promise<void> = Promise.resolve();
  private resendTimer: unknown = null;
  private checkTimer: unknown = null;
  private unsubscribeMeter: (() => void) | null = null;
  private running = false;
  private readonly log: NonNullable<PayerDeps['log']>;
  private readonly onMessage = (topic: string, payload: Buffer) => {
    if (topic === this.deps.topics.ack) this.enqueue(() => this.handleAck(payload));
  };
  private readonly onConnect = () => {
    this.deps.mqtt.subscribe(this.deps.topics.ack, { qos: 1 });
    this.resend();
  };

  constructor(
    private readonly options: PayerOptions,
    private readonly deps: PayerDeps,
  ) {
    this.log = deps.log ?? { info: () => {}, warn: () => {} };
    const last = deps.journal.recovered.last?.data;
    if (last?.kind === 'payer') {
      this.billing = {
        ...last.billing,
        exactMilliWei: BigInt(last.billing.exactMilliWei),
        cumulativeAmount: BigInt(last.billing.cumulativeAmount),
      };
      this.channel = last.channel
        ? { channelId: BigInt(last.channel.channelId), deposit: BigInt(last.channel.deposit) }
        : null;
      this.voucher = last.voucher;
      this.reading = last.reading;
      this.readingSeq = last.readingSeq;
      this.log.info(
        `channel: resuming at cycle ${this.billing.cycle}, ${this.billing.billedImportWh} Wh billed, voucher ${this.voucher?.id ?? 'none'} to resend`,
      );
    } else {
      const latest = deps.meter.latest();
      this.billing = initialBilling(latest ? latest.importWh : 0);
      this.channel = null;
      this.voucher = null;
      this.reading = null;
      this.readingSeq = 0;
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const { mqtt } = this.deps;
    mqtt.on('message', this.onMessage);
    mqtt.on('connect', this.onConnect);
    if (mqtt.connected) this.onConnect();
    this.unsubscribeMeter = this.deps.meter.subscribe((reading) =>
      this.enqueue(() => this.onReading(reading)),
    );
    this.scheduleResend();
    this.enqueue(() => this.housekeeping());
    this.scheduleCheck();
  }

  /** Stops timers and subscriptions; waits for the step in progress (its journal write). */
  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribeMeter?.();
    this.unsubscribeMeter = null;
    this.deps.clock.cancel(this.resendTimer);
    this.deps.clock.cancel(this.checkTimer);
    this.deps.mqtt.removeListener('message', this.onMessage as never);
    this.deps.mqtt.removeListener('connect', this.onConnect as never);
    await this.queue;
  }

  /** Resolves once every queued step has run (tests, the nodes). */
  idle(): Promise<void> {
    return this.queue;
  }

  state(): PayerState {
    const deposit = this.channel?.deposit ?? null;
    const unspent = deposit !== null && deposit > this.ackedAmount ? deposit - this.ackedAmount : 0n;
    return {
      channelId: this.channel ? this.channel.channelId.toString() : null,
      depositWei: deposit === null ? null : deposit.toString(),
      cumulativeAmountWei: this.billing.cumulativeAmount.toString(),
      ackedAmountWei: this.ackedAmount.toString(),
      unspentWei: unspent.toString(),
      cycle: this.billing.cycle,
      billedImportWh: this.billing.billedImportWh,
      voucher: this.voucher ? { id: this.voucher.id, acked: this.voucherAcked } : null,
      reading: this.reading
        ? {
            seq: this.reading.reading.seq,
            acked: this.readingAcked,
            status: this.readingStatus?.seq === this.reading.reading.seq ? this.readingStatus.status : null,
            ...(this.readingStatus?.seq === this.reading.reading.seq && this.readingStatus.reason
              ? { reason: this.readingStatus.reason }
              : {}),
          }
        : null,
      pending: [
        ...(this.voucher && !this.voucherAcked ? [this.voucher.id] : []),
        ...(this.reading && !this.readingAcked ? [this.reading.id] : []),
        ...(this.pendingOpen ? [this.pendingOpen.id] : []),
        ...(this.pendingTopUp ? [this.pendingTopUp.id] : []),
      ],
      lastRefusal: this.lastRefusal,
      lastError: this.lastError,
    };
  }

  /** The unspent, acknowledged part of the open channel, wei (the channel part of the spendable balance). */
  channelUnspentWei(): bigint {
    return BigInt(this.state().unspentWei);
  }

  /** What the hub has acknowledged of channel `channelId`, wei (0 for a channel the payer has not billed yet). */
  ackedWeiOf(channelId: bigint): bigint {
    return this.channel?.channelId === channelId ? this.ackedAmount : 0n;
  }

  /** The newest voucher and whether the hub has acknowledged it. */
  newestVoucher(): { voucher: VoucherJson; acked: boolean } | null {
    return this.voucher ? { voucher: this.voucher, acked: this.voucherAcked } : null;
  }

  /**
   * Bills the import counter up to `importWh` now (a cycle end forced by a flow, `hepek-channel-sign`)
   * at the tariff in force at `timeS`; returns the newest voucher. A counter already billed adds
   * nothing and returns the newest voucher unchanged.
   */
  billNow(importWh: number, timeS: number): Promise<VoucherJson | null> {
    return this.enqueueResult(async () => {
      await this.bill(wholeWh(importWh), timeS);
      return this.voucher;
    });
  }

  /** Signs and sends a reading of the given counters now (`hepek-mint`); returns it. */
  submitReading(reading: {
    importWh: number;
    exportWh: number;
    timestampS: number;
    batteryPermille?: number;
  }) {
    return this.enqueueResult(async () => {
      await this.sendReading(
        reading.importWh,
        reading.exportWh,
        reading.timestampS,
        reading.batteryPermille ?? 0,
      );
      return this.reading!;
    });
  }

  /** Runs a housekeeping step now (after a purchase, in tests). */
  check(): Promise<void> {
    return this.enqueueResult(() => this.housekeeping());
  }

  // ─── internals ───────────────────────────────────────────────────────────────────────────────

  private enqueue(step: () => Promise<void> | void): void {
    this.queue = this.queue.then(step).catch((err: unknown) => {
      this.lastError = (err as Error).message;
      this.log.warn(`channel: ${(err as Error).message}`);
    });
  }

  private enqueueResult<T>(step: () => Promise<T>): Promise<T> {
    const result = this.queue.then(step);
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async onReading(reading: MeterReading): Promise<void> {
    const timeS = Math.floor(Date.parse(reading.timestamp) / 1000);
    if (!Number.isFinite(timeS)) return;
    const index = cycleIndexOf(timeS, this.options.cycleSeconds);
    if (this.billing.cycleIndex === null) {
      this.billing = { ...this.billing, cycleIndex: index };
      await this.persist();
      return;
    }
    if (index <= this.billing.cycleIndex) return;
    // The cycle ended at the start of the slot this reading is in.
    const endS = index * this.options.cycleSeconds;
    const billed = await this.bill(wholeWh(reading.importWh), endS);
    this.billing = { ...this.billing, cycleIndex: index };
    if (this.options.sendReadings) {
      const battery = this.deps.batteryPermille?.(reading) ?? 0;
      await this.sendReading(reading.importWh, reading.exportWh, timeS, battery);
    } else if (!billed) await this.persist();
  }

  /** Bills up to `counter`; false when nothing could be billed (no channel or no tariff yet). */
  private async bill(counter: number, endS: number): Promise<boolean> {
    if (!this.channel) return false;
    if (counter <= this.billing.billedImportWh && this.voucher) return false;
    const price = this.deps.priceAt(endS);
    if (!price) {
      this.lastError = `no valid hub-signed tariff for ${new Date(endS * 1000).toISOString()}; the import is billed once one arrives`;
      return false;
    }
    const next = billTo(this.billing, counter, price.weiPerKWh);
    const voucher = await buildVoucher(this.deps.signer, this.deps.domain, {
      channelId: this.channel.channelId,
      cumulativeAmount: next.state.cumulativeAmount,
      cycle: this.billing.cycle,
      importWh: counter,
      tariffId: price.tariffId,
    });
    const deltaWei = next.state.cumulativeAmount - this.billing.cumulativeAmount;
    this.billing = next.state;
    this.voucher = voucher;
    this.voucherAcked = false;
    // Journaled before anybody is told about it: a crash after this line resends the same voucher.
    await this.persist();
    this.publish(this.deps.topics.voucher, voucher);
    if (deltaWei > 0n) this.deps.onPaid?.(deltaWei, voucher, endS);
    return true;
  }

  private async sendReading(importWh: number, exportWh: number, timestampS: number, batteryPermille: number) {
    this.readingSeq += 1;
    this.reading = await buildReading(this.deps.signer, this.deps.domain, {
      deviceId: this.deps.deviceId,
      seq: this.readingSeq,
      timestamp: timestampS,
      importWh: wholeWh(importWh),
      exportWh: wholeWh(exportWh, 'exportWh'),
      batteryPermille: Math.max(0, Math.min(1000, Math.round(batteryPermille))),
    });
    this.readingAcked = false;
    this.readingStatus = null;
    await this.persist();
    this.publish(this.deps.topics.reading, this.reading);
  }

  private async persist(): Promise<void> {
    const record: PayerRecord = {
      kind: 'payer',
      billing: {
        ...this.billing,
        exactMilliWei: this.billing.exactMilliWei.toString(),
        cumulativeAmount: this.billing.cumulativeAmount.toString(),
      },
      channel: this.channel
        ? { channelId: this.channel.channelId.toString(), deposit: this.channel.deposit.toString() }
        : null,
      voucher: this.voucher,
      reading: this.reading,
      readingSeq: this.readingSeq,
    };
    await this.deps.journal.append(record);
    this.deps.onState?.(this.state());
  }

  private publish(topic: string, message: object): void {
    if (this.deps.mqtt.connected) this.deps.mqtt.publish(topic, JSON.stringify(message), { qos: 1 });
  }

  private resend(): void {
    if (this.voucher && !this.voucherAcked) this.publish(this.deps.topics.voucher, this.voucher);
    if (this.reading && !this.readingAcked) this.publish(this.deps.topics.reading, this.reading);
    if (this.pendingOpen) this.publish(this.deps.topics.open, this.pendingOpen);
    if (this.pendingTopUp) this.publish(this.deps.topics.topup, this.pendingTopUp);
  }

  private scheduleResend(): void {
    this.resendTimer = this.deps.clock.schedule(() => {
      if (!this.running) return;
      this.resend();
      this.scheduleResend();
    }, this.options.resendSeconds * 1000);
  }

  private scheduleCheck(): void {
    this.checkTimer = this.deps.clock.schedule(() => {
      if (!this.running) return;
      this.enqueue(() => this.housekeeping());
      this.scheduleCheck();
    }, this.options.checkSeconds * 1000);
  }

  private async handleAck(payload: Buffer): Promise<void> {
    let ack: Ack;
    try {
      ack = parseAck(decodeJson(payload, 'ack'));
    } catch (err) {
      this.log.warn(`channel: ignored an ack: ${(err as Error).message}`);
      return;
    }
    if (!ack.ok) {
      this.lastRefusal = { id: ack.id, kind: ack.kind, code: ack.code, reason: ack.reason };
      this.log.warn(`channel: the hub refused ${ack.kind} ${ack.id}: ${ack.code}: ${ack.reason}`);
      // chain-unavailable: the hub queued it (or will take the resend); keep it pending.
      if (ack.code !== 'chain-unavailable') {
        if (this.pendingOpen?.id === ack.id) this.pendingOpen = null;
        if (this.pendingTopUp?.id === ack.id) this.pendingTopUp = null;
      }
      if (ack.code === 'unknown-channel') await this.housekeeping();
      this.deps.onState?.(this.state());
      return;
    }
    if (this.voucher?.id === ack.id) {
      this.voucherAcked = true;
      const amount = BigInt(this.voucher.cumulativeAmount);
      const held = ack.kind === 'voucher' ? BigInt(ack.result.cumulativeAmount) : amount;
      this.ackedAmount = held > amount ? held : amount;
    } else if (this.reading?.id === ack.id) {
      this.readingAcked = true;
      if (ack.kind === 'reading') this.readingStatus = ack.result;
    } else if (this.pendingOpen?.id === ack.id) {
      this.pendingOpen = null;
      await this.housekeeping();
    } else if (this.pendingTopUp?.id === ack.id) {
      this.pendingTopUp = null;
      await this.housekeeping();
    }
    this.deps.onState?.(this.state());
  }

  private async housekeeping(): Promise<void> {
    const { chain } = this.deps;
    let onChain: Awaited<ReturnType<PayerChain['openChannel']>>;
    let wallet: bigint;
    try {
      onChain = await chain.openChannel();
      wallet = await chain.walletWei();
    } catch (err) {
      this.lastError = `chain: ${(err as Error).message}`;
      return;
    }
    // A channel the hub closed (or that we exited): forget it; the next one carries the remainder.
    if (this.channel && (!onChain || onChain.channelId !== this.channel.channelId)) {
      this.log.info(`channel: ${this.channel.channelId} is closed on chain`);
      this.channel = null;
      this.voucherAcked = true;
      this.ackedAmount = 0n;
      await this.persist();
    }
    if (!this.channel && onChain && onChain.exitAt === 0n) {
      const same = this.billing.channelId === onChain.channelId.toString();
      if (!same) this.billing = startChannel(this.billing, onChain.channelId);
      this.channel = { channelId: onChain.channelId, deposit: onChain.deposit };
      if (!same) {
        this.voucher = null;
        this.ackedAmount = 0n;
      }
      this.pendingOpen = null;
      this.log.info(`channel: ${onChain.channelId} open with ${onChain.deposit} wei`);
      await this.persist();
    } else if (this.channel && onChain && onChain.deposit !== this.channel.deposit) {
      this.channel = { channelId: onChain.channelId, deposit: onChain.deposit };
      await this.persist();
    }
    const deadline = chain.nowS() + 3600;
    if (!this.channel && !onChain && !this.pendingOpen) {
      const deposit = min(ergonToWei(this.options.depositErgon, 'channel.depositErgon'), wallet);
      if (deposit > 0n) {
        this.pendingOpen = await buildOpen(this.deps.signer, this.deps.domain, {
          payee: this.deps.payee,
          deposit,
          challengePeriod: this.options.challengePeriod,
          channelNonce: await chain.channelNonce(),
          permitNonce: await chain.permitNonce(),
          deadline,
        });
        this.publish(this.deps.topics.open, this.pendingOpen);
      }
    }
    if (this.channel && !this.pendingTopUp) {
      const unspent = this.channel.deposit - this.billing.cumulativeAmount;
      if (unspent < ergonToWei(this.options.topUpBelowErgon, 'channel.topUpBelowErgon')) {
        const amount = min(ergonToWei(this.options.topUpErgon, 'channel.topUpErgon'), wallet);
        if (amount > 0n) {
          this.pendingTopUp = await buildTopUp(this.deps.signer, this.deps.domain, {
            channelId: this.channel.channelId,
            amount,
            permitNonce: await chain.permitNonce(),
            deadline,
          });
          this.publish(this.deps.topics.topup, this.pendingTopUp);
        }
      }
    }
    const spendable = wallet + this.channelUnspentWei();
    await this.driveRelay(spendable);
    const auto = this.options.autoPurchase;
    if (
      auto.enabled &&
      this.deps.requestPurchase &&
      !this.purchasing &&
      spendable < ergonToWei(auto.belowErgon)
    ) {
      this.purchasing = true;
      const amount = ergonToWei(auto.amountErgon, 'channel.autoPurchase.amountErgon');
      this.log.info(
        `channel: spendable ${spendable} wei below ${auto.belowErgon} ERGON; buying ${auto.amountErgon} ERGON`,
      );
      this.deps.requestPurchase(amount).then(
        () => {
          this.purchasing = false;
          this.enqueue(() => this.housekeeping());
        },
        (err: Error) => {
          this.purchasing = false;
          this.lastError = `purchase: ${err.message}`;
        },
      );
    }
    this.lastError = null;
    this.deps.onState?.(this.state());
  }

  private async driveRelay(spendableWei: bigint): Promise<void> {
    const relay = this.deps.relay;
    if (!relay) return;
    const low = spendableWei < ergonToWei(this.deps.lowThresholdErgon, 'balance.lowThresholdErgon');
    if (low && relay.state().on) {
      await relay.set(false, 'balance below threshold');
      this.relayOpenedByPayer = true;
    } else if (!low && this.relayOpenedByPayer) {
      await relay.set(true, 'balance restored');
      this.relayOpenedByPayer = false;
    }
  }
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
