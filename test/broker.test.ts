/** The embedded MQTT broker: open on loopback without users, authenticating with them, clear when the port is taken. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt from 'mqtt';
import { checkCredentials, startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker/embedded';
import { DeviceUnavailableError } from '../gateway/errors';
import { freePort } from './helpers/gateway';

const broker = suite<{ brokers: EmbeddedBroker[] }>('embedded broker');
broker.before.each((ctx) => {
  ctx.brokers = [];
});
broker.after.each(async (ctx) => {
  for (const b of ctx.brokers) await b.close();
});

broker('passes a message between two clients on loopback', async (ctx) => {
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: await freePort(), users: [] });
  ctx.brokers.push(b);
  const sub = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
  const pub = await mqtt.connectAsync(b.url, { reconnectPeriod: 0 });
  const got = new Promise<string>((resolve) => sub.on('message', (_t, p) => resolve(p.toString())));
  await sub.subscribeAsync('hepek/test');
  await pub.publishAsync('hepek/test', 'hello', { qos: 1 });
  assert.is(await got, 'hello');
  await sub.endAsync();
  await pub.endAsync();
});

broker('with users configured, a wrong password is refused and the right one admitted', async (ctx) => {
  const users = [{ username: 'ha', password: 'correct horse' }];
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: await freePort(), users });
  ctx.brokers.push(b);
  try {
    await mqtt.connectAsync(b.url, { reconnectPeriod: 0, username: 'ha', password: 'wrong' });
    assert.unreachable('connected with a wrong password');
  } catch (err) {
    assert.match((err as Error).message, /Bad username or password|Not authorized/i);
  }
  const ok = await mqtt.connectAsync(b.url, {
    reconnectPeriod: 0,
    username: 'ha',
    password: 'correct horse',
  });
  assert.ok(ok.connected);
  await ok.endAsync();
});

broker('checkCredentials needs both fields to match', () => {
  const users = [{ username: 'a', password: 'password-a' }];
  assert.ok(checkCredentials(users, 'a', Buffer.from('password-a')));
  assert.not.ok(checkCredentials(users, 'b', Buffer.from('password-a')));
  assert.not.ok(checkCredentials(users, 'a', Buffer.from('password-b')));
  assert.not.ok(checkCredentials(users, undefined, undefined));
});

broker('a taken port is a DeviceUnavailableError naming broker.port', async (ctx) => {
  const port = await freePort();
  ctx.brokers.push(await startEmbeddedBroker({ host: '127.0.0.1', port, users: [] }));
  try {
    ctx.brokers.push(await startEmbeddedBroker({ host: '127.0.0.1', port, users: [] }));
    assert.unreachable();
  } catch (err) {
    assert.instance(err, DeviceUnavailableError);
    assert.match((err as Error).message, `broker.port: 127.0.0.1:${port} is already in use`);
  }
});

broker.run();
