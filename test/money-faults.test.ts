/**
 * The payer and the real hub (gateway/hub) together over a real MQTT broker on a dev chain, under
 * faults: the hub and the broker restarted mid-day; the JSON-RPC node unreachable for an hour of
 * simulated time; the payer starting an exit. The meter is driven reading by reading on its own
 * clock and the periodic work by hand (injected clocks), so nothing waits on wall time except
 * message delivery, which is polled with a bound that only turns a hang into a failure.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt, { type MqttClient } from 'mqtt';
import { BrowserProvider, Wallet } from 'ethers';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker/embedded';
import { payerChain } from '../gateway/channel/chain';
import { Payer, payerTopics, type PayerOptions, type PayerRecord } from '../gateway/channel/payer';
import { MeterReadings__factory } from '../gateway/chain/types';
import { ManualClock } from '../gateway/devices/clock';
import type { Hub, HubOptions } from '../gateway/hub/hub';
import { Journal, JOURNAL_DEFAULTS } from '../gateway/store/journal';
import { DEV_CHAIN_ID } from './helpers/chain';
import { deployFixture, startExit, type Fixture } from './helpers/channels';
import { FakeMeter } from './helpers/fake-meter';
import { freePort, removeDir, tempDir, until as poll } from './helpers/gateway';
import { recordingLog, startHub } from './helpers/hub';

const SERIAL = 'HEPEK-0001'; // the fixture's device id is keccak256 of it
const T0 = Date.parse('2026-01-01T00:00:00Z');
const CYCLE_S = 900;
/** An odd price, so every cycle has a remainder to carry. */
const PRICE = 213_456_789_012_345_679n;

const OPTIONS: PayerOptions = {
  cycleSeconds: CYCLE_S,
  depositErgon: 10,
  topUpBelowErgon: 0,
  topUpErgon: 5,
  challengePeriod: 3600,
  resendSeconds: 5,
  checkSeconds: 30,
  sendReadings: false,
  autoPurchase: { enabled: false, amountErgon: 10, belowErgon: 2 },
};

interface Ctx {
  f: Fixture;
  port: number;
  broker: EmbeddedBroker;
  hubDir: string;
  hub: Hub;
  client: MqttClient;
  dir: string;
  journal: Journal<PayerRecord>;
  meter: FakeMeter;
  clock: ManualClock;
  payer: Payer;
  /** Hub time, unix seconds (the hub's injected clock). */
  nowS: number;
  t: number;
  wh: number;
  startWh: number;
}

const until = (probe: () => unknown, what: string, timeoutMs = 20_000) =>
  poll(what, async () => ((await probe()) ? true : undefined), timeoutMs);

async function makePayer(c: Ctx, provider = c.f.chain.provider, options: Partial<PayerOptions> = {}) {
  const addresses = { channels: c.f.deployment.channels, token: await c.f.token.getAddress() };
  return new Payer(
    { ...OPTIONS, ...options },
    {
      deviceId: c.f.deviceId,
      signer: c.f.device,
      domain: {
        chainId: DEV_CHAIN_ID,
        ...addresses,
        readings: c.hub.options.contracts.MeterReadings ?? addresses.channels,
      },
      payee: c.f.hub.address,
      chain: payerChain(provider, addresses, c.f.device.address),
      mqtt: c.client,
      topics: payerTopics(SERIAL),
      journal: c.journal,
      meter: c.meter,
      priceAt: () => ({ tariffId: 'odd', weiPerKWh: PRICE }),
      clock: c.clock,
      lowThresholdErgon: 0,
    },
  );
}

async function hubUp(c: Ctx, over: Partial<HubOptions> = {}) {
  c.hub = await startHub(c.f, { dir: c.hubDir, now: () => c.nowS, log: recordingLog(), ...over });
  await c.hub.connect(`mqtt://127.0.0.1:${c.port}`);
}

/** `cycles` billing cycles of readings (three per cycle), each waited through the payer. */
async function day(c: Ctx, cycles: number) {
  for (let i = 0; i < cycles * 3; i++) {
    c.t += 300_000;
    c.wh += 41.3 + (i % 5) * 7.7;
    c.meter.push(c.t, c.wh);
    await c.payer.idle();
  }
}

