/**
 * hepek-channel-sign, hepek-mint and hepek-demand-listener through node-red-node-test-helper, on
 * the fake gateway with an offline money path (helpers/money.ts: a real Payer and DemandFeed);
 * their pure logic table by table; and the consumer, prosumer and generator flows deployed.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Wallet } from 'ethers';
import { verifyVoucher } from '../gateway/chain/channels';
import { registerGateway } from '../gateway/context';
import type { DemandEvent } from '../gateway/demand/types';
import { hubDomain, signDemand } from '../gateway/hub/protocol';
import hepekConfig from '../nodes/hepek-config/hepek-config';
import hepekMeterRead from '../nodes/hepek-meter-read/hepek-meter-read';
import hepekBalance from '../nodes/hepek-balance/hepek-balance';
import hepekRelay from '../nodes/hepek-relay/hepek-relay';
import hepekBattery from '../nodes/hepek-battery/hepek-battery';
import hepekChannelSign from '../nodes/hepek-channel-sign/hepek-channel-sign';
import hepekMint from '../nodes/hepek-mint/hepek-mint';
import hepekDemandListener from '../nodes/hepek-demand-listener/hepek-demand-listener';
import { parseConsumption } from '../nodes/hepek-channel-sign/logic';
import { parseMintInput, rewardReport } from '../nodes/hepek-mint/logic';
import { INITIAL_LISTENER_STATE, stepDemand } from '../nodes/hepek-demand-listener/logic';
import { fromConfig } from '../gateway/devices/registry';
import { ManualClock } from '../gateway/devices/clock';
import {
  AT,
  CATCH,
  CAUGHT,
  CONFIG,
  collect,
  coreNode,
  functionNode,
  helper,
  loggedErrors,
  nextMessage,
  OUT,
  TAB,
  until,
} from './helpers/node-red';
import { fakeGateway, START, type Fake } from './helpers/fake-gateway';
import { tempDir, removeDir } from './helpers/gateway';
import {
  CHAIN_ID,
  CHANNELS,
  MONEY_SERIAL,
  PRICE_WEI_PER_KWH,
  REGISTRY,
  offlineMoney,
  type OfflineMoney,
} from './helpers/money';

const NODES = [hepekConfig, hepekChannelSign, hepekMint, hepekDemandListener];
const T0 = Math.floor(START / 1000);

function node(id: string, type: string) {
  return { id, type, z: 'f1', ...AT, config: 'cfg', configVersion: 1, wires: [['out']] };
}

interface Ctx {
  dir: string;
  fake: Fake;
  m: OfflineMoney;
  unregister?: () => void;
}

/**
 * The fake gateway with the offline money path: `money: false` leaves it out, `'no payer'` keeps
 * the money path (hub, DEMAND, tariffs) but not the payer — a gateway with `channel.enabled` false.
 */
async function register(ctx: Ctx, money: boolean | 'no payer' = true): Promise<void> {
  ctx.dir = tempDir('hepek-nodes-money-');
  ctx.fake = fakeGateway();
  ctx.fake.tick();
  ctx.m = await offlineMoney(ctx.fake.meter, ctx.dir, T0);
  const path = money === 'no payer' ? { ...ctx.m.money, payer: null } : ctx.m.money;
  ctx.unregister = registerGateway({ ...ctx.fake.context, ...(money ? { money: path } : {}) });
}

function nodeSuite(name: string) {
  const s = suite<Ctx>(name, {} as Ctx);
  s.before(() => helper.startServer());
  s.after(() => helper.stopServer());
  s.after.each(async (ctx) => {
    ctx.unregister?.();
    await helper.unload();
    await ctx.m?.close();
    if (ctx.dir) removeDir(ctx.dir);
  });
  return s;
}

const event = (over: Partial<DemandEvent> = {}): DemandEvent => ({
  id: 'dr-1',
  region: 'default',
  start: T0 + 600,
  end: T0 + 1800,
  level: 2,
  targetKw: 1.5,
  expiry: T0 + 1800,
  ...over,
});

const warnings = () =>
  helper
    .log()
    .args.map((c) => c[0])
    .filter((e) => e.level === helper.log().WARN)
    .map((e) => String(e.msg))
    .filter((text) => text.startsWith('ignored a DEMAND event'));

// ---------------------------------------------------------------------------------------------
const sign = nodeSuite('hepek-channel-sign');

