/**
 * The demo payment provider of the embedded dev chain: what a card or direct-debit provider does
 * after a member paid — it signs a `payment.succeeded` event with the webhook secret and delivers
 * it to the webhook — done in-process, so the DApp's "Buy ERGON" runs the real purchase path
 * (signature, journal, Purchase receipt, mint) without a provider account. Never offered on a real
 * chain: there the DApp opens `purchases.checkoutUrl` and the provider calls the webhook itself.
 */
import { randomUUID } from 'node:crypto';
import { InputError } from '../errors';
import { PAYMENT_SUCCEEDED } from './payload';
import { SIGNATURE_HEADER, signatureHeader } from './signature';
import type { PurchaseWebhook, WebhookAnswer } from './webhook';

export interface DemoPurchase {
  /** ERGON as a decimal string, as a member types it (or `amountWei`, base units). */
  amountErgon?: string;
  /** ERGON base units, as the payer's automatic purchase computes them. */
  amountWei?: bigint;
  /** The paying member's wallet; the webhook checks it owns the device. */
  member?: string;
}

export interface DemoProvider {
  pay(request: DemoPurchase): Promise<WebhookAnswer>;
}

export function demoPaymentProvider(
  webhook: PurchaseWebhook,
  secret: string,
  serial: string,
  now: () => number = Date.now,
): DemoProvider {
  return {
    pay(request) {
      const wei = request?.amountWei;
      if (wei !== undefined && (typeof wei !== 'bigint' || wei <= 0n))
        throw new InputError('amountWei', wei, 'a bigint of ERGON base units > 0');
      if (wei === undefined && typeof request?.amountErgon !== 'string')
        throw new InputError('amountErgon', request?.amountErgon, 'ERGON as a decimal string, e.g. "25.5"');
      if (request.member !== undefined && typeof request.member !== 'string')
        throw new InputError('member', request.member, 'a 0x wallet address');
      const raw = Buffer.from(
        JSON.stringify({
          id: `demo_${randomUUID()}`,
          type: PAYMENT_SUCCEEDED,
          ...(wei !== undefined ? { amountWei: wei.toString() } : { amountErgon: request.amountErgon }),
          currency: 'EUR',
          deviceSerial: serial,
          ...(request.member !== undefined ? { member: request.member } : {}),
        }),
      );
      const header = signatureHeader(secret, Math.floor(now() / 1000), raw);
      return webhook.receive({ [SIGNATURE_HEADER.toLowerCase()]: header }, raw);
    },
  };
}
