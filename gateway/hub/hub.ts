/**
 * The operator's hub (DESIGN.md §1, §4; docs/money-path.md): payee of every member's channel.
 *
 * - Vouchers: checked at line rate by verify.ts against the channel's book, made durable in the
 *   store (fdatasync) and only then acked.
 * - Closing: a channel is closed with the newest voucher when its deposit is nearly spent
 *   (`closeSpentPercent`), on a schedule (`closeIntervalSeconds`), or as soon as the payer's
 *   `ExitStarted` is seen (long before the challenge period ends, which is ≥ 1 hour).
 * - Relays: device-signed `Open`s with their permit, top-ups, and readings (batched into
 *   MeterReadings.submitReadings), so devices need no ETH. While the JSON-RPC node is unreachable
 *   they wait (readings durably) and are sent on a later tick; vouchers need no chain at all once
 *   the channel is known.
 * - Broadcasts: DEMAND events and tariffs signed with the hub key, retained.
 *
 * Time is injected (`now`, unix seconds) and the periodic work is `tick()`, which `start` calls
 * every `tickMs` and tests call directly.
 */
import {
  getAddress,
  isError,
  recoverAddress,
  type AbstractProvider,
  type ContractTransactionResponse,
  type Signer,
  type TypedDataDomain,
} from 'ethers';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { compact, readChannel } from '../chain/channels';
import { deviceIdFromSerial } from '../chain/ids';
import { batchEntryResults } from '../chain/readings';
import { digestOf, domainOf, type Tariff } from '../chain/typed-data';
import {
  GatewayRegistry__factory,
  MeterReadings__factory,
  PaymentChannels__factory,
  type GatewayRegistry,
  type MeterReadings,
  type PaymentChannels,
} from '../chain/types';
import type { DemandEvent } from '../demand/types';
import {
  REQUEST_KINDS,
  ackError,
  ackOk,
  checkSerial,
  decodeJson,
  encodeReadingMessage,
  encodeSignedTariff,
  hubDomain,
  hubTopics,
  parseReadingMessage,
  parseRequest,
  parseVoucherMessage,
  parseRequestTopic,
  salvageId,
  signDemand,
  signTariff,
  type Ack,
  type AckCode,
  type OpenMessage,
  type ReadingMessage,
  type RequestKind,
  type TopUpMessage,
  type VoucherMessage,
} from './protocol';
import { HubStore } from './store';
import { VoucherVerifier, judgeVoucher, type ChannelBook, type Refusal } from './verify';

export type { Tariff };

export interface HubContracts {
  PaymentChannels: string;
  GatewayRegistry: string;
  /** null: readings are refused (a deployment without MeterReadings). */
  MeterReadings: string | null;
}

export interface HubOptions {
  provider: AbstractProvider;
  /** The hub key, connected to `provider`: payee of channels, relayer, signer of broadcasts. */
  wallet: Signer & { address: string; signTypedData: Signer['signTypedData'] };
  chainId: number;
  contracts: HubContracts;
  /** Folder of the durable books. */
  dir: string;
  /** Region of the DEMAND events and tariffs this hub broadcasts. */
  region: string;
  /** Close when the newest voucher reaches this share of the deposit, percent (0 = never). */
  closeSpentPercent: number;
  /** Close every channel holding a voucher this often, seconds (0 = never). */
  closeIntervalSeconds: number;
  /** Readings per submitReadings transaction. */
  readingBatchSize: number;
  /** Registry answers (device key, active) are reused this long, seconds. */
  deviceCacheSeconds: number;
  /** Now, unix seconds (wall clock unless a test or the simulator injects one). */
  now?: () => number;
  log: { info(line: string): void; warn(line: string): void };
}

interface DeviceEntry {
  key: string | null;
  active: boolean;
  fetchedAtS: number;
}

/** A chain call failed because the node did not answer (not because the contract refused). */
export class ChainUnavailable extends Error {}

/**
 * Whether the contract refused (a revert carrying data: every contract error here is a custom
 * error) rather than the node failing to answer. A CALL_EXCEPTION without data is what ethers makes
 * of a transport failure under an EIP-1193 provider ("missing revert data"), so it counts as the node.
 */