sign('a consumption becomes a voucher signed by the device key at the tariff, exactly', async (ctx) => {
  await register(ctx);
  await helper.load(NODES, [TAB, CONFIG, node('sign', 'hepek-channel-sign'), OUT]);
  const startWh = Math.floor(ctx.fake.meter.latest()!.importWh);
  const importWh = startWh + 1234.7;
  const out = nextMessage(helper.getNode('out'));
  helper
    .getNode('sign')
    .receive({ payload: { importWh, timestamp: new Date(START + 60_000).toISOString() } });
  const msg = await out;
  const voucher = msg.payload as {
    channelId: string;
    cumulativeAmount: string;
    signature: string;
    importWh: number;
  };
  const expected = (1234n * PRICE_WEI_PER_KWH) / 1000n;
  assert.is(voucher.cumulativeAmount, expected.toString());
  assert.is(voucher.importWh, Math.floor(importWh));
  assert.is(voucher.channelId, ctx.m.channelId.toString());
  const signer = verifyVoucher(
    { chainId: CHAIN_ID, channels: CHANNELS } as never,
    { channelId: BigInt(voucher.channelId), cumulativeAmount: BigInt(voucher.cumulativeAmount) },
    voucher.signature,
  );
  assert.is(signer, ctx.m.device.address);
  const v = msg.voucher as { addedWei: string; acked: boolean };
  assert.is(v.addedWei, expected.toString());
  assert.is(v.acked, false);
  // What went to the hub is exactly what came out, on the device's voucher topic.
  const sent = ctx.m.published.filter((p) => p.topic === `hepek/${MONEY_SERIAL}/hub/voucher`);
  assert.equal(sent.at(-1)!.payload, voucher);

  // The same counter again adds nothing; after the hub's ack the voucher reports acked.
  ctx.m.ack({
    id: (voucher as unknown as { id: string }).id,
    ok: true,
    kind: 'voucher',
    result: { channelId: voucher.channelId, cumulativeAmount: voucher.cumulativeAmount },
  });
  await ctx.m.payer.idle();
  const again = nextMessage(helper.getNode('out'));
  helper.getNode('sign').receive({ payload: importWh });
  const second = await again;
  assert.equal(second.payload, voucher);
  assert.is((second.voucher as { addedWei: string }).addedWei, '0');
  assert.is((second.voucher as { acked: boolean }).acked, true);
  assert.equal(loggedErrors(), []);
});

sign('a bad consumption and a gateway that does not bill go to Catch naming the field', async (ctx) => {
  await register(ctx, false);
  await helper.load(NODES, [TAB, CONFIG, node('sign', 'hepek-channel-sign'), OUT, CATCH, CAUGHT]);
  let caught = nextMessage(helper.getNode('caught'));
  helper.getNode('sign').receive({ payload: { importWh: -3 } });
  assert.is(
    ((await caught).error as { message: string }).message,
    'InputError: msg.payload.importWh: -3 is not allowed; expected the cumulative import counter, Wh ≥ 0',
  );
  caught = nextMessage(helper.getNode('caught'));
  helper.getNode('sign').receive({ payload: 5000 });
  assert.match(
    ((await caught).error as { message: string }).message,
    /^ConfigError: config: .*channel\.enabled/,
  );
});

sign('parseConsumption: table of accepted and refused payloads', () => {
  assert.equal(parseConsumption(12.5), { importWh: 12.5, timeS: null });
  assert.equal(parseConsumption({ importWh: 7, timestamp: '2026-01-01T00:15:00Z' }), {
    importWh: 7,
    timeS: Date.parse('2026-01-01T00:15:00Z') / 1000,
  });
  assert.equal(parseConsumption({ importWh: 7, timestamp: 1700000000 }), { importWh: 7, timeS: 1700000000 });
  assert.throws(() => parseConsumption('12'), /msg\.payload: "12" is not allowed/);
  assert.throws(() => parseConsumption({ importWh: Number.NaN }), /msg\.payload\.importWh: NaN/);
  assert.throws(
    () => parseConsumption({ importWh: 1, timestamp: 'soon' }),
    /msg\.payload\.timestamp: "soon"/,
  );
});

sign.run();

// ---------------------------------------------------------------------------------------------
const mint = nodeSuite('hepek-mint');

