/**
 * The payment provider's webhook: a signed `payment.succeeded` event becomes an operator-signed
 * Purchase receipt and the ERGON are minted to the member's HEPEK wallet — exactly once per
 * payment id, across retries, concurrent deliveries and restarts.
 *
 *   POST /hepek/purchases/webhook          (PURCHASE_WEBHOOK_PATH; body: payload.ts)
 *   Hepek-Signature: t=<unix s>,v1=<hex>   (signature.ts)
 *
 * Answers (JSON):
 *   200 {id, status: "minted", paymentId, wallet, deviceId, amountWei, currency, txHash, blockNumber}
 *       — also for a replay of the same id (header `Hepek-Replay: true`), which mints nothing
 *   400 {error, field}   the body is refused: the message names the field, the value and what is allowed
 *   401 {error}          missing, malformed or forged signature, or t outside the tolerance (named)
 *   409 {error, field}   the id was received before with another wallet, amount or currency
 *   413 {error}          body over 64 KiB
 *   500 {error}          the contract refused the receipt (e.g. the operator key lost OPERATOR_ROLE)
 *   503 {error}          the chain does not answer; `Retry-After` is set and the provider retries
 *
 * **Durability.** Before the redeem transaction is sent, the signed receipt is appended to the
 * purchase journal (gateway/store/journal.ts: fdatasync before append resolves); after it is mined,
 * a `minted` record follows. At start the journal is read back: a minted id is answered from it, a
 * receipt without `minted` (an outage or a crash mid-way) is redeemed on the next delivery of its
 * id — with the same signature; the contract's own once-per-payment-id check and the lookup of an
 * earlier `ReceiptRedeemed` event make a second mint impossible even then.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StateError, DeviceUnavailableError, InputError } from '../errors';
import { Journal } from '../store/journal';
import type { PurchaseChain } from './minter';
import { parsePaymentEvent, paymentIdOf, type PaymentEvent } from './payload';
import { DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER, SignatureError, verifySignature } from './signature';

export const PURCHASE_WEBHOOK_PATH = '/hepek/purchases/webhook';
export const MAX_BODY_BYTES = 64 * 1024;
/** Seconds a provider is asked to wait before retrying after a 503. */
export const RETRY_AFTER_SECONDS = 30;

/** What the journal holds per payment. */
export type PurchaseRecord =
  | {
      kind: 'receipt';
      id: string;
      paymentId: string;
      wallet: string;
      deviceId: string;
      amountWei: string;
      currency: string;
      signature: string;
      receivedAt: number;
    }
  | { kind: 'minted'; id: string; txHash: string; blockNumber: number };

export interface WebhookAnswer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export interface PurchaseWebhookOptions {
  /** The webhook secrets in force (several while one is rotated). Never logged. */
  secrets: readonly string[];
  /** The purchase journal's folder. */
  journalDir: string;
  chain: PurchaseChain;
  /** Cap per payment, ERGON base units. */
  maxWei: bigint;
  toleranceSeconds?: number;
  /** The clock, ms since the epoch (injected by tests). */
  now?: () => number;
  log?: { info(line: string): void; warn(line: string): void };
}

export interface PurchaseStats {
  minted: number;
  pending: number;
  replays: number;
  refused: number;
}

interface Entry {
  receipt: Extract<PurchaseRecord, { kind: 'receipt' }>;
  minted: Extract<PurchaseRecord, { kind: 'minted' }> | null;
}

function answer(
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): WebhookAnswer {
  return { status, headers, body };
}

export class PurchaseWebhook {
  readonly path = PURCHASE_WEBHOOK_PATH;
  private readonly entries = new Map<string, Entry>();
  /** Deliveries of the same id run one after another (the provider may send two at once). */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly counts = { replays: 0, refused: 0 };
  private readonly now: () => number;
  private readonly log: { info(line: string): void; warn(line: string): void };

