/**
 * Who may do what on the broker. Three kinds of account:
 *
 * - **device** — username = the device serial, password = base64url(HMAC-SHA256(broker secret,
 *   `hepek-broker-device:<serial>`)). Nothing per device is stored: the operator derives the
 *   password from the serial (`hepek broker-credentials --device SERIAL`) and gives it to the
 *   HEPEK at provisioning; the broker recomputes it. With a registry check configured, the serial
 *   must also be a registered, active device (a revoked device is refused even with the right
 *   password).
 * - **hub** — `hub@hepek`, password = HMAC of `hepek-broker-service:hub`.
 * - **admin** — `gateway@hepek` (HMAC of `hepek-broker-service:gateway`), Home Assistant and every
 *   `broker.users` entry: full access (they are the home's own tools, Tasmota, Shelly).
 *
 * ACL (MQTT wildcards; `<serial>` is the device's own):
 *
 * | account | publish                                                   | subscribe                                                        |
 * | ------- | --------------------------------------------------------- | ---------------------------------------------------------------- |
 * | device  | `hepek/<serial>/#`, `hepek/hub/bids/+`                    | `hepek/<serial>/#`, `hepek/hub/demand/+`, `hepek/hub/tariff/+`   |
 * | hub     | `hepek/+/hub/ack`, `hepek/hub/demand/+`, `hepek/hub/tariff/+` | `hepek/+/hub/#`, `hepek/hub/bids/+`, `hepek/hub/#`            |
 * | admin   | `#`                                                       | `#`                                                              |
 *
 * '@' cannot occur in a serial (identity.serial allows letters, digits, `.`, `_`, `-`), so a
 * service name can never be taken by a device. A subscription filter is allowed only when every
 * topic it can match is allowed (`hepek/+/meter` is refused to a device: it matches others').
 */
import { createHmac, timingSafeEqual, createHash } from 'node:crypto';

export type BrokerService = 'gateway' | 'hub';
export type Principal =
  { kind: 'admin'; name: string } | { kind: 'hub' } | { kind: 'device'; serial: string };

export interface BrokerCredentials {
  username: string;
  password: string;
}

const SERIAL = /^[A-Za-z0-9._-]{3,64}$/;

export function serviceUsername(service: BrokerService): string {
  return `${service}@hepek`;
}

/**
 * The MQTT login of a device (by serial) or a service account, derived from the operator's broker
 * secret. The payer (`gateway/channel/`) and the hub (`gateway/hub/`) call this to connect.
 */
export function brokerCredentialsFor(
  secret: string,
  who: { device: string } | { service: BrokerService },
): BrokerCredentials {
  if ('device' in who) {
    if (!SERIAL.test(who.device))
      throw new Error(`device serial ${JSON.stringify(who.device)} is not a valid serial`);
    return { username: who.device, password: mac(secret, `hepek-broker-device:${who.device}`) };
  }
  return {
    username: serviceUsername(who.service),
    password: mac(secret, `hepek-broker-service:${who.service}`),
  };
}

function mac(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('base64url');
}

function same(a: string | Buffer, b: string | Buffer): boolean {
  // Hash both so the comparison is constant-time whatever the lengths.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** Does the MQTT filter `pattern` match topic-or-filter `topic` for every topic `topic` can stand for? */
export function covers(pattern: string, topic: string): boolean {
  const p = pattern.split('/');
  const t = topic.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '#') return true;
    if (i >= t.length) return false;
    if (t[i] === '#') return false;
    if (p[i] === '+') continue;
    if (t[i] === '+' || p[i] !== t[i]) return false;
  }
  return p.length === t.length;
}

export function aclOf(principal: Principal): { publish: string[]; subscribe: string[] } {
  switch (principal.kind) {
    case 'admin':
      return { publish: ['#'], subscribe: ['#'] };
    case 'hub':
      return {
        publish: ['hepek/+/hub/ack', 'hepek/hub/demand/+', 'hepek/hub/tariff/+'],
        subscribe: ['hepek/+/hub/#', 'hepek/hub/#'],
      };
    case 'device': {
      const own = `hepek/${principal.serial}/#`;
      return {
        publish: [own, 'hepek/hub/bids/+'],
        subscribe: [own, 'hepek/hub/demand/+', 'hepek/hub/tariff/+'],
      };
    }
  }
}

/** null when allowed, else the reason (for the log). */
export function checkAccess(
  principal: Principal,
  action: 'publish' | 'subscribe',
  topic: string,
): string | null {
  const acl = aclOf(principal)[action];
  if (acl.some((pattern) => covers(pattern, topic))) return null;
  const who = principal.kind === 'device' ? `device ${principal.serial}` : principal.kind;
  return `${who} may not ${action} ${JSON.stringify(topic)}; allowed: ${acl.join(', ')}`;
}

export interface BrokerAuthOptions {
  /** The operator's broker secret. */
  secret: string;
  /** Full-access accounts (broker.users, Home Assistant, the gateway's own client). */
  admins: BrokerCredentials[];
  /** Is this serial a registered, active device? Omitted: the HMAC alone admits it. */
  isRegistered?: (serial: string) => Promise<boolean>;
}

/** Resolves a login to its principal, or null (with why) when it is refused. */
export async function authenticate(
  options: BrokerAuthOptions,
  username: string | undefined,
  password: Buffer | undefined,
): Promise<{ principal: Principal } | { refused: string }> {
  if (username === undefined || password === undefined) return { refused: 'anonymous clients are refused' };
  for (const admin of options.admins)
    if (admin.username === username && same(admin.password, password))
      return { principal: { kind: 'admin', name: username } };
  for (const service of ['gateway', 'hub'] as const) {
    const c = brokerCredentialsFor(options.secret, { service });
    if (c.username === username)
      return same(c.password, password)
        ? { principal: service === 'hub' ? { kind: 'hub' } : { kind: 'admin', name: username } }
        : { refused: `wrong password for ${username}` };
  }
  if (!SERIAL.test(username)) return { refused: `unknown user ${JSON.stringify(username)}` };
  if (!same(brokerCredentialsFor(options.secret, { device: username }).password, password))
    return { refused: `wrong password for device ${username}` };
  if (options.isRegistered && !(await options.isRegistered(username)))
    return { refused: `device ${username} is not registered and active in the GatewayRegistry` };
  return { principal: { kind: 'device', serial: username } };
}
