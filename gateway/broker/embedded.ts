/**
 * The embedded MQTT broker (aedes) on 127.0.0.1:1883 by default. With users configured every
 * client must authenticate; without users it only ever binds to a loopback address (the settings
 * validation refuses anything else).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import type { BrokerUser } from '../../settings';
import { listen } from '../net';

export interface EmbeddedBroker {
  readonly url: string;
  close(): Promise<void>;
}

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  users: BrokerUser[];
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
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      if (!requireAuth || checkCredentials(options.users, username, password)) return done(null, true);
      log(`broker: refused client ${client?.id ?? '?'} (user ${JSON.stringify(username ?? null)})`);
      const err = Object.assign(new Error('bad username or password'), { returnCode: 4 });
      done(err as Parameters<typeof done>[0], false);
    },
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