mint(
  'a reading is signed and sent to the hub; the report carries accrued ERGON and carbon; claim',
  async (ctx) => {
    await register(ctx);
    await helper.load(NODES, [TAB, CONFIG, node('mint', 'hepek-mint'), OUT]);
    ctx.m.account.accruedWei = 123_000_000_000_000_000n;
    ctx.m.account.carbonMg = 2_280_000n;
    ctx.m.account.lastSeq = 4n;
    let out = nextMessage(helper.getNode('out'));
    helper.getNode('mint').receive({
      payload: { importWh: 100.4, exportWh: 6000.9, timestamp: T0 + 30, batterySocPercent: 55.5 },
    });
    let payload = (await out).payload as Record<string, unknown>;
    assert.is(payload.accruedWei, '123000000000000000');
    assert.is(payload.accruedErgon, 0.123);
    assert.is(payload.carbonMg, '2280000');
    assert.is(payload.carbonKg, 2.28);
    assert.is(payload.lastSeq, 4);
    const sent = ctx.m.published.filter((p) => p.topic === `hepek/${MONEY_SERIAL}/hub/reading`).at(-1)!
      .payload as { id: string; reading: Record<string, unknown> };
    assert.equal(payload.reading, { id: sent.id, seq: 1, exportWh: 6000 });
    assert.equal(sent.reading, {
      deviceId: '0x' + '01'.repeat(32),
      seq: 1,
      timestamp: T0 + 30,
      importWh: 100,
      exportWh: 6000,
      batteryPermille: 555,
    });

    // A trigger (an inject's timestamp) signs the gateway meter's newest reading.
    out = nextMessage(helper.getNode('out'));
    helper.getNode('mint').receive({ payload: Date.now() });
    payload = (await out).payload as Record<string, unknown>;
    assert.is((payload.reading as { seq: number }).seq, 2);
    assert.is(
      (payload.reading as { exportWh: number }).exportWh,
      Math.floor(ctx.fake.meter.latest()!.exportWh),
    );

    out = nextMessage(helper.getNode('out'));
    helper.getNode('mint').receive({ payload: 'claim' });
    payload = (await out).payload as Record<string, unknown>;
    assert.equal(payload.claimed, {
      txHash: '0x' + 'ab'.repeat(32),
      amountWei: '123000000000000000',
      amountErgon: 0.123,
    });
    assert.is(payload.accruedWei, '0');
    assert.equal(loggedErrors(), []);
  },
);

mint('a bad reading goes to Catch naming the field', async (ctx) => {
  await register(ctx);
  await helper.load(NODES, [TAB, CONFIG, node('mint', 'hepek-mint'), OUT, CATCH, CAUGHT]);
  const caught = nextMessage(helper.getNode('caught'));
  helper.getNode('mint').receive({ payload: { importWh: 1, exportWh: 'lots' } });
  assert.is(
    ((await caught).error as { message: string }).message,
    'InputError: msg.payload.exportWh: "lots" is not allowed; expected a cumulative counter, Wh ≥ 0',
  );
  assert.is(ctx.m.published.filter((p) => p.topic.endsWith('/hub/reading')).length, 0, 'nothing sent');
});

for (const type of ['hepek-mint', 'hepek-channel-sign'])
  mint(
    `${type} on a money path without a payer (billing off) goes to Catch naming channel.enabled`,
    async (ctx) => {
      await register(ctx, 'no payer');
      await helper.load(NODES, [TAB, CONFIG, node('n', type), OUT, CATCH, CAUGHT]);
      const caught = nextMessage(helper.getNode('caught'));
      helper.getNode('n').receive({ payload: { importWh: 10, exportWh: 5 } });
      assert.match(
        ((await caught).error as { message: string }).message,
        /^ConfigError: channel\.enabled: false .*expected true/,
      );
      assert.is(ctx.m.published.length, 0, 'nothing sent');
    },
  );

