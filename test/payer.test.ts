/**
 * The payer's billing loop (gateway/channel/) against a fresh dev chain with PaymentChannels, a
 * real MQTT broker and a stand-in hub (helpers/payer-hub.ts): exact money over a day of cycles,
 * the hub's close, a restart with an unacked voucher, top-up and the low-balance relay, the next
 * channel after a close.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt, { type MqttClient } from 'mqtt';
import { parseEther } from 'ethers';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker/embedded';
import { billTo, ergonToWei, initialBilling, startChannel } from '../gateway/channel/billing';
import { payerChain } from '../gateway/channel/chain';
import { Payer, type PayerOptions, type PayerRecord, type PriceAt } from '../gateway/channel/payer';
import { ManualClock } from '../gateway/devices/clock';
import { SimulatedRelay } from '../gateway/devices/sim-relay';
import { InputError } from '../gateway/errors';
import { Journal, JOURNAL_DEFAULTS } from '../gateway/store/journal';
import { deployFixture, type Fixture } from './helpers/channels';
import { freePort, removeDir, tempDir, until as poll } from './helpers/gateway';
import { FakeMeter } from './helpers/fake-meter';
import { startTestHub, type TestHub } from './helpers/payer-hub';

const SERIAL = 'HEPEK-0001';
const T0 = Date.parse('2026-01-01T00:00:00Z');
const CYCLE_S = 900;
/** Odd prices so rounding and the carry matter: night and day, wei per kWh. */
const NIGHT = 213_456_789_012_345_679n;
const DAY = 351_234_567_890_123_457n;

const OPTIONS: PayerOptions = {
  cycleSeconds: CYCLE_S,
  depositErgon: 10,
  topUpBelowErgon: 0,
  topUpErgon: 5,
  challengePeriod: 3600,
  resendSeconds: 10,
  checkSeconds: 30,
  sendReadings: true,
  autoPurchase: { enabled: false, amountErgon: 10, belowErgon: 2 },
};

/** Time-of-use: night before 07:00 and from 22:00 (UTC), day in between. */
const priceOf = (timeS: number): bigint => {
  const hour = new Date(timeS * 1000).getUTCHours();
  return hour < 7 || hour >= 22 ? NIGHT : DAY;
};
const priceAt: PriceAt = (timeS) => ({ tariffId: hourTariff(timeS), weiPerKWh: priceOf(timeS) });
const hourTariff = (timeS: number) => (priceOf(timeS) === NIGHT ? 'tou-night' : 'tou-day');

interface Ctx {
  f: Fixture;
  broker: EmbeddedBroker;
  hubClient: MqttClient;
  payerClient: MqttClient;
  hub: TestHub;
  dir: string;
  journal: Journal<PayerRecord>;
  meter: FakeMeter;
  clock: ManualClock;
  relay: SimulatedRelay;
  payer: Payer;
  /** Meter time and counter of the last pushed reading. */
  t: number;
  wh: number;
}

async function makePayer(c: Ctx, options: Partial<PayerOptions> = {}, lowThresholdErgon = 1): Promise<Payer> {
  const addresses = { channels: c.f.deployment.channels, token: await c.f.token.getAddress() };
  return new Payer(
    { ...OPTIONS, ...options },
    {
      deviceId: c.f.deviceId,
      signer: c.f.device,
      domain: { chainId: 31337, ...addresses, readings: c.f.deployment.channels },
      payee: c.f.hub.address,
      chain: payerChain(c.f.chain.provider, addresses, c.f.device.address),
      mqtt: c.payerClient,
      topics: {
        open: `hepek/${SERIAL}/hub/open`,
        voucher: `hepek/${SERIAL}/hub/voucher`,
        reading: `hepek/${SERIAL}/hub/reading`,
        topup: `hepek/${SERIAL}/hub/topup`,
        ack: `hepek/${SERIAL}/hub/ack`,
      },
      journal: c.journal,
      meter: c.meter,
      priceAt,
      clock: c.clock,
      relay: c.relay,
      lowThresholdErgon,
    },
  );
}

/** Polls until `probe` is truthy (no timed assertion: the bound only turns a hang into a failure). */
const until = (probe: () => unknown, what: string, timeoutMs: number) =>
  poll(what, async () => ((await probe()) ? true : undefined), timeoutMs);

const payer = suite<Ctx>('payer', {} as Ctx);

payer.before.each(async (c) => {
  c.f = await deployFixture();
  c.broker = await startEmbeddedBroker({ host: '127.0.0.1', port: await freePort(), users: [] });
  c.hubClient = await mqtt.connectAsync(c.broker.url, { reconnectPeriod: 0 });
  c.payerClient = await mqtt.connectAsync(c.broker.url, { reconnectPeriod: 0 });
  c.hub = await startTestHub(c.hubClient, c.f.channels.connect(c.f.hub), c.f.deployment);
  c.dir = tempDir('hepek-payer-');
  c.journal = await Journal.open<PayerRecord>({ dir: c.dir, ...JOURNAL_DEFAULTS });
  c.meter = new FakeMeter();
  c.clock = new ManualClock(0);
  c.relay = new SimulatedRelay();
  c.t = T0;
  c.wh = 1234.56;
  c.meter.push(c.t, c.wh);
});

