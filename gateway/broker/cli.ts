/**
 * `hepek broker-credentials (--device SERIAL | --service hub|gateway) [--json]`: the MQTT login the
 * operator gives a HEPEK at provisioning (or the hub, or a tool of its own), derived from the broker
 * secret (`$<broker.secretEnv>` or `<userDir>/keys/broker-secret`). The same logins work on the
 * embedded broker and, with `mosquitto_passwd`, on a mosquitto (gateway/broker/README.md).
 */
import type { Settings } from '../../settings';
import { ConfigError } from '../errors';
import { brokerCredentialsFor, type BrokerService } from './auth';
import { loadOrCreateBrokerSecret } from './secret';

const SERVICES: BrokerService[] = ['hub', 'gateway'];
const SERIAL = /^[A-Za-z0-9._-]{3,64}$/;

export function brokerCredentialsCommand(settings: Settings, flags: Map<string, string>): string {
  const device = flags.get('--device');
  const service = flags.get('--service');
  if ((device === undefined) === (service === undefined))
    throw new ConfigError(
      device === undefined ? '--device' : '--service',
      device === undefined ? null : service,
      'exactly one of --device SERIAL or --service hub|gateway',
    );
  if (device !== undefined && !SERIAL.test(device))
    throw new ConfigError('--device', device, 'a device serial: 3–64 letters, digits, ".", "_" or "-"');
  if (service !== undefined && !SERVICES.includes(service as BrokerService))
    throw new ConfigError('--service', service, `one of ${SERVICES.join(', ')}`);
  const secret = loadOrCreateBrokerSecret(settings.userDir, settings.broker.secretEnv);
  const login = brokerCredentialsFor(
    secret,
    device !== undefined ? { device } : { service: service as BrokerService },
  );
  if (flags.has('--json')) return `${JSON.stringify(login)}\n`;
  return `  username  ${login.username}\n  password  ${login.password}\n`;
}
