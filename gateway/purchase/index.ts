/**
 * Purchases as the runtime (and the standalone hub) start them: the webhook is served only where
 * the operator key is at hand — the dev operator on a chain this gateway deployed, or the key in
 * `$HEPEK_OPERATOR_KEY` (`purchases.operatorKeyEnv`). Elsewhere the operator's hub runs it.
 */
import path from 'node:path';
import { Wallet, parseUnits, type AbstractProvider } from 'ethers';
import type { Settings } from '../../settings';
import { ConfigError } from '../errors';
import type { RawRoute } from '../nodered/embedded';
import { createChainMinter } from './minter';
import { loadWebhookSecrets } from './secrets';
import { PurchaseWebhook } from './webhook';

export { PurchaseWebhook, PURCHASE_WEBHOOK_PATH, type WebhookAnswer, type PurchaseRecord } from './webhook';
export { createChainMinter, type PurchaseChain, type Redemption } from './minter';
export { parsePaymentEvent, paymentIdOf, PAYMENT_SUCCEEDED, type PaymentEvent } from './payload';
export { signatureHeader, verifySignature, computeSignature, SIGNATURE_HEADER } from './signature';
export { loadWebhookSecrets } from './secrets';

export interface PurchaseChainInfo {
  provider: AbstractProvider;
  chainId: number;
  label: string;
  registry: string;
  purchase: string | undefined;
}

/** The operator key for receipts, or null (with the reason) when this gateway does not hold one. */
export function operatorKey(
  settings: Settings,
  provider: AbstractProvider,
  devOperator: Wallet | null,
  env: NodeJS.ProcessEnv = process.env,
): Wallet | null {
  const key = env[settings.purchases.operatorKeyEnv];
  if (key !== undefined && key !== '') {
    try {
      return new Wallet(key, provider);
    } catch (err) {
      throw new ConfigError(
        `$${settings.purchases.operatorKeyEnv}`,
        '(hidden)',
        'a 0x-prefixed 32-byte hex private key',
        {
          cause: err,
        },
      );
    }
  }
  return devOperator ? devOperator.connect(provider) : null;
}

/** Opens the webhook and its journal in `<userDir>/purchases/`; returns null when purchases are off here. */
export async function startPurchases(
  settings: Settings,
  chain: PurchaseChainInfo,
  devOperator: Wallet | null,
  log: { info(line: string): void; warn(line: string): void },
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ webhook: PurchaseWebhook; route: RawRoute } | null> {
  if (!settings.purchases.enabled) return null;
  if (!chain.purchase) {
    log.info('purchases: no Purchase contract in this deployment; webhook off');
    return null;
  }
  const operator = operatorKey(settings, chain.provider, devOperator, env);
  if (!operator) {
    log.info(
      `purchases: this gateway does not hold the operator key ($${settings.purchases.operatorKeyEnv} unset, deployment not ours); webhook off`,
    );
    return null;
  }
  const { secrets, from } = loadWebhookSecrets({
    env,
    envName: settings.purchases.webhookSecretEnv,
    file: settings.purchases.webhookSecretFile,
    userDir: settings.userDir,
    log: log.info,
  });
  const webhook = await PurchaseWebhook.open({
    secrets,
    journalDir: path.join(settings.userDir, 'purchases'),
    chain: createChainMinter({
      chainId: chain.chainId,
      registry: chain.registry,
      purchase: chain.purchase,
      operator,
      chainLabel: chain.label,
    }),
    maxWei: parseUnits(String(settings.purchases.maxErgon), 18),
    toleranceSeconds: settings.purchases.toleranceSeconds,
    log,
  });
  const stats = webhook.stats();
  log.info(
    `purchases: webhook at ${webhook.path} (secret from ${from}, operator ${operator.address}); ${stats.minted} minted, ${stats.pending} pending`,
  );
  return { webhook, route: { path: webhook.path, handle: (req, res) => webhook.handle(req, res) } };
}