payer.after.each(async (c) => {
  await c.payer?.stop();
  await c.journal.close();
  await c.hub.stop();
  await c.payerClient.endAsync();
  await c.hubClient.endAsync();
  await c.broker.close();
  await c.f.chain.close();
  removeDir(c.dir);
});

/** The expected cumulative amount: Σ over cycle ends of whole-Wh delta × price, / 1000 rounded down. */
function expectedAmount(counters: Array<{ endS: number; wh: number }>, startWh: number): bigint {
  let exact = 0n;
  let billed = Math.floor(startWh);
  for (const { endS, wh } of counters) {
    exact += BigInt(Math.floor(wh) - billed) * priceOf(endS);
    billed = Math.floor(wh);
  }
  return exact / 1000n;
}

/** Drives readings and records the counter at each cycle end, as an independent oracle. */
async function day(c: Ctx, cycles: number, ends: Array<{ endS: number; wh: number }>) {
  for (let i = 0; i < cycles * 3; i++) {
    const prevSlot = Math.floor(c.t / 1000 / CYCLE_S);
    c.t += 300_000;
    c.wh += 31.7 + (i % 7) * 4.9;
    c.meter.push(c.t, c.wh);
    const slot = Math.floor(c.t / 1000 / CYCLE_S);
    if (slot > prevSlot) ends.push({ endS: slot * CYCLE_S, wh: c.wh });
    await c.payer.idle();
  }
}

async function opened(c: Ctx): Promise<string> {
  await until(() => c.payer.state().channelId, 'the channel to open', 20_000);
  return c.payer.state().channelId!;
}

payer(
  'a consumer day: Σ vouchers = Σ(import delta × tariff) exactly; the hub closes and gets exactly that',
  async (c) => {
    c.payer = await makePayer(c);
    c.payer.start();
    const channelId = await opened(c);
    const startWh = c.wh;
    const ends: Array<{ endS: number; wh: number }> = [];
    await day(c, 96, ends);
    assert.is(ends.length, 96);
    const expected = expectedAmount(ends, startWh);
    await until(() => c.payer.state().voucher?.acked, 'the newest voucher acked', 20_000);
    assert.is(c.payer.state().cumulativeAmountWei, expected.toString());
    assert.is(c.payer.state().ackedAmountWei, expected.toString());
    assert.is(c.payer.state().cycle, 96);
    // One reading per cycle went to the hub with the whole-Wh counters.
    await until(() => c.hub.readings.length === 96, '96 readings at the hub', 20_000);
    assert.is(c.hub.readings.at(-1)!.importWh, Math.floor(c.wh));
    const hubBefore = await c.f.token.balanceOf(c.f.hub.address);
    const paid = await c.hub.close(channelId);
    assert.is(paid, expected);
    assert.is((await c.f.token.balanceOf(c.f.hub.address)) - hubBefore, expected);
    assert.is(await c.f.token.balanceOf(c.f.device.address), parseEther('100') - expected);
  },
);

payer('restart with an unacked voucher: the same voucher is resent, nothing is billed twice', async (c) => {
  c.payer = await makePayer(c);
  c.payer.start();
  await opened(c);
  const startWh = c.wh;
  const ends: Array<{ endS: number; wh: number }> = [];
  await day(c, 4, ends);
  await until(() => c.payer.state().voucher?.acked, 'voucher 3 acked', 20_000);
  c.hub.deaf = true;
  await day(c, 1, ends);
  const pending = c.payer.state().voucher!;
  assert.is(pending.acked, false);
  // The process dies: no clean stop of the payer logic beyond its timers; the journal is reopened.
  await c.payer.stop();
  await c.journal.close();
  c.journal = await Journal.open<PayerRecord>({ dir: c.dir, ...JOURNAL_DEFAULTS });
  c.payer = await makePayer(c);
  assert.equal(c.payer.state().voucher, { id: pending.id, acked: false });
  c.hub.deaf = false;
  c.payer.start();
  await until(() => c.payer.state().voucher?.acked, 'the resent voucher acked', 20_000);
  assert.ok(c.hub.received.includes(pending.id));
  await day(c, 3, ends);
  await until(() => c.payer.state().voucher?.acked, 'the last voucher acked', 20_000);
  assert.is(c.payer.state().cumulativeAmountWei, expectedAmount(ends, startWh).toString());
  assert.is(c.payer.state().cycle, 8);
  const ids = [...c.hub.newest.values()].map((v) => v.id);
  assert.equal(ids, [`voucher-${c.payer.state().channelId}-7`]);
});

