import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { BrowserProvider, Wallet, parseEther } from 'ethers';
import { signOpen, signVoucher } from '../gateway/chain/channels';
import { signReading } from '../gateway/chain/eip712';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import { MeterReadings__factory } from '../gateway/chain/types';
import { Hub, type HubOptions } from '../gateway/hub/hub';
import { judgeVoucher } from '../gateway/hub/verify';
import {
  encodeOpenMessage,
  encodeReadingMessage,
  encodeTopUpMessage,
  encodeVoucherMessage,
  hubTopics,
  type Ack,
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

const SERIAL = 'HEPEK-0001'; // the fixture's device id is keccak256 of it
const quiet = { info: () => {}, warn: () => {} };

function highSTwin(sig: string): string {
  const s = BigInt('0x' + sig.slice(66, 130));
  const v = parseInt(sig.slice(130), 16);
  return sig.slice(0, 66) + (N - s).toString(16).padStart(64, '0') + (v === 27 ? '1c' : '1b');
}

const dirs: string[] = [];
async function startHub(f: Fixture, over: Partial<HubOptions> = {}): Promise<Hub> {
  const dir = over.dir ?? mkdtempSync(path.join(os.tmpdir(), 'hepek-hub-'));
  dirs.push(dir);
  return Hub.open({
    provider: f.chain.provider,
    wallet: f.hub,
    chainId: DEV_CHAIN_ID,
    contracts: {
      PaymentChannels: f.deployment.channels,
      GatewayRegistry: await f.registry.getAddress(),
      MeterReadings: null,
    },
    dir,
    region: 'nl',
    closeSpentPercent: 0,
    closeIntervalSeconds: 0,
    readingBatchSize: 50,
    deviceCacheSeconds: 60,
    log: quiet,
    ...over,
  });
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

test.after.each(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

test('accept/reject table: every code of docs/money-path.md', async ({ f }) => {
  const hub = await startHub(f);
  const channelId = await openChannel(f, { payee: f.hub.address });
  const topic = hubTopics.voucher(SERIAL);
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

  const signed = await signVoucher(f.device, f.deployment, {
    channelId,
    cumulativeAmount: parseEther('0.5'),
  });
  const cases: Array<[string, string, string | Buffer, string]> = [
    ['accepted', topic, ok, 'ok'],
    ['resent (same id, same voucher)', topic, ok, 'ok'],
    ['stale', topic, await voucherPayload(f, channelId, parseEther('0.5'), { cycle: 1 }), 'stale'],
    ['over-deposit', topic, await voucherPayload(f, channelId, parseEther('11')), 'over-deposit'],
    [
      'wrong-signer',
      topic,
      await voucherPayload(f, channelId, parseEther('2'), { signer: f.other }),
      'wrong-signer',
    ],
    [
      'high-s twin',
      topic,
      await voucherPayload(f, channelId, parseEther('0.5'), { signature: highSTwin(signed) }),
      'high-s',
    ],
    ['cross-channel', topic, await voucherPayload(f, otherChannel, 1n, { signer: other }), 'wrong-channel'],
    [
      'other payee',
      hubTopics.voucher('HEPEK-0003'),
      await voucherPayload(f, foreignChannel, 1n, { signer: foreign }),
      'wrong-channel',
    ],
    ['unknown channel', topic, await voucherPayload(f, channelId + 1n, 1n), 'unknown-channel'],
    ['unregistered serial', hubTopics.voucher('HEPEK-9999'), ok, 'unregistered'],
    ['not JSON', topic, '{nope', 'malformed'],
    ['bad field', topic, JSON.stringify({ ...JSON.parse(ok), cumulativeAmount: 5 }), 'malformed'],
  ];
  for (const [name, t, payload, expected] of cases)
    assert.is(code(await hub.handle(t, payload)), expected, name);
  const bad = await hub.handle(topic, JSON.stringify({ ...JSON.parse(ok), cumulativeAmount: 5 }));
  assert.ok(bad && !bad.ok && bad.id === JSON.parse(ok).id, 'a malformed request keeps its id');
  assert.match(bad && !bad.ok ? bad.reason : '', /voucher\.cumulativeAmount: 5 is not allowed/);
  const held = await hub.handle(topic, await voucherPayload(f, channelId, parseEther('2'), { cycle: 2 }));
  assert.equal(held, {
    id: `voucher-${channelId}-2-${parseEther('2')}`,
    ok: true,
    kind: 'voucher',
    result: { channelId: channelId.toString(), cumulativeAmount: parseEther('2').toString() },
  });
  await hub.stop();
});

test('restart keeps the newest voucher; close pays the payee that and the payer the rest exactly', async ({
  f,
}) => {
  const hub = await startHub(f);
  const channelId = await openChannel(f, { payee: f.hub.address });
  const topic = hubTopics.voucher(SERIAL);
  for (let cycle = 1; cycle <= 5; cycle++)
    assert.is(
      code(
        await hub.handle(topic, await voucherPayload(f, channelId, 123_456_789n * BigInt(cycle), { cycle })),
      ),
      'ok',
    );
  await hub.stop();

  const again = await startHub(f, { dir: hub.store.dir });
  assert.is(again.books.get(channelId.toString())?.held?.cumulativeAmount, 5n * 123_456_789n);
  assert.is(
    code(await again.handle(topic, await voucherPayload(f, channelId, 123_456_789n, { cycle: 9 }))),
    'stale',
  );
  const payerBefore = await balance(f, f.device);
  const hubBefore = await balance(f, f.hub);
  assert.ok(await again.close(channelId));
  assert.is((await balance(f, f.hub)) - hubBefore, 5n * 123_456_789n);
  assert.is((await balance(f, f.device)) - payerBefore, parseEther('10') - 5n * 123_456_789n);
  assert.is(again.store.vouchers.size, 0);
  await again.stop();
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

test('a relayed Open + permit and a relayed top-up; a forged Open is refused', async ({ f }) => {
  const hub = await startHub(f);
  const open = openRequest(f, { payee: f.hub.address });
  const signature = await signOpen(f.device, f.deployment, open);
  const permit = await permitFor(f, open.deposit);
  const topic = hubTopics.open(SERIAL);
  const forged = await signOpen(f.other, f.deployment, open);
  assert.is(
    code(
      await hub.handle(
        topic,
        JSON.stringify(encodeOpenMessage({ id: 'o-0', open, signature: forged, permit })),
      ),
    ),
    'wrong-signer',
  );
  assert.is(
    code(
      await hub.handle(
        topic,
        JSON.stringify(
          encodeOpenMessage({ id: 'o-x', open: { ...open, payee: f.other.address }, signature, permit }),
        ),
      ),
    ),
    'wrong-channel',
  );
  const payload = JSON.stringify(encodeOpenMessage({ id: 'o-1', open, signature, permit }));
  const ack = await hub.handle(topic, payload);
  assert.ok(ack?.ok && ack.kind === 'open', JSON.stringify(ack));
  const channelId = BigInt(ack.ok && ack.kind === 'open' ? ack.result.channelId : 0);
  assert.is((await f.channels.channelOf(channelId)).deposit, open.deposit);
  assert.equal(await hub.handle(topic, payload), ack, 'a resent open gets the same answer');

  const topPermit = await permitFor(f, parseEther('5'));
  const top = await hub.handle(
    hubTopics.topup(SERIAL),
    JSON.stringify(encodeTopUpMessage({ id: 't-1', channelId, amount: parseEther('5'), permit: topPermit })),
  );
  assert.ok(top?.ok, JSON.stringify(top));
  assert.is((await f.channels.channelOf(channelId)).deposit, parseEther('15'));
  await hub.stop();
});

test('readings are relayed in a batch; each is acked accepted or rejected with the reason', async ({ f }) => {
  const readings = await new MeterReadings__factory(f.admin).deploy(
    f.admin.address,
    await f.registry.getAddress(),
    await f.token.getAddress(),
    0n,
    0n,
  );
  const readingsAddress = await readings.getAddress();
  const hub = await startHub(f, {
    contracts: {
      PaymentChannels: f.deployment.channels,
      GatewayRegistry: await f.registry.getAddress(),
      MeterReadings: readingsAddress,
    },
  });
  const t0 = BigInt((await f.chain.provider.getBlock('latest'))!.timestamp) - 100n;
  const make = async (seq: bigint, ts: bigint, importWh: bigint) => {
    const r = await signReading(
      f.device,
      { chainId: DEV_CHAIN_ID, verifyingContract: readingsAddress },
      { deviceId: f.deviceId, seq, timestamp: ts, importWh, exportWh: 0n, batteryPermille: 500 },
    );
    const { r: rr, vs, ...reading } = r;
    const s = BigInt(vs);
    const sig = `0x${rr.slice(2)}${(s & ((1n << 255n) - 1n)).toString(16).padStart(64, '0')}${s >> 255n ? '1c' : '1b'}`;
    return JSON.stringify(
      encodeReadingMessage({ id: `reading-${seq}-${importWh}`, reading, signature: sig }),
    );
  };
  const topic = hubTopics.reading(SERIAL);
  const batch = [await make(1n, t0, 100n), await make(2n, t0 + 10n, 150n), await make(2n, t0 + 20n, 160n)];
  for (const p of batch) {
    const ack = await hub.handle(topic, p);
    assert.ok(ack?.ok && ack.kind === 'reading' && ack.result.status === 'queued', JSON.stringify(ack));
  }
  await hub.tick();
  const results = batch.map((p) => hub.store.acks.get(`${SERIAL} ${JSON.parse(p).id}`));
  assert.equal(
    results.map((a) => (a?.ok && a.kind === 'reading' ? [a.result.status, a.result.reason ?? null] : null)),
    [
      ['accepted', null],
      ['accepted', null],
      ['rejected', 'SeqNotIncreasing'],
    ],
  );
  assert.is(hub.store.readings.size, 0);
  await hub.stop();
});

test('JSON-RPC outage: readings and relays queue, vouchers of known channels still verify, all settle afterwards', async ({
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
  const hubWallet = new Wallet(testKey('wallet-5'), flaky);
  const hub = await startHub(f, { provider: flaky, wallet: hubWallet });
  await hub.tick();
  const channelId = await openChannel(f, { payee: f.hub.address });
  const topic = hubTopics.voucher(SERIAL);
  assert.is(code(await hub.handle(topic, await voucherPayload(f, channelId, 10n))), 'ok');
  down = true;
  assert.is(
    code(await hub.handle(topic, await voucherPayload(f, channelId, 20n, { cycle: 1 }))),
    'ok',
    'no chain needed',
  );
  const topPermit = await permitFor(f, parseEther('1'));
  const top = await hub.handle(
    hubTopics.topup(SERIAL),
    JSON.stringify(encodeTopUpMessage({ id: 't-1', channelId, amount: parseEther('1'), permit: topPermit })),
  );
  assert.is(code(top), 'chain-unavailable');
  await hub.tick(); // still down: nothing settles, nothing is lost
  assert.ok(!(await hub.close(channelId).catch(() => null)));
  down = false;
  await hub.tick();
  assert.ok(hub.store.acks.get(`${SERIAL} t-1`)?.ok, 'the queued top-up was relayed');
  assert.is((await f.channels.channelOf(channelId)).deposit, parseEther('11'));
  const hubBefore = await balance(f, f.hub);
  assert.ok(await hub.close(channelId));
  assert.is((await balance(f, f.hub)) - hubBefore, 20n);
  await hub.stop();
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
