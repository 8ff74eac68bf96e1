/**
 * The operator's broker secret: `$HEPEK_BROKER_SECRET` (the name is `broker.secretEnv`), else
 * `<userDir>/keys/broker-secret`, created once (random, mode 0600). Device passwords are HMACs
 * under it (auth.ts), so whoever holds it can log in as any device: keep it with the operator.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export function loadOrCreateBrokerSecret(
  userDir: string,
  envName: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const fromEnv = env[envName];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const file = path.join(userDir, 'keys', 'broker-secret');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}