payer('an unacked voucher is resent every resendSeconds under the same id until acked', async (c) => {
  c.payer = await makePayer(c);
  c.payer.start();
  await opened(c);
  c.hub.deaf = true;
  await day(c, 1, []);
  const id = c.payer.state().voucher!.id;
  c.hub.deaf = false;
  c.clock.advance(10_000);
  await until(() => c.payer.state().voucher?.acked, 'acked after the resend', 20_000);
  // Resends reuse the id, so the hub holds the voucher once however often it arrived.
  assert.ok(c.hub.received.length >= 1);
  assert.ok(c.hub.received.every((r) => r === id));
  assert.is(c.hub.newest.size, 1);
});

payer(
  'low balance opens the relay; a top-up keeps the channel funded; fresh ERGON closes the relay',
  async (c) => {
    c.payer = await makePayer(c, { topUpBelowErgon: 9.5, topUpErgon: 5 }, 99.5);
    c.payer.start();
    const channelId = await opened(c);
    assert.is(c.relay.state().on, true);
    await day(c, 40, []);
    await until(() => c.payer.state().voucher?.acked, 'acked', 20_000);
    const spent = BigInt(c.payer.state().ackedAmountWei);
    assert.ok(spent > parseEther('0.5'), `spent ${spent}`);
    await c.payer.check();
    assert.is(c.relay.state().on, false);
    assert.is(c.relay.state().reason, 'balance below threshold');
    await until(
      async () => (await c.f.channels.channelOf(BigInt(channelId))).deposit === parseEther('15'),
      'the top-up',
      20_000,
    );
    await c.payer.check();
    assert.is(c.payer.state().depositWei, parseEther('15').toString());
    // A purchase lands in the wallet (minted by the operator): spendable is back above the threshold.
    await (await c.f.token.mint(c.f.device.address, parseEther('2'))).wait();
    await c.payer.check();
    assert.is(c.relay.state().on, true);
    assert.is(c.relay.state().reason, 'balance restored');
  },
);

payer(
  'after the hub closes the channel the payer opens the next one and the sub-wei carry goes along',
  async (c) => {
    c.payer = await makePayer(c);
    c.payer.start();
    const first = await opened(c);
    const startWh = c.wh;
    const ends: Array<{ endS: number; wh: number }> = [];
    await day(c, 10, ends);
    await until(() => c.payer.state().voucher?.acked, 'acked', 20_000);
    const paid1 = await c.hub.close(first);
    await c.payer.check();
    await until(
      () => c.payer.state().channelId !== null && c.payer.state().channelId !== first,
      'a new channel',
      20_000,
    );
    const second = c.payer.state().channelId!;
    await day(c, 10, ends);
    await until(() => c.payer.state().voucher?.acked, 'acked', 20_000);
    const paid2 = await c.hub.close(second);
    // Two channels, one bill: the sum paid equals Σ(delta × price) / 1000 within the final carry.
    const total = expectedAmount(ends, startWh);
    assert.ok(total - (paid1 + paid2) <= 1n, `${total} vs ${paid1 + paid2}`);
    assert.is(await c.f.token.balanceOf(c.f.device.address), parseEther('100') - paid1 - paid2);
  },
);

payer.run();

const billing = suite('billing');

billing('Σ cumulative = ⌊Σ(delta × price) / 1000⌋ over random cycles and tariffs (fixed seed)', () => {
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let state = initialBilling(0);
  let exact = 0n;
  let counter = 0;
  for (let i = 0; i < 5000; i++) {
    counter += rnd() * 400;
    const price = BigInt(Math.floor(rnd() * 1e9)) * 1_000_000_007n + 1n;
    const before = state.billedImportWh;
    state = billTo(state, counter, price).state;
    exact += BigInt(state.billedImportWh - before) * price;
    assert.is(state.cumulativeAmount, exact / 1000n);
  }
});

billing('a new channel restarts the amount at 0 and keeps the carry', () => {
  let s = billTo(initialBilling(0), 7, 1999n).state; // 13993 milli-wei → 13 wei + 993 carry
  assert.is(s.cumulativeAmount, 13n);
  s = startChannel(s, 5n);
  assert.is(s.cumulativeAmount, 0n);
  assert.is(s.exactMilliWei, 993n);
  assert.is(billTo(s, 8, 7n).state.cumulativeAmount, 1n); // 993 + 7 = 1000
});

billing('refusals name the field: a counter that goes back, a negative price', () => {
  const s = billTo(initialBilling(0), 100, 1n).state;
  assert.throws(
    () => billTo(s, 99, 1n),
    (e: unknown) => e instanceof InputError && /importWh: 99/.test(e.message),
  );
  assert.throws(
    () => billTo(s, 101, -1n),
    (e: unknown) => e instanceof InputError && e.field === 'weiPerKWh',
  );
});

billing('ergonToWei is exact for decimal settings', () => {
  assert.is(ergonToWei(0.1), 100_000_000_000_000_000n);
  assert.is(ergonToWei(10), 10n * 10n ** 18n);
  assert.is(ergonToWei(1e-7), 100_000_000_000n);
  assert.throws(() => ergonToWei(-1, 'channel.depositErgon'), /channel.depositErgon/);
});

billing.run();
