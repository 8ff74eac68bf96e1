/**
 * Broker security through real MQTT clients: device logins derived from the operator's secret,
 * the hub and admin accounts, anonymous and wrong passwords refused, and the per-device ACL.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt, { type MqttClient } from 'mqtt';
import { brokerCredentialsFor, checkAccess, covers } from '../gateway/broker/auth';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker/embedded';
import { freePort } from './helpers/gateway';

const SECRET = 'operator-broker-secret-0123456789';
const REVOKED = 'HPK-REVOKED';

const s = suite<{ broker: EmbeddedBroker; lines: string[]; clients: MqttClient[] }>('broker ACL');
s.before.each(async (ctx) => {
  ctx.lines = [];
  ctx.clients = [];
  ctx.broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: await freePort(),
    users: [],
    auth: {
      secret: SECRET,
      admins: [{ username: 'homeassistant', password: 'ha-password-123' }],
      isRegistered: async (serial) => serial !== REVOKED,
    },
    log: (line) => ctx.lines.push(line),
  });
});
s.after.each(async (ctx) => {
  for (const c of ctx.clients) await c.endAsync(true);
  await ctx.broker.close();
});

async function login(
  ctx: { broker: EmbeddedBroker; clients: MqttClient[] },
  creds: { username?: string; password?: string },
) {
  const c = await mqtt.connectAsync(ctx.broker.url, { reconnectPeriod: 0, ...creds });
  ctx.clients.push(c);
  return c;
}

async function refused(url: string, creds: { username?: string; password?: string }): Promise<string> {
  try {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...creds });
    await c.endAsync(true);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`connected with ${JSON.stringify(creds)}`);
}

function received(client: MqttClient): string[] {
  const got: string[] = [];
  client.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
  return got;
}

s('anonymous, wrong passwords, another device’s password and a revoked device are refused', async (ctx) => {
  const a = brokerCredentialsFor(SECRET, { device: 'HPK-A' });
  assert.match(await refused(ctx.broker.url, {}), /Not authorized|Bad username/i);
  assert.match(
    await refused(ctx.broker.url, { username: 'HPK-A', password: 'guess-guess' }),
    /Bad username or password/i,
  );
  assert.match(
    await refused(ctx.broker.url, { username: 'HPK-B', password: a.password }),
    /Bad username or password/i,
  );
  assert.match(
    await refused(ctx.broker.url, { username: 'hub@hepek', password: a.password }),
    /Bad username/i,
  );
  const revoked = brokerCredentialsFor(SECRET, { device: REVOKED });
  assert.match(await refused(ctx.broker.url, revoked), /Bad username/i);
  assert.ok(ctx.lines.some((l) => l.includes('anonymous clients are refused')));
  assert.ok(ctx.lines.some((l) => l.includes(`device ${REVOKED} is not registered`)));
  // Another secret derives other passwords.
  assert.is.not(brokerCredentialsFor('another-secret-000000', { device: 'HPK-A' }).password, a.password);
});

s('a device talks on its own topics and hears hub broadcasts; the hub hears it and answers', async (ctx) => {
  const dev = await login(ctx, brokerCredentialsFor(SECRET, { device: 'HPK-A' }));
  const hub = await login(ctx, brokerCredentialsFor(SECRET, { service: 'hub' }));
  const devGot = received(dev);
  const hubGot = received(hub);
  const granted = await hub.subscribeAsync(['hepek/+/hub/#', 'hepek/hub/bids/+'], { qos: 1 });
  assert.equal(
    granted.map((g) => g.qos),
    [1, 1],
  );
  const own = await dev.subscribeAsync(['hepek/HPK-A/hub/ack', 'hepek/hub/demand/+', 'hepek/hub/tariff/+'], {
    qos: 1,
  });
  assert.equal(
    own.map((g) => g.qos),
    [1, 1, 1],
  );
  await dev.publishAsync('hepek/HPK-A/hub/voucher', 'v1', { qos: 1 });
  await dev.publishAsync('hepek/hub/bids/ev-1', 'bid', { qos: 1 });
  await hub.publishAsync('hepek/HPK-A/hub/ack', 'ok', { qos: 1 });
  await hub.publishAsync('hepek/hub/demand/NL', 'demand', { qos: 1, retain: true });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(hubGot.sort(), [
    'hepek/HPK-A/hub/ack ok',
    'hepek/HPK-A/hub/voucher v1',
    'hepek/hub/bids/ev-1 bid',
  ]);
  assert.equal(devGot.sort(), ['hepek/HPK-A/hub/ack ok', 'hepek/hub/demand/NL demand']);
});

s('a device publishing on another device’s topic is refused and logged with the reason', async (ctx) => {
  const a = await login(ctx, brokerCredentialsFor(SECRET, { device: 'HPK-A' }));
  const hub = await login(ctx, brokerCredentialsFor(SECRET, { service: 'hub' }));
  const hubGot = received(hub);
  await hub.subscribeAsync('hepek/+/hub/#', { qos: 1 });
  const closed = new Promise<void>((resolve) => a.once('close', () => resolve()));
  a.publish('hepek/HPK-B/hub/voucher', 'forged', { qos: 1 });
  await closed;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(hubGot, []);
  assert.ok(
    ctx.lines.some((l) =>
      l.includes('device HPK-A may not publish "hepek/HPK-B/hub/voucher"; allowed: hepek/HPK-A/#'),
    ),
    ctx.lines.join('\n'),
  );
});

s('a device subscribing to another device’s topics is denied and gets nothing', async (ctx) => {
  const a = await login(ctx, brokerCredentialsFor(SECRET, { device: 'HPK-A' }));
  const b = await login(ctx, brokerCredentialsFor(SECRET, { device: 'HPK-B' }));
  const aGot = received(a);
  for (const filter of ['hepek/HPK-B/#', 'hepek/+/meter', '#']) {
    // SUBACK 0x80: mqtt.js rejects the subscribe.
    const err = await a.subscribeAsync(filter, { qos: 1 }).then(
      () => null,
      (e: Error) => e,
    );
    assert.ok(err, `subscribe ${filter} was granted`);
  }
  await b.publishAsync('hepek/HPK-B/meter', 'private', { qos: 1 });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(aGot, []);
  assert.ok(ctx.lines.some((l) => l.includes('device HPK-A may not subscribe "hepek/+/meter"')));
});

s(
  'admin accounts (Home Assistant, the gateway) have full access; the hub may not impersonate a device',
  async (ctx) => {
    const ha = await login(ctx, { username: 'homeassistant', password: 'ha-password-123' });
    const gw = await login(ctx, brokerCredentialsFor(SECRET, { service: 'gateway' }));
    const haGot = received(ha);
    await ha.subscribeAsync('#', { qos: 1 });
    await gw.publishAsync('homeassistant/sensor/x/config', 'cfg', { qos: 1 });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(haGot, ['homeassistant/sensor/x/config cfg']);
    assert.is(
      checkAccess({ kind: 'hub' }, 'publish', 'hepek/HPK-A/hub/voucher')?.startsWith('hub may not'),
      true,
    );
  },
);

s('filter coverage: a filter is allowed only if every topic it matches is', () => {
  assert.ok(covers('hepek/A/#', 'hepek/A/hub/ack'));
  assert.ok(covers('hepek/A/#', 'hepek/A/#'));
  assert.ok(covers('hepek/hub/demand/+', 'hepek/hub/demand/NL'));
  assert.ok(covers('hepek/hub/demand/+', 'hepek/hub/demand/+'));
  assert.not.ok(covers('hepek/A/#', 'hepek/+/meter'));
  assert.not.ok(covers('hepek/hub/demand/+', 'hepek/hub/demand/#'));
  assert.not.ok(covers('hepek/+/hub/#', 'hepek/#'));
  assert.not.ok(covers('hepek/A/#', 'hepek'));
});

s.run();
