/**
 * `hepek ha-credentials [--json]`: the username and password Home Assistant's MQTT integration
 * logs in to the gateway's embedded broker with. Creates them on first use, so it works before the
 * first `hepek start`.
 */
import type { Settings } from '../../../settings';
import { ConfigError } from '../../errors';
import { loadOrCreateHaCredentials } from './credentials';

export function haCredentials(settings: Settings, json: boolean): string {
  if (settings.broker.url !== null)
    throw new ConfigError(
      'broker.url',
      settings.broker.url,
      'null (the embedded broker) for hepek ha-credentials; with an external broker, create the Home Assistant account on that broker',
    );
  if (!settings.integrations.homeAssistant.enabled)
    throw new ConfigError(
      'integrations.homeAssistant.enabled',
      false,
      'true for hepek ha-credentials (the broker has no Home Assistant account while it is off)',
    );
  const { username, password } = loadOrCreateHaCredentials(settings.userDir);
  if (json) return `${JSON.stringify({ username, password })}\n`;
  return (
    `Home Assistant ▸ Settings ▸ Devices & services ▸ MQTT, broker mqtt://${settings.broker.host}:${settings.broker.port}\n` +
    `  username  ${username}\n  password  ${password}\n`
  );
}
