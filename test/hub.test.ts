import { rmSync } from 'node:fs';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { BrowserProvider, Wallet, parseEther } from 'ethers';
import mqtt from 'mqtt';
import { startEmbeddedBroker, type EmbeddedBroker } from '../gateway/broker/embedded';
import { channelIdOf, signOpen, signVoucher } from '../gateway/chain/channels';
import type { Tariff } from '../gateway/chain/typed-data';
import type { DemandEvent } from '../gateway/demand/types';
import { signReading } from '../gateway/chain/eip712';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import { MeterReadings__factory } from '../gateway/chain/types';
import type { Hub, HubOptions } from '../gateway/hub/hub';
import { judgeVoucher } from '../gateway/hub/verify';
import {
  encodeOpenMessage,
  encodeReadingMessage,
  encodeSignedTariff,
  encodeTopUpMessage,
  encodeVoucherMessage,
  hubDomain,
  hubTopics,
  signDemand,
  signTariff,
  verifyDemand,
  verifyTariff,
  type Ack,
  type OpenMessage,
} from '../gateway/hub/protocol';
import { DEV_CHAIN_ID, testKey } from './helpers/chain';
import {
  N,
  balance,
  enrol,
  fixtureSuite,
  openChannel,
  openRequest,
  permitFor,
  startExit,
  type Fixture,
} from './helpers/channels';
import { freePort } from './helpers/gateway';
import {
  deviceClient,
  hubOptions,
  recordingLog,
  startHub as openHub,
  type DeviceClient,
} from './helpers/hub';
import { brokerCredentialsFor } from '../gateway/broker/auth';
import { parseHubSettings, startHub as startHubService } from '../gateway/hub';
import { waitForMessages } from './helpers/mqtt';

const SERIAL = 'HEPEK-0001'; // the fixture's device id is keccak256 of it

function highSTwin(sig: string): string {
  const s = BigInt('0x' + sig.slice(66, 130));
  const v = parseInt(sig.slice(130), 16);
  return sig.slice(0, 66) + (N - s).toString(16).padStart(64, '0') + (v === 27 ? '1c' : '1b');
}

const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
async function startHub(f: Fixture, over: Partial<HubOptions> = {}): Promise<Hub> {
  const hub = await openHub(f, over);
  dirs.push(hub.store.dir);
  cleanups.unshift(() => hub.stop()); // idempotent: also when a test failed before its own stop
  return hub;
}

async function broker(): Promise<EmbeddedBroker> {
  const b = await startEmbeddedBroker({ host: '127.0.0.1', port: await freePort(), users: [] });
  cleanups.push(() => b.close());
  return b;
}

async function device(url: string): Promise<DeviceClient> {
  const d = await deviceClient(url);
  cleanups.unshift(() => d.close());
  return d;
}

async function deployReadings(f: Fixture): Promise<string> {
  const readings = await new MeterReadings__factory(f.admin).deploy(
    f.admin.address,
    await f.registry.getAddress(),
    await f.token.getAddress(),
    0n,
    0n,
  );
  return readings.getAddress();
}

/** A signed reading of the fixture's device as its wire payload. */
async function readingPayload(
  f: Fixture,
  readingsAddress: string,
  seq: bigint,
  timestamp: bigint,
  importWh: bigint,
): Promise<{ id: string; payload: string }> {
  const r = await signReading(
    f.device,
    { chainId: DEV_CHAIN_ID, verifyingContract: readingsAddress },
    { deviceId: f.deviceId, seq, timestamp, importWh, exportWh: 0n, batteryPermille: 500 },
  );
  const { r: rr, vs, ...reading } = r;
  const s = BigInt(vs);
  const sig = `0x${rr.slice(2)}${(s & ((1n << 255n) - 1n)).toString(16).padStart(64, '0')}${s >> 255n ? '1c' : '1b'}`;
  const id = `reading-${seq}-${importWh}`;
  return { id, payload: JSON.stringify(encodeReadingMessage({ id, reading, signature: sig })) };
}

/** Registers, claims and funds (100 ERGON, no ETH) another device key under `serial`. */
async function secondDevice(f: Fixture, serial: string, label: string): Promise<Wallet> {
  const key = new Wallet(testKey(label), f.chain.provider);
  await enrol(f, deviceIdFromSerial(serial), key);
  await (await f.token.mint(key.address, parseEther('100'))).wait();
  return key;
}