mint('parseMintInput and rewardReport: tables', () => {
  assert.equal(parseMintInput({ payload: 'claim' }), { kind: 'claim' });
  assert.equal(parseMintInput({ topic: 'claim', payload: 1 }), { kind: 'claim' });
  assert.equal(parseMintInput({ topic: 'report' }), { kind: 'report' });
  assert.equal(parseMintInput({ payload: 1700000000000 }), { kind: 'latest' });
  assert.equal(parseMintInput({ payload: { importWh: 1, exportWh: 2, timestamp: '1970-01-01T00:00:10Z' } }), {
    kind: 'reading',
    importWh: 1,
    exportWh: 2,
    timeS: 10,
    batteryPermille: 0,
  });
  assert.throws(
    () => parseMintInput({ payload: { importWh: 1, exportWh: 2, batterySocPercent: 101 } }),
    /batterySocPercent: 101/,
  );
  assert.throws(() => parseMintInput({ payload: [1] }), /msg\.payload: \[1\]/);
  assert.equal(rewardReport({ accruedWei: 10n ** 18n, carbonMg: 380_000n, lastSeq: 9n }), {
    accruedWei: '1000000000000000000',
    accruedErgon: 1,
    carbonMg: '380000',
    carbonKg: 0.38,
    lastSeq: 9,
  });
});

mint.run();

// ---------------------------------------------------------------------------------------------
const listener = nodeSuite('hepek-demand-listener');

listener(
  'a verified event starts and ends on the meter clock; forged and expired ones are ignored',
  async (ctx) => {
    await register(ctx);
    await helper.load(NODES, [TAB, CONFIG, node('dr', 'hepek-demand-listener'), OUT]);
    const seen = collect(helper.getNode('out'));
    const domain = hubDomain(CHAIN_ID, REGISTRY);

    // Forged: signed by another key. Expired: signed by the hub, but past its expiry.
    const forged = await signDemand(
      Wallet.createRandom(),
      domain,
      event({ id: 'forged', start: T0, end: T0 + 9999 }),
    );
    ctx.m.feed.accept(JSON.stringify(forged));
    const expired = await signDemand(
      ctx.m.hub,
      domain,
      event({ id: 'old', start: T0 - 900, end: T0 - 1, expiry: T0 - 1 }),
    );
    ctx.m.feed.accept(JSON.stringify(expired));
    ctx.fake.tick();
    await until(() => warnings().length >= 2, 'two warnings');
    assert.match(
      warnings()[0]!,
      /ignored a DEMAND event: demand\.signature: .* expected a signature by the trusted hub/,
    );
    assert.match(warnings()[1]!, /demand\.event\.expiry: .* expected a time after now/);
    assert.is(seen.length, 0, 'nothing sent for forged or expired events');

    // The real one: nothing before start, start inside the window, end when it is over.
    ctx.m.feed.accept(JSON.stringify(await signDemand(ctx.m.hub, domain, event())));
    ctx.fake.tick();
    assert.is(seen.length, 0, 'not yet in force');
    ctx.m.clock.nowS = T0 + 600;
    ctx.fake.tick();
    await until(() => seen.length === 1, 'the start');
    assert.is(seen[0]!.topic, 'start');
    assert.equal(seen[0]!.payload, { active: true, event: event() });
    ctx.m.clock.nowS = T0 + 1799;
    ctx.fake.tick();
    assert.is(seen.length, 1, 'still in force, no repeat');
    ctx.m.clock.nowS = T0 + 1800;
    ctx.fake.tick();
    await until(() => seen.length === 2, 'the end');
    assert.is(seen[1]!.topic, 'end');
    assert.equal(seen[1]!.payload, { active: false, event: event(), why: 'ended' });
    assert.equal(loggedErrors(), []);
  },
);

listener('a signed event given as input is verified before it counts', async (ctx) => {
  await register(ctx);
  await helper.load(NODES, [TAB, CONFIG, node('dr', 'hepek-demand-listener'), OUT]);
  const seen = collect(helper.getNode('out'));
  const domain = hubDomain(CHAIN_ID, REGISTRY);
  ctx.m.clock.nowS = T0 + 700;
  const foreign = await signDemand(ctx.m.hub, domain, event({ region: 'elsewhere' }));
  helper.getNode('dr').receive({ payload: foreign });
  await until(() => warnings().some((w) => w.includes('region')), 'the region warning');
  assert.is(seen.length, 0);
  helper.getNode('dr').receive({ payload: await signDemand(ctx.m.hub, domain, event()) });
  await until(() => seen.length === 1, 'the start');
  assert.is(seen[0]!.topic, 'start');
});