/** Σ(import delta × price) since the channel opened, wei, rounded down once. */
const expected = (c: Ctx) => (BigInt(Math.floor(c.wh) - Math.floor(c.startWh)) * PRICE) / 1000n;

/** The meter's last counter billed: the readings that closed a cycle. */
function billedWh(c: Ctx): number {
  return c.payer.state().billedImportWh;
}

/** Runs the hub's periodic work until the newest reading is acked accepted (it may still be in flight). */
const settled = (c: Ctx, what: string) =>
  until(async () => {
    await c.hub.tick();
    const r = c.payer.state().reading;
    if (r?.status === 'rejected') throw new Error(`reading ${r.seq} rejected: ${JSON.stringify(r)}`);
    return r?.status === 'accepted';
  }, what);

const faults = suite<Ctx>('payer and hub under faults', {} as Ctx);

faults.before.each(async (c) => {
  c.f = await deployFixture();
  c.port = await freePort();
  c.broker = await startEmbeddedBroker({ host: '127.0.0.1', port: c.port, users: [] });
  c.hubDir = tempDir('hepek-faults-hub-');
  c.nowS = Math.floor(Date.now() / 1000);
  c.dir = tempDir('hepek-faults-payer-');
  c.journal = await Journal.open<PayerRecord>({ dir: c.dir, ...JOURNAL_DEFAULTS });
  c.meter = new FakeMeter();
  c.clock = new ManualClock(0);
  c.client = await mqtt.connectAsync(`mqtt://127.0.0.1:${c.port}`, { reconnectPeriod: 100 });
  c.t = T0;
  c.wh = 5000.4;
  c.meter.push(c.t, c.wh);
});

faults.after.each(async (c) => {
  await c.payer?.stop();
  await c.journal.close();
  await c.hub?.stop();
  await c.client.endAsync(true);
  await c.broker.close();
  await c.f.chain.close();
  removeDir(c.dir);
  removeDir(c.hubDir);
});

async function openAndStart(c: Ctx, provider = c.f.chain.provider, options: Partial<PayerOptions> = {}) {
  c.payer = await makePayer(c, provider, options);
  c.payer.start();
  await until(() => c.payer.state().channelId, 'the channel to open (relayed by the hub)');
  c.startWh = c.wh;
}

faults(
  'the hub and the broker restart mid-day: billing resumes, 0 vouchers lost, the close is exact',
  async (c) => {
    await hubUp(c);
    await openAndStart(c);
    await day(c, 8);
    await until(() => c.payer.state().voucher?.acked, 'the morning acked');

    // Both go away; the meter goes on. Vouchers are journaled and wait for the hub.
    await c.hub.stop();
    await c.broker.close();
    await day(c, 4);
    assert.is(c.payer.state().voucher?.acked, false, 'not acked while the hub is away');
    assert.is(c.payer.state().cycle, 12);

    c.broker = await startEmbeddedBroker({ host: '127.0.0.1', port: c.port, users: [] });
    await hubUp(c);
    // The payer's client reconnects by itself and resends the newest voucher; a resend tick too.
    await until(() => c.client.connected, 'the payer to reconnect');
    c.clock.advance(5_000);
    await until(() => c.payer.state().voucher?.acked, 'the newest voucher acked after the restart');
    await day(c, 4);
    await until(() => c.payer.state().voucher?.acked, 'the evening acked');

    const channelId = BigInt(c.payer.state().channelId!);
    assert.is(c.payer.state().cumulativeAmountWei, expected(c).toString());
    assert.is(
      c.hub.books.get(channelId.toString())?.held?.cumulativeAmount,
      expected(c),
      'the hub holds all of it',
    );
    assert.is(billedWh(c), Math.floor(c.wh));
    const before = await c.f.token.balanceOf(c.f.hub.address);
    await c.hub.close(channelId);
    assert.is((await c.f.token.balanceOf(c.f.hub.address)) - before, expected(c), 'the close pays exactly Σ');
  },
);

