/**
 * The embedded MQTT broker (aedes) on 127.0.0.1:1883 by default. With `auth` every client must log
 * in — as a device (serial + HMAC password), the hub, or a full-access account — and the ACL of
 * auth.ts decides each publish and subscribe; anonymous clients are refused. Without `auth`, the
 * legacy mode: with users configured every client must authenticate (full access); without users it
 * only ever binds to a loopback address (the settings validation refuses anything else).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import type { BrokerUser } from '../../settings';
import { listen } from '../net';
import { authenticate, checkAccess, type BrokerAuthOptions, type Principal } from './auth';

export { brokerCredentialsFor, type BrokerCredentials, type BrokerService } from './auth';

export interface EmbeddedBroker {
  readonly url: string;
  close(): Promise<void>;
}

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  users: BrokerUser[];
  /** Per-device and service accounts with the ACL (auth.ts); `users` is then ignored (pass them as admins). */
  auth?: BrokerAuthOptions;
  log?: (line: string) => void;
}

function digest(text: string | Buffer): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Constant-time check of a username/password pair against the configured users. */
export function checkCredentials(
  users: BrokerUser[],
  username: string | undefined,
  password: Buffer | undefined,
): boolean {
  if (username === undefined || password === undefined) return false;
  const given = digest(password);
  let ok = false;
  for (const user of users) {
    const same = timingSafeEqual(digest(user.password), given);
    if (user.username === username && same) ok = true;
  }
  return ok;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const log = options.log ?? (() => {});
  const { Aedes } = await import('aedes');
  const requireAuth = options.users.length > 0;
  const auth = options.auth;
  const principals = new WeakMap<object, Principal>();
  const refuse = (returnCode: number, message: string) =>
    Object.assign(new Error(message), { returnCode }) as Error & { returnCode: number };
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      if (auth) {
        authenticate(auth, username, password).then(
          (result) => {
            if ('principal' in result) {
              principals.set(client, result.principal);
              return done(null, true);
            }
            log(`broker: refused client ${client?.id ?? '?'}: ${result.refused}`);
            done(refuse(username === undefined ? 5 : 4, result.refused) as Parameters<typeof done>[0], false);
          },
          (err: Error) => {
            log(`broker: cannot check client ${client?.id ?? '?'}: ${err.message}`);
            done(refuse(3, 'server unavailable') as Parameters<typeof done>[0], false);
          },
        );
        return;
      }
      if (!requireAuth || checkCredentials(options.users, username, password)) return done(null, true);
      log(`broker: refused client ${client?.id ?? '?'} (user ${JSON.stringify(username ?? null)})`);
      const err = Object.assign(new Error('bad username or password'), { returnCode: 4 });
      done(err as Parameters<typeof done>[0], false);
    },
    ...(auth
      ? {
          authorizePublish: (client, packet, callback) => {
            // client is null for the broker's own messages (e.g. $SYS).
            const principal = client ? principals.get(client) : { kind: 'admin' as const, name: 'broker' };
            const why = principal ? checkAccess(principal, 'publish', packet.topic) : 'not logged in';
            if (why === null) return callback(null);
            log(`broker: refused publish by ${client?.id ?? '?'}: ${why}`);
            callback(new Error(why));
          },
          authorizeSubscribe: (client, subscription, callback) => {
            const principal = principals.get(client);
            const why = principal ? checkAccess(principal, 'subscribe', subscription.topic) : 'not logged in';
            if (why === null) return callback(null, subscription);
            log(`broker: refused subscribe by ${client?.id ?? '?'}: ${why}`);
            // A null subscription answers SUBACK 0x80 (failure): the client gets nothing on it.
            callback(null, null);
          },
        }
      : {}),
  });
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  try {
    await listen(server, options.host, options.port, 'broker.port');
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw err;
  }
  const url = `mqtt://${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}`;
  return {
    url,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