  private constructor(
    private readonly options: PurchaseWebhookOptions,
    private readonly journal: Journal<PurchaseRecord>,
  ) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? { info: () => {}, warn: () => {} };
  }

  static async open(options: PurchaseWebhookOptions): Promise<PurchaseWebhook> {
    if (options.secrets.length === 0)
      throw new StateError(
        options.journalDir,
        'the purchase webhook has no secret; refusing to accept unsigned payments',
      );
    // Every record is kept: idempotency needs every payment id ever seen (a few hundred bytes each).
    const journal = await Journal.open<PurchaseRecord>({
      dir: options.journalDir,
      retainBytes: Number.MAX_SAFE_INTEGER,
      maxBytes: Number.MAX_SAFE_INTEGER,
      cacheRecords: 1,
      log: options.log?.warn,
    });
    const hook = new PurchaseWebhook(options, journal);
    for (let from = 1; from <= journal.lastSeq;) {
      const batch = await journal.read(from, 1000);
      if (batch.length === 0) break;
      for (const { data } of batch) {
        if (data.kind === 'receipt') hook.entries.set(data.id, { receipt: data, minted: null });
        else {
          const entry = hook.entries.get(data.id);
          if (!entry)
            throw new StateError(options.journalDir, `minted record for ${data.id} without its receipt`);
          entry.minted = data;
        }
      }
      from = batch.at(-1)!.seq + 1;
    }
    return hook;
  }

  stats(): PurchaseStats {
    let minted = 0;
    for (const e of this.entries.values()) if (e.minted) minted++;
    return { minted, pending: this.entries.size - minted, ...this.counts };
  }

  /** The journaled state of a provider payment id, or null. */
  lookup(id: string): { receipt: Entry['receipt']; minted: Entry['minted'] } | null {
    const e = this.entries.get(id);
    return e ? { receipt: e.receipt, minted: e.minted } : null;
  }

  /** Handles one delivery: the raw body exactly as received and the request headers. */
  async receive(
    headers: Record<string, string | string[] | undefined>,
    rawBody: Buffer,
  ): Promise<WebhookAnswer> {
    const header = headers[SIGNATURE_HEADER.toLowerCase()] ?? headers[SIGNATURE_HEADER];
    try {
      verifySignature(
        header,
        rawBody,
        this.options.secrets,
        Math.floor(this.now() / 1000),
        this.options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS,
      );
    } catch (err) {
      if (!(err instanceof SignatureError)) throw err;
      this.counts.refused++;
      this.log.warn(`purchases: refused a webhook (${err.kind}): ${err.reason}`);
      return answer(401, { error: err.reason });
    }
    let event: PaymentEvent;
    try {
      event = parsePaymentEvent(rawBody, this.options.maxWei);
    } catch (err) {
      return this.refuse(err);
    }
    const previous = this.queues.get(event.id) ?? Promise.resolve();
    const run = previous.then(
      () => this.process(event),
      () => this.process(event),
    );
    this.queues.set(event.id, run);
    try {
      return await run;
    } finally {
      if (this.queues.get(event.id) === run) this.queues.delete(event.id);
    }
  }

  private refuse(err: unknown): WebhookAnswer {
    if (err instanceof InputError) {
      this.counts.refused++;
      this.log.warn(`purchases: refused a payment: ${err.message}`);
      return answer(400, { error: err.message, field: err.field });
    }
    if (err instanceof DeviceUnavailableError) {
      this.log.warn(`purchases: ${err.message}; the provider will retry`);
      return answer(503, { error: err.message }, { 'retry-after': String(RETRY_AFTER_SECONDS) });
    }
    this.log.warn(`purchases: ${(err as Error).message}`);
    return answer(500, { error: (err as Error).message });
  }

  private result(entry: Entry): Record<string, unknown> {
    const r = entry.receipt;
    return {
      id: r.id,
      status: 'minted',
      paymentId: r.paymentId,
      wallet: r.wallet,
      deviceId: r.deviceId,
      amountWei: r.amountWei,
      currency: r.currency,
      txHash: entry.minted!.txHash,
      blockNumber: entry.minted!.blockNumber,
    };
  }

  private async process(event: PaymentEvent): Promise<WebhookAnswer> {
    let entry = this.entries.get(event.id);
    if (entry) {
      const r = entry.receipt;
      const conflict =
        r.amountWei !== event.amountWei.toString()
          ? ['amountWei', event.amountWei.toString(), r.amountWei]
          : r.currency !== event.currency
            ? ['currency', event.currency, r.currency]
            : event.wallet !== null && event.wallet !== r.wallet
              ? ['wallet', event.wallet, r.wallet]
              : null;
      if (conflict) {
        this.counts.refused++;
        const message = `${conflict[0]}: ${JSON.stringify(conflict[1])} differs from the first delivery of payment ${event.id} (${JSON.stringify(conflict[2])}); a payment id is minted once, with its first content`;
        this.log.warn(`purchases: refused a payment: ${message}`);
        return answer(409, { error: message, field: conflict[0] });
      }
      if (entry.minted) {
        this.counts.replays++;
        this.log.info(
          `purchases: payment ${event.id} was minted before (${entry.minted.txHash}); nothing minted`,
        );
        return answer(200, this.result(entry), { 'hepek-replay': 'true' });
      }
    } else {
      let target;
      let signature: string;
      const paymentId = paymentIdOf(event.id);
      try {
        target = await this.options.chain.resolve(event);
        signature = await this.options.chain.sign({
          paymentId,
          hepekWallet: target.wallet,
          amount: event.amountWei,
        });
      } catch (err) {
        return this.refuse(err);
      }
      const receipt: Entry['receipt'] = {
        kind: 'receipt',
        id: event.id,
        paymentId,
        wallet: target.wallet,
        deviceId: target.deviceId,
        amountWei: event.amountWei.toString(),
        currency: event.currency,
        signature,
        receivedAt: Math.floor(this.now() / 1000),
      };
      try {
        await this.journal.append(receipt);
      } catch (err) {
        this.log.warn(`purchases: cannot journal payment ${event.id}: ${(err as Error).message}`);
        return answer(
          503,
          { error: `purchase journal: ${(err as Error).message}` },
          { 'retry-after': String(RETRY_AFTER_SECONDS) },
        );
      }
      entry = { receipt, minted: null };
      this.entries.set(event.id, entry);
    }
    const r = entry.receipt;
    let redemption;
    try {
      redemption = await this.options.chain.redeem(
        { paymentId: r.paymentId, hepekWallet: r.wallet, amount: BigInt(r.amountWei) },
        r.signature,
      );
    } catch (err) {
      return this.refuse(err);
    }
    const minted: Entry['minted'] = { kind: 'minted', id: r.id, ...redemption };
    try {
      await this.journal.append(minted!);
    } catch (err) {
      // Minted but not journaled: the next delivery finds the ReceiptRedeemed event and records it.
      this.log.warn(`purchases: minted ${r.id} but cannot journal it: ${(err as Error).message}`);
      return answer(
        503,
        { error: `purchase journal: ${(err as Error).message}` },
        { 'retry-after': String(RETRY_AFTER_SECONDS) },
      );
    }
    entry.minted = minted;
    this.log.info(
      `purchases: payment ${r.id} minted ${r.amountWei} base units to ${r.wallet} (${redemption.txHash})`,
    );
    return answer(200, this.result(entry));
  }

  /** A node:http handler: reads the raw body (≤ 64 KiB) and answers with receive()'s result. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (a: WebhookAnswer) => {
      res.statusCode = a.status;
      res.setHeader('content-type', 'application/json');
      res.setHeader('cache-control', 'no-store');
      for (const [k, v] of Object.entries(a.headers)) res.setHeader(k, v);
      res.end(`${JSON.stringify(a.body)}\n`);
    };
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return send(answer(405, { error: `method ${req.method}: only POST is allowed` }));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    }
    if (tooLarge)
      return send(
        answer(413, { error: `body: ${size} bytes is not allowed; expected at most ${MAX_BODY_BYTES}` }),
      );
    try {
      send(await this.receive(req.headers, Buffer.concat(chunks)));
    } catch (err) {
      send(answer(500, { error: (err as Error).message }));
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
    await this.journal.close();
  }
}
