/**
 * Where the webhook secret comes from, first match wins:
 *   1. the environment variable named by `purchases.webhookSecretEnv` (default HEPEK_PURCHASE_WEBHOOK_SECRET),
 *   2. the file `purchases.webhookSecretFile`,
 *   3. `<userDir>/keys/purchase-webhook-secret`, created once with a random secret (mode 0600).
 * A variable or file may hold several secrets (one per line, or comma-separated) while a secret is
 * rotated; a request signed with any of them is accepted. Secrets are never logged.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors';

export const MIN_SECRET_LENGTH = 16;

export function defaultSecretFile(userDir: string): string {
  return path.join(userDir, 'keys', 'purchase-webhook-secret');
}

function split(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0 && !s.startsWith('#'));
}

function checked(field: string, secrets: string[]): string[] {
  if (secrets.length === 0) throw new ConfigError(field, '(empty)', 'at least one webhook secret');
  for (const s of secrets)
    if (s.length < MIN_SECRET_LENGTH)
      // The value is a secret: name its length, never the value.
      throw new ConfigError(
        field,
        `(a secret of ${s.length} characters)`,
        `secrets of at least ${MIN_SECRET_LENGTH} characters`,
      );
  return secrets;
}

export interface SecretSource {
  env: NodeJS.ProcessEnv;
  envName: string;
  file: string | null;
  userDir: string;
  log?: (line: string) => void;
}

/** The secrets in force and where they came from (for the log: the source, never the value). */
export function loadWebhookSecrets(source: SecretSource): { secrets: string[]; from: string } {
  const fromEnv = source.env[source.envName];
  if (fromEnv !== undefined && fromEnv !== '')
    return { secrets: checked(`$${source.envName}`, split(fromEnv)), from: `$${source.envName}` };
  if (source.file !== null) {
    let text: string;
    try {
      text = readFileSync(source.file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        'purchases.webhookSecretFile',
        source.file,
        'a readable file holding the webhook secret',
        {
          cause: err,
        },
      );
    }
    return { secrets: checked('purchases.webhookSecretFile', split(text)), from: source.file };
  }
  const file = defaultSecretFile(source.userDir);
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    source.log?.(
      `purchases: created a webhook secret in ${file}; give it to the payment provider (or set $${source.envName})`,
    );
  }
  return { secrets: checked(file, split(readFileSync(file, 'utf8'))), from: file };
}