async function voucherPayload(
  f: Fixture,
  channelId: bigint,
  amount: bigint,
  opts: { signer?: Wallet; cycle?: number; signature?: string } = {},
): Promise<string> {
  const signature =
    opts.signature ??
    (await signVoucher(opts.signer ?? f.device, f.deployment, { channelId, cumulativeAmount: amount }));
  return JSON.stringify(
    encodeVoucherMessage({
      id: `voucher-${channelId}-${opts.cycle ?? 0}-${amount}`,
      channelId,
      cumulativeAmount: amount,
      cycle: opts.cycle ?? 0,
      importWh: 0,
      tariffId: 't',
      signature,
    }),
  );
}

function code(ack: Ack | null): string {
  assert.ok(ack);
  return ack.ok ? 'ok' : ack.code;
}

const test = fixtureSuite('hub');

test.after.each(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test('over MQTT: a voucher is accepted; every refusal code is acked and logged with its reason', async ({
  f,
}) => {
  const log = recordingLog();
  const hub = await startHub(f, { log });
  const { url } = await broker();
  await hub.connect(url);
  const dev = await device(url);
  const channelId = await openChannel(f, { payee: f.hub.address });
  const ok = await voucherPayload(f, channelId, parseEther('1'));
  // A second device with its own channel: its voucher sent on our serial is cross-channel.
  const other = new Wallet(testKey('device-2'), f.chain.provider);
  await enrol(f, deviceIdFromSerial('HEPEK-0002'), other);
  await (await f.token.mint(other.address, parseEther('10'))).wait();
  const otherChannel = await openChannel(f, { payer: other.address, payee: f.hub.address }, other);
  // A channel with another payee.
  const foreign = new Wallet(testKey('device-3'), f.chain.provider);
  await enrol(f, deviceIdFromSerial('HEPEK-0003'), foreign);
  await (await f.token.mint(foreign.address, parseEther('10'))).wait();
  const foreignChannel = await openChannel(f, { payer: foreign.address, payee: f.other.address }, foreign);
  // Registered but never claimed: not an active device.
  const unclaimed = new Wallet(testKey('device-4'), f.chain.provider);
  await enrol(f, deviceIdFromSerial('HEPEK-0004'), unclaimed, false);

  const signed = await signVoucher(f.device, f.deployment, {
    channelId,
    cumulativeAmount: parseEther('0.5'),
  });
  const idOf = (payload: string): string => {
    try {
      return (JSON.parse(payload) as { id: string }).id;
    } catch {
      return '';
    }
  };
  const cases: Array<[string, string, string, string]> = [
    ['accepted', SERIAL, ok, 'ok'],
    ['resent (same id, same voucher)', SERIAL, ok, 'ok'],
    ['stale', SERIAL, await voucherPayload(f, channelId, parseEther('0.5'), { cycle: 1 }), 'stale'],
    ['over-deposit', SERIAL, await voucherPayload(f, channelId, parseEther('11')), 'over-deposit'],
    [
      'wrong-signer',
      SERIAL,
      await voucherPayload(f, channelId, parseEther('2'), { signer: f.other }),
      'wrong-signer',
    ],
    [
      'high-s twin of a valid voucher',
      SERIAL,
      await voucherPayload(f, channelId, parseEther('0.5'), { signature: highSTwin(signed) }),
      'high-s',
    ],
    [
      'cross-channel (another device’s channel)',
      SERIAL,
      await voucherPayload(f, otherChannel, 1n, { signer: other }),
      'wrong-channel',
    ],
    [
      'a channel with another payee',
      'HEPEK-0003',
      await voucherPayload(f, foreignChannel, 1n, { signer: foreign }),
      'wrong-channel',
    ],
    ['unknown channel', SERIAL, await voucherPayload(f, channelId + 1n, 1n), 'unknown-channel'],
    ['never registered', 'HEPEK-9999', ok, 'unregistered'],
    ['registered, not claimed', 'HEPEK-0004', ok, 'unregistered'],
    ['not JSON', SERIAL, '{nope', 'malformed'],
    [
      'bad field',
      SERIAL,
      JSON.stringify({ ...JSON.parse(ok), id: 'bad-1', cumulativeAmount: 5 }),
      'malformed',
    ],
  ];
  for (const [name, serial, payload, expected] of cases) {
    const ack = await dev.request(serial, 'voucher', payload, idOf(payload));
    assert.is(code(ack), expected, name);
    if (ack.ok) continue;
    assert.match(
      ack.reason,
      /is not allowed; expected/,
      `${name}: the reason names value and what is allowed`,
    );
    const line = log.lines.find((l) => l.includes(`${expected}: ${ack.reason}`));
    assert.ok(line, `${name}: logged with code and reason`);
    assert.ok(line.includes(serial), `${name}: the log names the serial`);
  }
  const bad = dev.acks.find((a) => a.ack.id === 'bad-1')!.ack;
  assert.ok(!bad.ok && /voucher\.cumulativeAmount: 5 is not allowed/.test(bad.reason));
  const held = await dev.request(
    SERIAL,
    'voucher',
    await voucherPayload(f, channelId, parseEther('2'), { cycle: 2 }),
    `voucher-${channelId}-2-${parseEther('2')}`,
  );
  assert.equal(held, {
    id: `voucher-${channelId}-2-${parseEther('2')}`,
    ok: true,
    kind: 'voucher',
    result: { channelId: channelId.toString(), cumulativeAmount: parseEther('2').toString() },
  });
  // A resend of an older, already superseded voucher: acked with the newest the hub holds.
  const again = await dev.request(SERIAL, 'voucher', ok, idOf(ok));
  assert.equal(
    again.ok && again.kind === 'voucher' && again.result.cumulativeAmount,
    parseEther('2').toString(),
  );
  assert.is(hub.stats.accepted, 4);
  // The dry verification (what the hub benchmark measures) judges alike and accepts nothing.
  const dry = await voucherPayload(f, channelId, parseEther('3'), { cycle: 3 });
  assert.is(await hub.verifyVoucher(SERIAL, dry), null);
  assert.is(
    (await hub.verifyVoucher(SERIAL, await voucherPayload(f, channelId, parseEther('1'), { cycle: 5 })))
      ?.code,
    'stale',
  );
  assert.is((await hub.verifyVoucher('HEPEK-9999', dry))?.code, 'unregistered');
  assert.is((await hub.verifyVoucher(SERIAL, '{nope'))?.code, 'malformed');
  assert.is(hub.books.get(channelId.toString())?.held?.cumulativeAmount, parseEther('2'), 'nothing accepted');
  assert.is(hub.stats.accepted, 4);
  await hub.stop();
});

test('hub restart mid-stream over MQTT: the books resume from the journal, 0 vouchers lost; close pays exactly', async ({
  f,
}) => {
  const hub = await startHub(f);
  const { url } = await broker();
  // A persistent session under a fixed client id: the broker keeps requests while the hub is down.
  await hub.connect(url, { clientId: 'hepek-hub-test' });
  const dev = await device(url);
  // One open channel per payer (the contract's rule): the second channel is a second device's.
  const second = await secondDevice(f, 'HEPEK-0002', 'device-2');
  const payers = [
    { serial: SERIAL, signer: f.device, channelId: await openChannel(f, { payee: f.hub.address }) },
    {
      serial: 'HEPEK-0002',
      signer: second,
      channelId: await openChannel(f, { payer: second.address, payee: f.hub.address }, second),
    },
  ];
  const channels = payers.map((p) => p.channelId);
  const step = 123_456_789n;
  const send = async (cycle: number, wait: boolean) => {
    const results: Array<Promise<Ack>> = [];
    for (const { serial, signer, channelId } of payers) {
      const payload = await voucherPayload(f, channelId, step * BigInt(cycle), { cycle, signer });
      const id = JSON.parse(payload).id as string;
      if (wait) results.push(dev.request(serial, 'voucher', payload, id));
      else {
        results.push(dev.ackOf(serial, id));
        await dev.client.publishAsync(hubTopics.voucher(serial), payload, { qos: 1 });
      }
    }
    return results;
  };
  const acks: Array<Promise<Ack>> = [];
  for (let cycle = 1; cycle <= 5; cycle++) acks.push(...(await send(cycle, true)));
  await Promise.all(acks);
  await hub.stop();
  // Billing goes on while the hub is down: these wait in the broker's session.
  for (let cycle = 6; cycle <= 10; cycle++) acks.push(...(await send(cycle, false)));

  const again = await startHub(f, { dir: hub.store.dir });
  for (const channelId of channels)
    assert.is(
      again.books.get(channelId.toString())?.held?.cumulativeAmount,
      5n * step,
      'reloaded from the journal',
    );
  await again.connect(url, { clientId: 'hepek-hub-test' });
  const all = await Promise.all(acks);
  assert.is(all.length, 20);
  assert.ok(
    all.every((a) => a.ok),
    JSON.stringify(all.filter((a) => !a.ok)),
  );
  for (const channelId of channels)
    assert.is(again.books.get(channelId.toString())?.held?.cumulativeAmount, 10n * step, '0 lost');
  assert.is(
    code(
      await again.handle(
        hubTopics.voucher(SERIAL),
        await voucherPayload(f, channels[0]!, step, { cycle: 99 }),
      ),
    ),
    'stale',
  );
  const payerBefore = await balance(f, f.device);
  const hubBefore = await balance(f, f.hub);
  assert.ok(await again.close(channels[0]!));
  assert.is((await balance(f, f.hub)) - hubBefore, 10n * step);
  assert.is((await balance(f, f.device)) - payerBefore, parseEther('10') - 10n * step);
  assert.is(again.store.vouchers.size, 1, 'the closed channel left the books');
  await again.stop();
  // And a third start sees the close and the other channel's newest voucher.
  const third = await startHub(f, { dir: hub.store.dir });
  assert.ok(third.store.closed.has(channels[0]!.toString()));
  assert.is(third.books.get(channels[1]!.toString())?.held?.cumulativeAmount, 10n * step);
  await third.stop();
});

test('an exit is closed with the newest voucher before the challenge period ends', async ({ f }) => {
  const hub = await startHub(f);
  await hub.tick(); // sets the block the event watch starts from
  const channelId = await openChannel(f, { payee: f.hub.address });
  assert.is(
    code(await hub.handle(hubTopics.voucher(SERIAL), await voucherPayload(f, channelId, parseEther('3')))),
    'ok',
  );
  // The payer concedes less than it signed, hoping the hub sleeps through the exit.
  const exitAt = await startExit(f, channelId, parseEther('1'));
  const hubBefore = await balance(f, f.hub);
  await hub.tick();
  const state = await f.channels.channelOf(channelId);
  assert.is(state.deposit, 0n, 'closed');
  assert.ok(BigInt((await f.chain.provider.getBlock('latest'))!.timestamp) < exitAt);
  assert.is((await balance(f, f.hub)) - hubBefore, parseEther('3'));
  await hub.stop();
});

test('close when nearly spent, and on the schedule', async ({ f }) => {
  let now = 1_000_000;
  const hub = await startHub(f, { closeSpentPercent: 90, closeIntervalSeconds: 3600, now: () => now });
  const channelId = await openChannel(f, { payee: f.hub.address });
  const topic = hubTopics.voucher(SERIAL);
  await hub.handle(topic, await voucherPayload(f, channelId, parseEther('8.9')));
  await hub.tick();
  assert.ok((await f.channels.channelOf(channelId)).deposit > 0n, 'below 90 %: still open');
  await hub.handle(topic, await voucherPayload(f, channelId, parseEther('9')));
  await hub.tick();
  assert.is((await f.channels.channelOf(channelId)).deposit, 0n, '90 % spent: closed');

  const second = await openChannel(f, { payee: f.hub.address });
  await hub.handle(topic, await voucherPayload(f, second, 1n));
  await hub.tick();
  assert.ok((await f.channels.channelOf(second)).deposit > 0n, 'not yet scheduled');
  now += 3600;
  await hub.tick();
  assert.is((await f.channels.channelOf(second)).deposit, 0n, 'closed on the schedule');
  await hub.stop();
});

test('over MQTT: a relayed Open + permit and a relayed top-up (the device has no ETH); forged Opens are refused', async ({
  f,
}) => {
  const log = recordingLog();
  const hub = await startHub(f, { log });
  const { url } = await broker();
  await hub.connect(url);
  const dev = await device(url);
  assert.is(await f.chain.provider.getBalance(f.device.address), 0n, 'the device holds no ETH');
  const open = openRequest(f, { payee: f.hub.address });
  const signature = await signOpen(f.device, f.deployment, open);
  const permit = await permitFor(f, open.deposit);
  const forged = await signOpen(f.other, f.deployment, open);
  const refused: Array<[string, OpenMessage, string]> = [
    ['signed by another key', { id: 'o-0', open, signature: forged, permit }, 'wrong-signer'],
    [
      'another payee',
      { id: 'o-x', open: { ...open, payee: f.other.address }, signature, permit },
      'wrong-channel',
    ],
    ['high-s', { id: 'o-s', open, signature: highSTwin(signature), permit }, 'high-s'],
  ];
  for (const [name, msg, expected] of refused) {
    const ack = await dev.request(SERIAL, 'open', encodeOpenMessage(msg), msg.id);
    assert.is(code(ack), expected, name);
    assert.ok(!ack.ok && log.lines.some((l) => l.includes(`${expected}: ${ack.reason}`)), `${name}: logged`);
  }
  const payload = encodeOpenMessage({ id: 'o-1', open, signature, permit });
  const ack = await dev.request(SERIAL, 'open', payload, 'o-1');
  assert.ok(ack.ok && ack.kind === 'open', JSON.stringify(ack));
  const channelId = BigInt(ack.ok && ack.kind === 'open' ? ack.result.channelId : 0);
  assert.is(channelId, channelIdOf(f.device.address, 0n));
  assert.is((await f.channels.channelOf(channelId)).deposit, open.deposit);
  assert.equal(await dev.request(SERIAL, 'open', payload, 'o-1'), ack, 'a resent open gets the same answer');

  const topPermit = await permitFor(f, parseEther('5'));
  const topMsg = encodeTopUpMessage({ id: 't-1', channelId, amount: parseEther('5'), permit: topPermit });
  const top = await dev.request(SERIAL, 'topup', topMsg, 't-1');
  assert.ok(top.ok && top.kind === 'topup', JSON.stringify(top));
  assert.is(top.ok && top.kind === 'topup' ? top.result.deposit : '', parseEther('15').toString());
  assert.is((await f.channels.channelOf(channelId)).deposit, parseEther('15'));
  assert.equal(
    await dev.request(SERIAL, 'topup', topMsg, 't-1'),
    top,
    'a resent top-up is not relayed twice',
  );
  assert.is((await f.channels.channelOf(channelId)).deposit, parseEther('15'));
  // The new deposit counts at once: a voucher above the old deposit is accepted.
  const v = await voucherPayload(f, channelId, parseEther('12'));
  assert.is(code(await dev.request(SERIAL, 'voucher', v, JSON.parse(v).id)), 'ok');
  const foreignTop = encodeTopUpMessage({
    id: 't-2',
    channelId: channelId + 1n,
    amount: 1n,
    permit: topPermit,
  });
  assert.is(code(await dev.request(SERIAL, 'topup', foreignTop, 't-2')), 'unknown-channel');
  await hub.stop();
});

test('over MQTT: readings are queued, relayed in one batch and acked accepted or rejected with the reason', async ({
  f,
}) => {
  const readingsAddress = await deployReadings(f);
  const hub = await startHub(f, {
    contracts: {
      PaymentChannels: f.deployment.channels,
      GatewayRegistry: await f.registry.getAddress(),
      MeterReadings: readingsAddress,
    },
  });
  const { url } = await broker();
  await hub.connect(url);
  const dev = await device(url);
  const t0 = BigInt((await f.chain.provider.getBlock('latest'))!.timestamp) - 100n;
  const batch = [
    await readingPayload(f, readingsAddress, 1n, t0, 100n),
    await readingPayload(f, readingsAddress, 2n, t0 + 10n, 150n),
    await readingPayload(f, readingsAddress, 2n, t0 + 20n, 160n), // the same seq again
    await readingPayload(f, readingsAddress, 3n, t0 + 30n, 120n), // the import counter went back
  ];
  for (const { id, payload } of batch) {
    const ack = await dev.request(SERIAL, 'reading', payload, id);
    assert.ok(ack.ok && ack.kind === 'reading' && ack.result.status === 'queued', JSON.stringify(ack));
  }
  const blockBefore = await f.chain.provider.getBlockNumber();
  const settled = Promise.all(batch.map(({ id }) => dev.ackOf(SERIAL, id)));
  await hub.tick();
  const results = await settled;
  assert.is(await f.chain.provider.getBlockNumber(), blockBefore + 1, 'one transaction for the batch');
  assert.equal(
    results.map((a) => (a.ok && a.kind === 'reading' ? [a.result.status, a.result.reason ?? null] : null)),
    [
      ['accepted', null],
      ['accepted', null],
      ['rejected', 'SeqNotIncreasing'],
      ['rejected', 'ImportDecreased'],
    ],
  );
  assert.is(hub.store.readings.size, 0);
  assert.equal(
    await dev.request(SERIAL, 'reading', batch[2]!.payload, batch[2]!.id),
    results[2],
    'idempotent',
  );
  const wrong = JSON.parse(batch[0]!.payload) as { reading: { deviceId: string } };
  wrong.reading.deviceId = deviceIdFromSerial('HEPEK-0002').toLowerCase();
  assert.is(code(await dev.request(SERIAL, 'reading', { ...wrong, id: 'r-x' }, 'r-x')), 'wrong-channel');
  await hub.stop();
});

test('broadcasts: signed DEMAND and tariff are retained and verify with the hub address; forged ones do not', async ({
  f,
}) => {
  const hub = await startHub(f);
  const { url } = await broker();
  await hub.connect(url);
  const now = 1_800_000_000;
  const event: DemandEvent = {
    id: 'ev-1',
    region: 'nl',
    start: now + 60,
    end: now + 3600,
    level: 2,
    targetKw: 2.5,
    expiry: now + 3600,
  };
  const tariff: Tariff = {
    id: 'tou-1',
    region: 'nl',
    validFrom: now,
    validUntil: now + 86_400,
    periodStarts: [now, now + 25_200, now + 82_800],
    weiPerKWh: [parseEther('0.2'), parseEther('0.3'), parseEther('0.2')],
  };
  await hub.publishDemand(event);
  await hub.publishTariff(tariff);
  // A gateway subscribing later gets both retained, and checks them against the hub it trusts.
  const [demandText] = await waitForMessages(url, hubTopics.demand('nl'), () => true, 5000);
  const [tariffText] = await waitForMessages(url, hubTopics.tariff('nl'), () => true, 5000);
  const trust = { hub: f.hub.address, region: 'nl', nowS: now };
  const domain = hubDomain(DEV_CHAIN_ID, await f.registry.getAddress());
  assert.equal(verifyDemand(domain, JSON.parse(demandText!), trust), event);
  assert.equal(verifyTariff(domain, JSON.parse(tariffText!), trust), tariff);

  const forged = await signDemand(f.other, domain, event);
  assert.throws(
    () => verifyDemand(domain, forged, trust),
    /demand\.signature: .* a signature by the trusted hub/,
  );
  const tampered = { ...JSON.parse(demandText!), event: { ...event, targetKw: 0 } };
  assert.throws(() => verifyDemand(domain, tampered, trust), /trusted hub/);
  const forgedTariff = encodeSignedTariff(await signTariff(f.other, domain, tariff));
  assert.throws(
    () => verifyTariff(domain, forgedTariff, trust),
    /tariff\.signature: .* a signature by the trusted hub/,
  );
  const cheaper = JSON.parse(tariffText!) as { tariff: { weiPerKWh: string[] } };
  cheaper.tariff.weiPerKWh[1] = '1';
  assert.throws(() => verifyTariff(domain, cheaper, trust), /trusted hub/);
  // Another chain's hub domain (a replay from elsewhere) does not verify either.
  const elsewhere = hubDomain(1, await f.registry.getAddress());
  assert.throws(() => verifyDemand(elsewhere, JSON.parse(demandText!), trust), /trusted hub/);
  assert.throws(
    () => verifyDemand(domain, JSON.parse(demandText!), { ...trust, nowS: event.expiry }),
    /expiry/,
  );

  await hub.clearDemand('nl');
  const cleared = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  const seen: string[] = [];
  const marker = new Promise<void>((resolve) =>
    cleared.on('message', (topic) => (topic === 'test/marker' ? resolve() : seen.push(topic))),
  );
  await cleared.subscribeAsync([hubTopics.demand('nl'), hubTopics.tariff('nl'), 'test/marker'], { qos: 1 });
  // Retained messages are sent on subscribe, before anything published after it is routed.
  await cleared.publishAsync('test/marker', 'x', { qos: 1 });
  await marker;
  await cleared.endAsync();
  assert.equal(seen, [hubTopics.tariff('nl')], 'the cleared DEMAND is gone, the tariff stays');
  await hub.stop();
});

test('JSON-RPC outage for an hour: readings and relays queue, vouchers of known channels still verify, all settle afterwards', async ({
  f,
}) => {
  let down = false;
  const raw = f.chain.raw;
  const flaky = new BrowserProvider(
    {
      request: (args: { method: string; params?: unknown[] }) =>
        down ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8545')) : raw.request(args),
    },
    DEV_CHAIN_ID,
    { cacheTimeout: -1 },
  );
  let now = 1_000_000;
  const readingsAddress = await deployReadings(f);
  const hub = await startHub(f, {
    provider: flaky,
    wallet: new Wallet(testKey('wallet-5'), flaky),
    now: () => now,
    contracts: {
      PaymentChannels: f.deployment.channels,
      GatewayRegistry: await f.registry.getAddress(),
      MeterReadings: readingsAddress,
    },
  });
  const { url } = await broker();
  await hub.connect(url);
  const dev = await device(url);
  await hub.tick();
  const channelId = await openChannel(f, { payee: f.hub.address });
  const second = await secondDevice(f, 'HEPEK-0002', 'device-2');
  const unseen = await openChannel(f, { payer: second.address, payee: f.hub.address }, second);
  await hub.device('HEPEK-0002'); // a known device, but its channel has not been seen
  const ask = async (amount: bigint, cycle: number, channel = channelId) => {
    const mine = channel === channelId;
    const payload = await voucherPayload(f, channel, amount, { cycle, signer: mine ? f.device : second });
    return dev.request(mine ? SERIAL : 'HEPEK-0002', 'voucher', payload, JSON.parse(payload).id);
  };
  assert.is(code(await ask(10n, 0)), 'ok');
  const t0 = BigInt((await f.chain.provider.getBlock('latest'))!.timestamp) - 100n;
  down = true;
  now += 3600; // an hour of simulated time: the registry cache has expired, the last answer stands
  const known = await ask(20n, 1);
  assert.is(code(known), 'ok', 'a known channel needs no chain: ' + JSON.stringify(known));
  const unseenAck = await ask(5n, 0, unseen);
  assert.is(code(unseenAck), 'chain-unavailable', 'a channel the hub never saw needs the chain');
  assert.match(!unseenAck.ok ? unseenAck.reason : '', /does not answer/);
  const topPermit = await permitFor(f, parseEther('1'));
  const top = await dev.request(
    SERIAL,
    'topup',
    encodeTopUpMessage({ id: 't-1', channelId, amount: parseEther('1'), permit: topPermit }),
    't-1',
  );
  assert.is(code(top), 'chain-unavailable');
  const reading = await readingPayload(f, readingsAddress, 1n, t0, 100n);
  const queued = await dev.request(SERIAL, 'reading', reading.payload, reading.id);
  assert.ok(queued.ok && queued.kind === 'reading' && queued.result.status === 'queued', 'readings queue');
  await hub.tick(); // still down: nothing settles, nothing is lost
  assert.is(hub.store.readings.size, 1);
  assert.ok(!(await hub.close(channelId).catch(() => null)));
  down = false;
  const later = Promise.all([dev.ackOf(SERIAL, 't-1'), dev.ackOf(SERIAL, reading.id)]);
  await hub.tick();
  const [topAck, readingAck] = await later;
  assert.ok(
    topAck.ok && topAck.kind === 'topup',
    `the queued top-up was relayed and acked: ${JSON.stringify(topAck)}`,
  );
  assert.ok(readingAck.ok && readingAck.kind === 'reading' && readingAck.result.status === 'accepted');
  assert.is((await f.channels.channelOf(channelId)).deposit, parseEther('11'));
  assert.is(code(await ask(5n, 1, unseen)), 'ok', 'the payer resends; now it is accepted');
  const hubBefore = await balance(f, f.hub);
  assert.ok(await hub.close(channelId));
  assert.is((await balance(f, f.hub)) - hubBefore, 20n);
  await hub.stop();
});

test('startHub: logs in as hub@hepek on a broker with auth, publishes tariffs retained, answers a device on its own login', async ({
  f,
}) => {
  const secret = 'operator-broker-secret-for-the-hub-test';
  const lines: string[] = [];
  const b = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: await freePort(),
    users: [],
    auth: { secret, admins: [] },
    log: (l) => lines.push(l),
  });
  cleanups.push(() => b.close());
  const now = Math.floor(Date.now() / 1000);
  const tariff: Tariff = {
    id: 'flat-1',
    region: 'nl',
    validFrom: now - 60,
    validUntil: now + 86_400,
    periodStarts: [now - 60],
    weiPerKWh: [parseEther('0.25')],
  };
  const all = await hubOptions(f);
  dirs.push(all.dir);
  const { provider, wallet, chainId, contracts, dir, log } = all;
  const base = { provider, wallet, chainId, contracts, dir, log }; // the rest from the defaults
  // The wrong secret: the broker refuses the hub, and startHub leaves nothing running.
  const refused = await startHubService({ ...base, broker: { url: b.url, secret: 'not-the-secret' } }).then(
    () => 'started',
    (err: Error) => err.message,
  );
  assert.match(refused, /Not authorized|Bad username or password/i);
  const hub = await startHubService({
    ...base,
    region: 'nl',
    tickMs: 60_000,
    tariffs: [tariff],
    broker: { url: b.url, secret, client: { clientId: 'hepek-hub-start-test' } },
  });
  cleanups.unshift(() => hub.stop());
  assert.is(hub.options.closeSpentPercent, 90, 'defaults fill what was not given');
  const dev = await deviceClient(
    b.url,
    brokerCredentialsFor(secret, { device: SERIAL }),
    hubTopics.ack(SERIAL),
  );
  cleanups.unshift(() => dev.close());
  const retained = new Promise<string>((resolve) =>
    dev.client.on('message', (topic, payload) => {
      if (topic === hubTopics.tariff('nl')) resolve(payload.toString());
    }),
  );
  await dev.client.subscribeAsync(hubTopics.tariff('nl'), { qos: 1 });
  const domain = hubDomain(DEV_CHAIN_ID, await f.registry.getAddress());
  assert.equal(
    verifyTariff(domain, JSON.parse(await retained), { hub: f.hub.address, region: 'nl', nowS: now }),
    tariff,
  );
  const channelId = await openChannel(f, { payee: f.hub.address });
  const payload = await voucherPayload(f, channelId, 42n);
  assert.is(code(await dev.request(SERIAL, 'voucher', payload, JSON.parse(payload).id)), 'ok');
  assert.equal(
    { connected: hub.status().broker, accepted: hub.status().accepted },
    { connected: { connected: true }, accepted: 1 },
  );
  await hub.stop();
  assert.equal(hub.status().broker, { connected: false });
});

