/**
 * The broker account Home Assistant's MQTT integration logs in with. Created once per user dir
 * (random password, file mode 0600 in the 0700 keys folder) so `hepek ha-credentials` prints the
 * same pair before and after the gateway starts; the runtime adds it to the embedded broker's users
 * whenever the broker authenticates (settings.broker.users is not empty).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BrokerUser } from '../../../settings';
import { StateError } from '../../errors';

export const HA_USERNAME = 'homeassistant';

export function haCredentialsFile(userDir: string): string {
  return path.join(userDir, 'keys', 'ha-mqtt.json');
}

export function loadOrCreateHaCredentials(userDir: string): BrokerUser {
  const file = haCredentialsFile(userDir);
  if (existsSync(file)) {
    let stored: Partial<BrokerUser>;
    try {
      stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<BrokerUser>;
    } catch (err) {
      throw new StateError(file, 'is not valid JSON; delete it to create new Home Assistant credentials', {
        cause: err,
      });
    }
    if (
      typeof stored.username !== 'string' ||
      typeof stored.password !== 'string' ||
      stored.password.length < 8
    )
      throw new StateError(file, 'does not hold {username, password}; delete it to create new ones');
    return { username: stored.username, password: stored.password };
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const created: BrokerUser = { username: HA_USERNAME, password: randomBytes(18).toString('base64url') };
  writeFileSync(file, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return created;
}