faults(
  'JSON-RPC unreachable for an hour of simulated time: vouchers go on, readings queue, all settle afterwards',
  async (c) => {
    let down = false;
    const raw = c.f.chain.raw;
    const flaky = new BrowserProvider(
      {
        request: (args: { method: string; params?: unknown[] }) =>
          down ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8545')) : raw.request(args),
      },
      DEV_CHAIN_ID,
      { cacheTimeout: -1 },
    );
    const readings = await new MeterReadings__factory(c.f.admin).deploy(
      c.f.admin.address,
      await c.f.registry.getAddress(),
      await c.f.token.getAddress(),
      0n,
      0n,
    );
    const log = recordingLog();
    await hubUp(c, {
      provider: flaky,
      wallet: new Wallet(c.f.hub.privateKey, flaky),
      log,
      contracts: {
        PaymentChannels: c.f.deployment.channels,
        GatewayRegistry: await c.f.registry.getAddress(),
        MeterReadings: await readings.getAddress(),
      },
    });
    await openAndStart(c, flaky, { sendReadings: true });
    await day(c, 2);
    await settled(c, 'the first readings accepted');

    down = true;
    await c.payer.check();
    assert.match(c.payer.state().lastError ?? '', /^chain: /, 'the payer notices the outage');
    c.nowS += 3600;
    await day(c, 4); // an hour of the meter's clock
    await c.hub.tick(); // readings cannot be submitted
    await until(() => c.payer.state().voucher?.acked, 'vouchers of a known channel acked without the chain');
    await until(() => c.payer.state().reading?.status === 'queued', 'the newest reading queued at the hub');
    assert.ok(
      log.lines.some((l) => /hub: readings: .*does not answer|ECONNREFUSED/.test(l)),
      log.lines.join('\n'),
    );

    down = false;
    await settled(c, 'the queued readings settled');
    await c.payer.check();
    assert.is(c.payer.state().lastError, null, 'the payer is back');
    const latest = await readings.latestOf(c.f.deviceId);
    assert.is(Number(latest.seq), c.payer.state().reading!.seq, 'every reading reached the chain');
    assert.is(latest.importWh, BigInt(Math.floor(c.wh)));
    assert.is(c.payer.state().cumulativeAmountWei, expected(c).toString());
    const channelId = BigInt(c.payer.state().channelId!);
    const before = await c.f.token.balanceOf(c.f.hub.address);
    await c.hub.close(channelId);
    assert.is((await c.f.token.balanceOf(c.f.hub.address)) - before, expected(c));
  },
);

faults(
  'the payer starts an exit: the hub closes with the newest voucher in time; the payer opens the next',
  async (c) => {
    await hubUp(c);
    await openAndStart(c);
    await day(c, 6);
    await until(() => c.payer.state().voucher?.acked, 'the vouchers acked');
    const channelId = BigInt(c.payer.state().channelId!);
    await c.hub.tick(); // the hub watches events from here on
    // The payer concedes nothing, hoping the hub sleeps through the challenge period.
    const exitAt = await startExit(c.f, channelId, 0n);
    const before = await c.f.token.balanceOf(c.f.hub.address);
    // The hub's periodic work (ticked by hand) sees ExitStarted and closes.
    await until(async () => {
      await c.hub.tick();
      return (await c.f.channels.channelOf(channelId)).deposit === 0n;
    }, 'the hub to close the exiting channel');
    const closed = await c.f.channels.channelOf(channelId);
    assert.is(closed.deposit, 0n, 'closed');
    assert.ok(
      BigInt((await c.f.chain.provider.getBlock('latest'))!.timestamp) < exitAt,
      'before the exit matured',
    );
    assert.is((await c.f.token.balanceOf(c.f.hub.address)) - before, expected(c), 'with the newest voucher');
    // The payer sees the close and opens the next channel with what came back.
    await c.payer.check();
    await until(
      () => c.payer.state().channelId !== null && c.payer.state().channelId !== channelId.toString(),
      'the next channel',
    );
  },
);

faults.run();