listener('stepDemand: replaced, cleared and expired events end with the reason', () => {
  const a = event();
  const b = event({ id: 'dr-2', level: 3 });
  let s = stepDemand(INITIAL_LISTENER_STATE, a, T0 + 600);
  assert.equal(s.transitions, [{ kind: 'start', event: a }]);
  const replaced = stepDemand(s.state, b, T0 + 700);
  assert.equal(replaced.transitions, [
    { kind: 'end', event: a, why: 'replaced' },
    { kind: 'start', event: b },
  ]);
  assert.equal(stepDemand(s.state, null, T0 + 700).transitions, [{ kind: 'end', event: a, why: 'cleared' }]);
  const early = event({ expiry: T0 + 1000 });
  s = stepDemand(INITIAL_LISTENER_STATE, early, T0 + 600);
  assert.equal(stepDemand(s.state, early, T0 + 1000).transitions, [
    { kind: 'end', event: early, why: 'expired' },
  ]);
  assert.equal(
    stepDemand(INITIAL_LISTENER_STATE, event({ level: 0 }), T0 + 700).transitions,
    [],
    'level 0 is no DEMAND',
  );
});

listener.run();

// ---------------------------------------------------------------------------------------------
const flows = nodeSuite('money flows in Node-RED');
const FLOW_NODES = [
  coreNode('90-comment.js'),
  coreNode('21-debug.js'),
  coreNode('20-inject.js'),
  coreNode('25-catch.js'),
  functionNode('10-switch.js'),
  functionNode('15-change.js'),
  hepekConfig,
  hepekMeterRead,
  hepekBalance,
  hepekRelay,
  hepekBattery,
  ...NODES.slice(1),
];

function loadFlow(name: string): Array<{ id: string; type: string }> {
  return JSON.parse(readFileSync(path.join(__dirname, '..', 'flows', name), 'utf8')) as Array<{
    id: string;
    type: string;
  }>;
}

flows(
  'consumer.json: readings are paid with vouchers and the relay opens below the threshold',
  async (ctx) => {
    await register(ctx);
    ctx.fake.setErgon(0.2);
    const flow = loadFlow('consumer.json');
    await helper.load(FLOW_NODES, flow);
    for (const n of flow) if (n.type !== 'tab') assert.ok(helper.getNode(n.id), `${n.id} is running`);
    ctx.fake.tick();
    await until(
      () => ctx.m.published.some((p) => p.topic.endsWith('/hub/voucher')),
      'a voucher for the reading',
      5000,
    );
    await until(() => !ctx.fake.relay.state().on, 'the relay to open below the threshold', 5000);
    ctx.fake.setErgon(5);
    ctx.fake.tick();
    await until(() => ctx.fake.relay.state().on, 'the relay to close after a top-up', 5000);
    assert.equal(loggedErrors(), []);
  },
);

for (const name of ['prosumer.json', 'generator.json'])
  flows(`${name}: exports from the battery on DEMAND and mints the newest reading`, async (ctx) => {
    await register(ctx);
    const clock = new ManualClock(START);
    const battery = fromConfig('battery', 'simulated', { initialSocPct: 50, maxChargeW: 3000 }, { clock });
    ctx.unregister?.();
    ctx.unregister = registerGateway({ ...ctx.fake.context, battery, money: ctx.m.money });
    const flow = loadFlow(name);
    await helper.load(FLOW_NODES, flow);
    for (const n of flow) if (n.type !== 'tab') assert.ok(helper.getNode(n.id), `${n.id} is running`);
    const domain = hubDomain(CHAIN_ID, REGISTRY);
    ctx.m.feed.accept(JSON.stringify(await signDemand(ctx.m.hub, domain, event())));
    ctx.m.clock.nowS = T0 + 600;
    ctx.fake.tick();
    await until(() => battery.state().requestedW < 0, 'the battery to discharge (export)', 5000);
    if (name === 'prosumer.json') {
      ctx.m.clock.nowS = T0 + 1800;
      ctx.fake.tick();
      await until(() => battery.state().requestedW > 0, 'the battery to charge after DEMAND', 5000);
    }
    const mintNode = flow.find((n) => n.type === 'hepek-mint')!;
    helper.getNode(mintNode.id).receive({ payload: Date.now() });
    await until(
      () => ctx.m.published.some((p) => p.topic.endsWith('/hub/reading')),
      'a reading minted',
      5000,
    );
    assert.equal(loggedErrors(), []);
    await battery.close();
  });

flows.run();