function isRevert(err: unknown): boolean {
  if (isError(err, 'INVALID_ARGUMENT')) return true;
  return isError(err, 'CALL_EXCEPTION') && typeof err.data === 'string';
}

function revertReason(contract: PaymentChannels | MeterReadings, err: unknown): string {
  const data = (err as { data?: string }).data;
  if (typeof data === 'string') {
    try {
      const parsed = contract.interface.parseError(data);
      if (parsed) return `${parsed.name}(${parsed.args.map(String).join(', ')})`;
    } catch {
      // fall through to the message
    }
  }
  return (err as Error).message.split('\n')[0]!.slice(0, 200);
}

/**
 * Turns Nagle off on the client's TCP socket: the hub writes a PUBACK and then the answer, and
 * Nagle would hold the answer until the broker's delayed ACK (~40 ms). Other transports: no-op.
 */
export function noDelay(client: MqttClient): void {
  const stream = client.stream as unknown as { setNoDelay?: (on: boolean) => void };
  stream.setNoDelay?.(true);
}

/** Accepted voucher ids remembered for idempotent resends (in memory: a few per channel). */
const MAX_ACCEPTED_IDS = 200_000;

export class Hub {
  readonly address: string;
  readonly verifier: VoucherVerifier;
  readonly domain: TypedDataDomain;
  readonly books = new Map<string, ChannelBook>();
  private readonly channels: PaymentChannels;
  private readonly registry: GatewayRegistry;
  private readonly readings: MeterReadings | null;
  private readonly devices = new Map<string, DeviceEntry>();
  /** Opens and top-ups waiting for the node, by `${serial} ${id}`. */
  private readonly relayQueue = new Map<
    string,
    { serial: string; kind: 'open' | 'topup'; msg: OpenMessage | TopUpMessage }
  >();
  private readonly closing = new Set<string>();
  private client: MqttClient | null = null;
  /** Whether stop() ends the client (one the hub connected itself). */
  private ownClient = false;
  private stopping = false;
  /** Requests being handled, awaited by stop() so none is cut off mid-write. */
  private readonly inflight = new Set<Promise<void>>();
  /** The newest request in flight per serial; the next one of that serial waits for it. */
  private readonly lanes = new Map<string, Promise<void>>();
  /** The journal write of each channel's newest voucher, until it is durable. */
  private readonly durable = new Map<string, Promise<void>>();
  /** `${serial} ${id}` → signature of recently accepted vouchers (idempotent resends), bounded. */
  private readonly acceptedIds = new Map<string, string>();
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private lastBlock = -1;
  private lastScheduledClose: number;
  private readonly now: () => number;
  /** Counts for /hepek/status, logs and the fleet bench. */
  readonly stats = { accepted: 0, rejected: 0, closed: 0, relayedOpens: 0, relayedReadings: 0 };

  private constructor(
    readonly options: HubOptions,
    readonly store: HubStore,
  ) {
    this.address = getAddress(options.wallet.address);
    this.verifier = new VoucherVerifier({
      chainId: options.chainId,
      channels: options.contracts.PaymentChannels,
    });
    this.domain = hubDomain(options.chainId, options.contracts.GatewayRegistry);
    this.channels = PaymentChannels__factory.connect(options.contracts.PaymentChannels, options.wallet);
    this.registry = GatewayRegistry__factory.connect(options.contracts.GatewayRegistry, options.provider);
    this.readings = options.contracts.MeterReadings
      ? MeterReadings__factory.connect(options.contracts.MeterReadings, options.wallet)
      : null;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.lastScheduledClose = this.now();
  }

  /** Opens the books and reloads the channels they hold from the chain (when it answers). */
  static async open(options: HubOptions): Promise<Hub> {
    const store = await HubStore.open(options.dir, { log: options.log.warn });
    const hub = new Hub(options, store);
    for (const id of store.vouchers.keys()) {
      try {
        await hub.book(BigInt(id));
      } catch (err) {
        options.log.warn(`hub: channel ${id} not reloaded yet: ${(err as Error).message}`);
      }
    }
    options.log.info(
      `hub ${hub.address}: ${store.vouchers.size} channels with vouchers, ${store.readings.size} readings queued`,
    );
    return hub;
  }