test('parseHubSettings: defaults, and every refusal names the field, the value and what is allowed', () => {
  assert.is(parseHubSettings({}).closeIntervalSeconds, 86_400);
  assert.is(parseHubSettings({ region: 'nl-north', tickMs: 1000 }).tickMs, 1000);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ closeSpentPercent: 150 }, /^hub\.closeSpentPercent: 150 is not allowed; expected percent/],
    [{ closeIntervalSeconds: -1 }, /^hub\.closeIntervalSeconds: -1 is not allowed/],
    [{ readingBatchSize: 0 }, /^hub\.readingBatchSize: 0 is not allowed; expected readings per transaction/],
    [{ deviceCacheSeconds: 1.5 }, /^hub\.deviceCacheSeconds: 1\.5 is not allowed/],
    [{ tickMs: '5000' }, /^hub\.tickMs: "5000" is not allowed/],
    [{ region: 'nl/north' }, /^hub\.region: "nl\/north" is not allowed; expected a region name/],
    [{ colour: 'red' }, /^hub\.colour: "red" is not allowed; expected one of region, /],
  ];
  for (const [raw, expected] of cases)
    assert.throws(() => parseHubSettings(raw), expected, JSON.stringify(raw));
});

test('differential: the hub accepts exactly the vouchers PaymentChannels.close accepts', async ({ f }) => {
  const hub = await startHub(f);
  const channelId = await openChannel(f, { payee: f.hub.address });
  const book = await hub.book(channelId);
  const keys = [f.device, f.other, new Wallet(testKey('stranger'))];
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        amount: fc.oneof(fc.bigInt(0n, parseEther('10')), fc.bigInt(parseEther('10'), parseEther('20'))),
        signer: fc.integer({ min: 0, max: 2 }),
        twin: fc.boolean(),
        otherChannel: fc.boolean(),
        tamper: fc.boolean(),
      }),
      async ({ amount, signer, twin, otherChannel, tamper }) => {
        const signedFor = otherChannel ? channelId + 1n : channelId;
        let sig = await signVoucher(keys[signer]!, f.deployment, {
          channelId: signedFor,
          cumulativeAmount: amount,
        });
        if (twin) sig = highSTwin(sig);
        if (tamper) sig = sig.slice(0, 10) + (sig[10] === 'a' ? 'b' : 'a') + sig.slice(11);
        const hubAccepts =
          judgeVoucher(hub.verifier, { ...book, held: null }, f.device.address, {
            id: 'x',
            channelId,
            cumulativeAmount: amount,
            cycle: 0,
            importWh: 0,
            tariffId: 't',
            signature: sig,
          }) === null;
        // The contract takes (r, vs): a high-s twin cannot be folded, so it is sent as s with the parity bit.
        const s = BigInt('0x' + sig.slice(66, 130));
        const parity = parseInt(sig.slice(130), 16) === 28 ? 1n : 0n;
        const vs = '0x' + ((s & ((1n << 255n) - 1n)) | (parity << 255n)).toString(16).padStart(64, '0');
        const r = '0x' + sig.slice(2, 66);
        const contractAccepts = await f.channels
          .connect(f.hub)
          .close.staticCall(channelId, amount, r, vs)
          .then(
            () => true,
            () => false,
          );
        assert.is(
          hubAccepts,
          contractAccepts,
          JSON.stringify({ amount: String(amount), signer, twin, otherChannel, tamper }),
        );
      },
    ),
    { numRuns: 60, seed: 6 },
  );
  await hub.stop();
});

test.run();