  // ------------------------------------------------------------------------------------------
  // Chain reads (cached)

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isRevert(err)) throw err;
      throw new ChainUnavailable(
        `${what}: the JSON-RPC node does not answer (${(err as Error).message.split('\n')[0]})`,
      );
    }
  }

  /** The registered key and active flag of a serial, cached for deviceCacheSeconds. */
  async device(serial: string): Promise<DeviceEntry> {
    const cached = this.devices.get(serial);
    const now = this.now();
    if (cached && now - cached.fetchedAtS < this.options.deviceCacheSeconds) return cached;
    let core;
    try {
      core = await this.call('registry', () => this.registry.deviceCore(deviceIdFromSerial(serial)));
    } catch (err) {
      // While the node is unreachable the last answer stands (a revocation lands when it is back),
      // so billing of known devices goes on through an outage.
      if (err instanceof ChainUnavailable && cached) return cached;
      throw err;
    }
    const [key, , , activeClaimed] = core;
    const entry: DeviceEntry = {
      key: BigInt(key) === 0n ? null : getAddress(key),
      active: activeClaimed,
      fetchedAtS: now,
    };
    this.devices.set(serial, entry);
    return entry;
  }

  /** The book of a channel: from memory, else read from the chain. */
  async book(channelId: bigint): Promise<ChannelBook> {
    const key = channelId.toString();
    const known = this.books.get(key);
    if (known) return known;
    const [info, isPayee] = await this.call('channels', () =>
      Promise.all([readChannel(this.channels, channelId), this.channels.isPayee(channelId, this.address)]),
    );
    const stored = this.store.vouchers.get(key);
    const book: ChannelBook = this.books.get(key) ?? {
      channelId,
      payer: getAddress(info.payer),
      payerKey: null,
      deposit: info.deposit,
      payeeIsHub: isPayee,
      open: info.open,
      exitAt: Number(info.exitAt),
      held: stored ? { ...stored, cumulativeAmount: BigInt(stored.cumulativeAmount) } : null,
    };
    // Only channels this hub is payee of are worth remembering (unbounded otherwise).
    if (book.open && book.payeeIsHub) this.books.set(key, book);
    return book;
  }

  // ------------------------------------------------------------------------------------------
  // Requests

  /**
   * Attaches to a broker client: answers every device's requests on its ack topic. The client may
   * still be unconnected (`manualConnect`): the handler is in place before the broker delivers what
   * it queued for a persistent session, and the subscription is renewed on every (re)connect.
   */
  async attach(client: MqttClient): Promise<void> {
    this.client = client;
    client.on('message', (topic, payload) => {
      const parsed = parseRequestTopic(topic);
      if (!parsed) return;
      if (this.stopping) return; // not acked: the device resends it to the next hub
      // One lane per serial: a device's requests are judged in the order the broker delivered
      // them (QoS 1 keeps a client's order), so cycle n is never judged after cycle n + 1.
      const { serial } = parsed;
      const before = this.lanes.get(serial);
      const run = () => this.handle(topic, payload);
      const work = (before ? before.then(run) : run())
        .then((ack) => {
          if (ack) this.publishAck(serial, ack);
        })
        .catch((err: Error) => this.options.log.warn(`hub: ${topic}: ${err.message}`));
      this.lanes.set(serial, work);
      this.inflight.add(work);
      void work.finally(() => {
        this.inflight.delete(work);
        if (this.lanes.get(serial) === work) this.lanes.delete(serial);
      });
    });
    const subscribe = () =>
      client.subscribeAsync(
        REQUEST_KINDS.map((k) => hubTopics.requestFilter(k)),
        { qos: 1 },
      );
    client.on('connect', () => {
      noDelay(client);
      subscribe().catch((err: Error) => this.options.log.warn(`hub: subscribe: ${err.message}`));
    });
    if (client.connected) {
      noDelay(client);
      await subscribe();
    }
  }

  /**
   * Connects to the broker at `url` and attaches. A persistent session (`clean: false`, a client id
   * fixed by the hub address) makes the broker keep QoS 1 requests while the hub restarts, so none
   * is lost. `options` carry the broker credentials (username/password) and anything else mqtt.js
   * takes; they override the defaults.
   */
  async connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
    const client = mqtt.connect(url, {
      clientId: `hepek-hub-${this.address.slice(2, 14).toLowerCase()}`,
      clean: false,
      reconnectPeriod: 1000,
      ...options,
      manualConnect: true,
    });
    await this.attach(client);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        client.removeListener('connect', onConnect);
        // Without this mqtt.js schedules a reconnect after end() while the socket is closing.
        client.options.reconnectPeriod = 0;
        client.end(true);
        reject(err);
      };
      const onConnect = () => {
        client.removeListener('error', onError);
        resolve();
      };
      client.once('connect', onConnect);
      client.once('error', onError);
      client.connect();
    });
    this.ownClient = true;
    return client;
  }

  private publishAck(serial: string, ack: Ack): void {
    this.client?.publish(hubTopics.ack(serial), JSON.stringify(ack), { qos: 1 });
  }

  private refuse(serial: string, kind: RequestKind, id: string, code: AckCode, reason: string): Ack {
    this.stats.rejected++;
    this.options.log.warn(`hub: refused ${kind} ${JSON.stringify(id)} from ${serial}: ${code}: ${reason}`);
    return ackError(id, kind, code, reason);
  }

  /** Handles one request message; returns the ack to send (null for a topic that is not a request). */
  async handle(topic: string, payload: Buffer | string): Promise<Ack | null> {
    const parsedTopic = parseRequestTopic(topic);
    if (!parsedTopic) return null;
    const { serial, kind } = parsedTopic;
    try {
      checkSerial(serial);
    } catch (err) {
      // No ack topic can be built for it: log and drop.
      this.options.log.warn(`hub: dropped a ${kind} request: ${(err as Error).message}`);
      return null;
    }
    let raw: unknown;
    let request;
    try {
      raw = decodeJson(payload, kind);
      request = parseRequest(kind, raw);
    } catch (err) {
      return this.refuse(serial, kind, salvageId(raw), 'malformed', (err as Error).message);
    }
    const id = request.message.id;
    try {
      const device = await this.device(serial);
      if (!device.key || !device.active)
        return this.refuse(
          serial,
          kind,
          id,
          'unregistered',
          `serial: ${JSON.stringify(serial)} is not allowed; expected a registered, claimed and active device`,
        );
      switch (request.kind) {
        case 'voucher':
          return await this.onVoucher(serial, device.key, request.message);
        case 'open':
          return await this.onOpen(serial, device.key, request.message);
        case 'topup':
          return await this.onTopUp(serial, device.key, request.message);
        case 'reading':
          return await this.onReading(serial, request.message);
      }
    } catch (err) {
      if (err instanceof ChainUnavailable)
        return this.refuse(serial, kind, id, 'chain-unavailable', err.message);
      this.options.log.warn(`hub: ${kind} ${id} from ${serial} failed: ${(err as Error).message}`);
      return this.refuse(serial, kind, id, 'rejected', (err as Error).message);
    }
  }

  /**
   * The verification of a voucher: the channel's book (from memory, else the chain), then
   * judgeVoucher — signature, channel, deposit and freshness exactly as PaymentChannels.close
   * checks them. Changes nothing but caches (book, payer key).
   */
  private async judge(
    serial: string,
    deviceKey: string,
    msg: VoucherMessage,
  ): Promise<{ book: ChannelBook | null; refusal: Refusal | null }> {
    const key = msg.channelId.toString();
    let book = this.books.get(key) ?? null;
    if (!book && !this.store.closed.has(key)) book = await this.book(msg.channelId);
    // A resend of a request already accepted gets the same answer (ok, with the newest held),
    // even when a newer voucher has superseded it since.
    const resent = this.acceptedIds.get(`${serial} ${msg.id}`) === msg.signature;
    return { book, refusal: resent && book?.open ? null : judgeVoucher(this.verifier, book, deviceKey, msg) };
  }

  /**
   * The hub's whole verification of a voucher request without accepting it: decode, strict parse,
   * the device's registry entry, the channel's book and judgeVoucher. Null when `handle` would
   * accept it, else the refusal. Nothing is written, acked or logged (the benchmark and dry runs).
   */
  async verifyVoucher(serial: string, payload: Buffer | string): Promise<Refusal | null> {
    let msg: VoucherMessage;
    try {
      msg = parseVoucherMessage(decodeJson(payload, 'voucher'));
    } catch (err) {
      return { code: 'malformed', reason: (err as Error).message };
    }
    const device = await this.device(serial);
    if (!device.key || !device.active)
      return { code: 'unregistered', reason: `serial: ${JSON.stringify(serial)} is not allowed` };
    return (await this.judge(serial, device.key, msg)).refusal;
  }

  private async onVoucher(serial: string, deviceKey: string, msg: VoucherMessage): Promise<Ack> {
    const key = msg.channelId.toString();
    const { book, refusal } = await this.judge(serial, deviceKey, msg);
    if (refusal) return this.refuse(serial, 'voucher', msg.id, refusal.code, refusal.reason);
    const b = book!;
    this.rememberAccepted(`${serial} ${msg.id}`, msg.signature);
    if (!b.held || msg.cumulativeAmount > b.held.cumulativeAmount) {
      b.held = {
        cumulativeAmount: msg.cumulativeAmount,
        signature: msg.signature,
        cycle: msg.cycle,
        importWh: msg.importWh,
        tariffId: msg.tariffId,
        id: msg.id,
        serial,
      };
      const write = this.store.saveVoucher({
        ...b.held,
        channelId: key,
        cumulativeAmount: msg.cumulativeAmount.toString(),
      });
      this.durable.set(key, write);
      try {
        await write;
      } finally {
        if (this.durable.get(key) === write) this.durable.delete(key);
      }
    } else {
      // Held already (a resend, or a concurrent older one): ack only once the newest is durable.
      await this.durable.get(key);
    }
    this.stats.accepted++;
    return ackOk(msg.id, 'voucher', {
      channelId: key,
      cumulativeAmount: b.held!.cumulativeAmount.toString(),
    });
  }

  private rememberAccepted(key: string, signature: string): void {
    this.acceptedIds.delete(key);
    this.acceptedIds.set(key, signature);
    if (this.acceptedIds.size > MAX_ACCEPTED_IDS)
      this.acceptedIds.delete(this.acceptedIds.keys().next().value!);
  }

  private async onOpen(serial: string, deviceKey: string, msg: OpenMessage): Promise<Ack> {
    const done = this.store.acks.get(`${serial} ${msg.id}`);
    if (done) return done;
    const { open } = msg;
    if (open.payee !== this.address)
      return this.refuse(
        serial,
        'open',
        msg.id,
        'wrong-channel',
        `open.open.payee: ${open.payee} is not allowed; expected this hub ${this.address}`,
      );
    if (open.payer !== deviceKey)
      return this.refuse(
        serial,
        'open',
        msg.id,
        'wrong-channel',
        `open.open.payer: ${open.payer} is not allowed; expected this device's key ${deviceKey}`,
      );
    const domain = domainOf('channels', this.options.chainId, this.options.contracts.PaymentChannels);
    if (
      BigInt('0x' + msg.signature.slice(66, 130)) >
      0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n
    )
      return this.refuse(
        serial,
        'open',
        msg.id,
        'high-s',
        `open.signature: s = 0x${msg.signature.slice(66, 130)} is not allowed; expected a low-s signature (s ≤ n/2, EIP-2)`,
      );
    let signer: string;
    try {
      signer = recoverAddress(digestOf('Open', domain, open), msg.signature);
    } catch {
      signer = '0x0000000000000000000000000000000000000000';
    }
    if (signer !== open.payer)
      return this.refuse(
        serial,
        'open',
        msg.id,
        'wrong-signer',
        `open.signature: recovers ${signer}, which is not allowed; expected a signature by the payer ${open.payer}`,
      );
    return this.relay(serial, 'open', msg);
  }

  private async onTopUp(serial: string, deviceKey: string, msg: TopUpMessage): Promise<Ack> {
    const done = this.store.acks.get(`${serial} ${msg.id}`);
    if (done) return done;
    const book = await this.book(msg.channelId);
    if (!book.open)
      return this.refuse(
        serial,
        'topup',
        msg.id,
        'unknown-channel',
        `topup.channelId: ${msg.channelId} is not allowed; expected the id of an open channel`,
      );
    if (!book.payeeIsHub || book.payer !== deviceKey)
      return this.refuse(
        serial,
        'topup',
        msg.id,
        'wrong-channel',
        `topup.channelId: ${msg.channelId} is not allowed; expected a channel of this device with this hub as payee`,
      );
    return this.relay(serial, 'topup', msg);
  }

  /** Sends an open or top-up; while the node is unreachable it waits in the queue for tick(). */
  private async relay(serial: string, kind: 'open' | 'topup', msg: OpenMessage | TopUpMessage): Promise<Ack> {
    const key = `${serial} ${msg.id}`;
    let ack: Ack;
    try {
      ack = await this.send(kind, msg);
    } catch (err) {
      if (!(err instanceof ChainUnavailable)) throw err;
      this.relayQueue.set(key, { serial, kind, msg });
      return this.refuse(
        serial,
        kind,
        msg.id,
        'chain-unavailable',
        `${err.message}; queued, the hub relays it when the node answers and acks again`,
      );
    }
    this.relayQueue.delete(key);
    await this.store.saveAck(serial, ack);
    return ack;
  }

  private async send(kind: 'open' | 'topup', msg: OpenMessage | TopUpMessage): Promise<Ack> {
    let tx: ContractTransactionResponse;
    try {
      if (kind === 'open') {
        const m = msg as OpenMessage;
        const sig = compact(m.signature);
        tx = await this.channels.open(m.open, sig.r, sig.vs, m.permit);
      } else {
        const m = msg as TopUpMessage;
        tx = await this.channels.topUp(m.channelId, m.amount, m.permit);
      }
      await this.call('relay', async () => {
        await tx.wait();
      });
    } catch (err) {
      if (err instanceof ChainUnavailable) throw err;
      if (!isRevert(err)) throw new ChainUnavailable(`relay: ${(err as Error).message.split('\n')[0]}`);
      return ackError(
        msg.id,
        kind,
        'rejected',
        `${kind}: the chain refused it: ${revertReason(this.channels, err)}`,
      );
    }
    if (kind === 'open') {
      const m = msg as OpenMessage;
      const channelId = (BigInt(m.open.payer) << 96n) | m.open.nonce;
      this.books.delete(channelId.toString());
      await this.book(channelId).catch(() => undefined);
      this.stats.relayedOpens++;
      return ackOk(msg.id, 'open', { channelId: channelId.toString(), txHash: tx.hash });
    }
    const m = msg as TopUpMessage;
    const book = this.books.get(m.channelId.toString());
    if (book) book.deposit += m.amount;
    return ackOk(msg.id, 'topup', {
      channelId: m.channelId.toString(),
      deposit: (book?.deposit ?? m.amount).toString(),
      txHash: tx.hash,
    });
  }

  private async onReading(serial: string, msg: ReadingMessage): Promise<Ack> {
    const key = `${serial} ${msg.id}`;
    const done = this.store.acks.get(key);
    if (done) return done;
    const seq = Number(msg.reading.seq);
    if (msg.reading.deviceId !== deviceIdFromSerial(serial).toLowerCase())
      return this.refuse(
        serial,
        'reading',
        msg.id,
        'wrong-channel',
        `reading.reading.deviceId: ${msg.reading.deviceId} is not allowed; expected this serial's device id ${deviceIdFromSerial(serial)}`,
      );
    if (!this.readings)
      return this.refuse(
        serial,
        'reading',
        msg.id,
        'rejected',
        'reading: this deployment has no MeterReadings contract',
      );
    if (!this.store.readings.has(key))
      await this.store.queueReading({ serial, id: msg.id, message: encodeReadingMessage(msg) });
    return ackOk(msg.id, 'reading', { seq, status: 'queued' });
  }

  // ------------------------------------------------------------------------------------------
  // Periodic work

  /** Starts the periodic tick (events, exits, closes, readings, queued relays). */
  start(tickMs: number): void {
    this.timer = setInterval(() => void this.tick(), tickMs);
    this.timer.unref?.();
  }

  /** One round of periodic work; concurrent calls share the round in flight. */
  tick(): Promise<void> {
    this.ticking ??= this.round().finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async round(): Promise<void> {
    const steps: Array<[string, () => Promise<void>]> = [
      ['events', () => this.pollEvents()],
      ['relays', () => this.retryRelays()],
      ['closes', () => this.closeDue()],
      ['readings', () => this.flushReadings()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        // One subsystem's failure (an unreachable node) is logged; the next tick tries again.
        this.options.log.warn(`hub: ${name}: ${(err as Error).message}`);
      }
    }
  }

  private async pollEvents(): Promise<void> {
    const latest = await this.call('events', () => this.options.provider.getBlockNumber());
    if (this.lastBlock < 0) this.lastBlock = latest;
    if (latest <= this.lastBlock) return;
    const logs = await this.call('events', () =>
      this.options.provider.getLogs({
        address: this.options.contracts.PaymentChannels,
        fromBlock: this.lastBlock + 1,
        toBlock: latest,
      }),
    );
    for (const log of logs) {
      const parsed = this.channels.interface.parseLog(log);
      if (!parsed) continue;
      const channelId = parsed.args.channelId as bigint;
      const book = this.books.get(channelId.toString());
      switch (parsed.name) {
        case 'ChannelOpened':
          if (getAddress(parsed.args.payee as string) === this.address) {
            this.books.delete(channelId.toString());
            await this.book(channelId);
          }
          break;
        case 'ChannelToppedUp':
          if (book) book.deposit = parsed.args.deposit as bigint;
          break;
        case 'ExitStarted':
          if (book) {
            book.exitAt = Number(parsed.args.exitAt);
            this.options.log.info(
              `hub: channel ${channelId} exit started, matures at ${book.exitAt}; closing with the newest voucher`,
            );
          }
          break;
        case 'ChannelClosed':
        case 'ChannelWithdrawn':
          if (book) {
            book.open = false;
            this.books.delete(channelId.toString());
            if (this.store.vouchers.has(channelId.toString())) await this.store.markClosed(channelId);
          }
          break;
      }
    }
    this.lastBlock = latest;
  }

  private async retryRelays(): Promise<void> {
    for (const [key, { serial, kind, msg }] of [...this.relayQueue]) {
      const ack = await this.relay(serial, kind, msg);
      if (ack.ok || ack.code !== 'chain-unavailable') this.publishAck(serial, ack);
      if (this.relayQueue.has(key)) return; // still unreachable: try again next tick
    }
  }

  /** Channels to close now: exiting ones, nearly spent ones, and every one on the schedule. */
  private dueChannels(): ChannelBook[] {
    const now = this.now();
    const scheduled =
      this.options.closeIntervalSeconds > 0 &&
      now - this.lastScheduledClose >= this.options.closeIntervalSeconds;
    if (scheduled) this.lastScheduledClose = now;
    const due: ChannelBook[] = [];
    for (const book of this.books.values()) {
      if (!book.held || book.held.cumulativeAmount === 0n || !book.open) continue;
      const spent =
        this.options.closeSpentPercent > 0 &&
        book.held.cumulativeAmount * 100n >= book.deposit * BigInt(this.options.closeSpentPercent);
      const exiting = book.exitAt > 0 && now < book.exitAt;
      if (exiting || spent || scheduled) due.push(book);
    }
    return due;
  }

  private async closeDue(): Promise<void> {
    for (const book of this.dueChannels()) await this.close(book.channelId);
  }

  /** Closes a channel with the newest voucher held: payee gets it, the payer the rest. */
  async close(channelId: bigint): Promise<string | null> {
    const key = channelId.toString();
    const book = this.books.get(key);
    if (!book?.held || this.closing.has(key)) return null;
    this.closing.add(key);
    try {
      const { r, vs } = compact(book.held.signature);
      let hash: string;
      try {
        const tx = await this.channels.close(channelId, book.held.cumulativeAmount, r, vs);
        hash = tx.hash;
        await tx.wait();
      } catch (err) {
        if (!isRevert(err))
          throw new ChainUnavailable(`close ${key}: ${(err as Error).message.split('\n')[0]}`);
        this.options.log.warn(`hub: close ${key} refused: ${revertReason(this.channels, err)}`);
        // The chain knows better than the book: reread it next time.
        this.books.delete(key);
        return null;
      }
      book.open = false;
      this.books.delete(key);
      await this.store.markClosed(channelId);
      this.stats.closed++;
      this.options.log.info(`hub: closed channel ${key} with ${book.held.cumulativeAmount} wei (tx ${hash})`);
      return hash;
    } finally {
      this.closing.delete(key);
    }
  }

  /** Submits queued readings in batches and acks each with accepted or rejected. */
  private async flushReadings(): Promise<void> {
    if (!this.readings || this.store.readings.size === 0) return;
    const queued = [...this.store.readings.values()].slice(0, this.options.readingBatchSize);
    const entries = queued.map((q) => ({ q, msg: parseReadingMessage(q.message) }));
    const signed = entries.map(({ msg }) => ({ ...msg.reading, ...compact(msg.signature) }));
    const address = await this.readings.getAddress();
    let receipt;
    try {
      const tx = await this.readings.submitReadings(signed);
      receipt = await tx.wait();
    } catch (err) {
      if (isRevert(err)) {
        this.options.log.warn(`hub: reading batch refused whole: ${revertReason(this.readings, err)}`);
        for (const { q, msg } of entries)
          await this.settleReading(
            q.serial,
            ackOk(q.id, 'reading', {
              seq: Number(msg.reading.seq),
              status: 'rejected',
              reason: revertReason(this.readings, err),
            }),
          );
        return;
      }
      throw new ChainUnavailable(`readings: ${(err as Error).message.split('\n')[0]}`);
    }
    const results = batchEntryResults(receipt!, address);
    if (results.length !== entries.length)
      throw new Error(
        `readings: the batch of ${entries.length} produced ${results.length} reading events; expected one per entry`,
      );
    for (const [i, { q, msg }] of entries.entries()) {
      const reason = results[i]!.reason;
      const seq = Number(msg.reading.seq);
      await this.settleReading(
        q.serial,
        ackOk(q.id, 'reading', reason ? { seq, status: 'rejected', reason } : { seq, status: 'accepted' }),
      );
    }
    this.stats.relayedReadings += entries.length;
  }

  private async settleReading(serial: string, ack: Ack): Promise<void> {
    await this.store.settleReading(serial, ack);
    this.publishAck(serial, ack);
  }

  // ------------------------------------------------------------------------------------------
  // Broadcasts

  /** Signs a DEMAND event with the hub key and publishes it retained on its region's topic. */
  async publishDemand(event: DemandEvent): Promise<object> {
    const signed = await signDemand(this.options.wallet, this.domain, event);
    await this.client?.publishAsync(hubTopics.demand(event.region), JSON.stringify(signed), {
      qos: 1,
      retain: true,
    });
    return signed;
  }

  /** Clears the retained DEMAND event of a region. */
  async clearDemand(region: string): Promise<void> {
    await this.client?.publishAsync(hubTopics.demand(region), '', { qos: 1, retain: true });
  }

  /** Signs a tariff with the hub key and publishes it retained on its region's topic. */
  async publishTariff(tariff: Tariff): Promise<object> {
    const signed = encodeSignedTariff(await signTariff(this.options.wallet, this.domain, tariff));
    await this.client?.publishAsync(hubTopics.tariff(tariff.region), JSON.stringify(signed), {
      qos: 1,
      retain: true,
    });
    return signed;
  }

  /** What /hepek/status and the CLI report about the hub. */
  status(): Record<string, unknown> {
    return {
      address: this.address,
      region: this.options.region,
      broker: { connected: this.client?.connected ?? false },
      channels: this.books.size,
      vouchersHeld: this.store.vouchers.size,
      readingsQueued: this.store.readings.size,
      relaysQueued: this.relayQueue.size,
      ...this.stats,
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    await Promise.all([...this.inflight]);
    if (this.client && this.ownClient) await this.client.endAsync();
    this.client = null;
    await this.store.close();
  }
}
