/**
 * MeterReadings: signed readings with baseline, monotonic and rated-power checks, export rewards,
 * carbon credits, the market hook and the checkpoint view. Fresh ledger per test.
 */
import * as assert from 'uvu/assert';
import { TypedDataEncoder, Wallet, ZeroAddress, id, recoverAddress, toBeHex } from 'ethers';
import { DEFAULT_EMISSION_FACTOR_MG_PER_WH, DEFAULT_EXPORT_RATE_WEI_PER_WH } from '../gateway/chain/deploy';
import { signKeyRotation } from '../gateway/chain/eip712';
import { REJECTION_REASONS, batchOutcome } from '../gateway/chain/readings';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import { digestOf, domainOf, encodeType } from '../gateway/chain/typed-data';
import { MeterReadings__factory } from '../gateway/chain/types';
import { expectEvent, expectRevert } from './helpers/assertions';
import { DEV_CHAIN_ID, testKey } from './helpers/chain';
import {
  MODE,
  atTime,
  ledgerSuite,
  now,
  onboardDevice,
  reading,
  registerDevice,
  sign,
  submitAt,
  type Ledger,
} from './helpers/ledger';

const REJECTION = {
  InvalidSignature: 1n,
  InvalidSigner: 2n,
  DeviceNotActive: 3n,
  BatteryOutOfRange: 4n,
  SeqNotIncreasing: 5n,
  TimestampNotAfterLast: 6n,
  TimestampInFuture: 7n,
  ImportDecreased: 8n,
  ExportDecreased: 9n,
  ExportAboveRated: 10n,
};
for (const [name, value] of Object.entries(REJECTION)) {
  if (REJECTION_REASONS[Number(value)] !== name) throw new Error(`REJECTION_REASONS disagrees on ${name}`);
}
const RATE = DEFAULT_EXPORT_RATE_WEI_PER_WH;
const FACTOR = DEFAULT_EMISSION_FACTOR_MG_PER_WH;

/** Onboards the fixture's device (prosumer unless told) and accepts a baseline; returns its time. */
async function withBaseline(
  l: Ledger,
  opts: { mode?: number; importWh?: bigint; exportWh?: bigint } = {},
): Promise<bigint> {
  await onboardDevice(l, { mode: opts.mode });
  const t = (await now(l)) + 10n;
  const base = reading(l, {
    seq: 1n,
    timestamp: t,
    importWh: opts.importWh ?? 1000n,
    exportWh: opts.exportWh ?? 500n,
  });
  await submitAt(l, await sign(l, base), t);
  return t;
}

/** Submits the reading `seq` at `t` with the given counters, in a block at `t`. */
async function next(l: Ledger, seq: bigint, t: bigint, importWh: bigint, exportWh: bigint): Promise<void> {
  await submitAt(l, await sign(l, reading(l, { seq, timestamp: t, importWh, exportWh })), t);
}

/** A baseline, then a reading 15 minutes on that exports 1000 Wh: rewards and credits to claim. */
async function withExported1000Wh(l: Ledger): Promise<void> {
  const t0 = await withBaseline(l);
  await next(l, 2n, t0 + 900n, 1000n, 1500n);
}

// -----------------------------------------------------------------------------------------------

const deployment = ledgerSuite('MeterReadings deployment');

deployment(
  'matches the off-chain type string and domain, and starts with the plan’s rates',
  async ({ l }) => {
    assert.is(await l.readings.READING_TYPEHASH(), id(encodeType('Reading')));
    assert.is(
      await l.readings.domainSeparator(),
      TypedDataEncoder.hashDomain(domainOf('readings', DEV_CHAIN_ID, l.addresses.MeterReadings!)),
    );
    assert.is(await l.readings.exportRate(), RATE);
    assert.is(await l.readings.emissionFactor(), FACTOR);
    assert.is(await l.readings.REGISTRY(), l.addresses.GatewayRegistry);
    assert.is(await l.readings.TOKEN(), l.addresses.ErgonToken);
    assert.is(await l.readings.CHECKPOINTS(), 96n);
  },
);

deployment('rejects a zero admin and contract addresses without code', async ({ l }) => {
  const factory = new MeterReadings__factory(l.admin);
  const noCode = l.other.address;
  await expectRevert(
    factory.deploy(ZeroAddress, l.addresses.GatewayRegistry!, l.addresses.ErgonToken!, 1, 1),
    l.readings,
    'ReadingsInvalidAdmin',
    [ZeroAddress],
  );
  await expectRevert(
    factory.deploy(l.admin.address, noCode, l.addresses.ErgonToken!, 1, 1),
    l.readings,
    'ReadingsInvalidContract',
    [noCode],
  );
  await expectRevert(
    factory.deploy(l.admin.address, l.addresses.GatewayRegistry!, noCode, 1, 1),
    l.readings,
    'ReadingsInvalidContract',
    [noCode],
  );
});

deployment.run();

// -----------------------------------------------------------------------------------------------

const submit = ledgerSuite('MeterReadings.submitReading');

submit('the first reading sets the baseline and earns nothing', async ({ l }) => {
  await onboardDevice(l);
  const t = (await now(l)) + 10n;
  const signed = await sign(l, reading(l, { seq: 7n, timestamp: t, importWh: 1234n, exportWh: 999n }));
  await atTime(l, t, async () =>
    expectEvent(l.readings.connect(l.relayer).submitReading(signed), l.readings, 'ReadingAccepted', [
      l.deviceId,
      7n,
    ]),
  );
  const account = await l.readings.accountOf(l.deviceId);
  assert.equal([...account], [0n, 0n, 7n, true, false]);
  const latest = await l.readings.latestOf(l.deviceId);
  assert.equal([...latest], [7n, t, 1234n, 999n]);
  // The device key signed only; it never sent a transaction or held ETH.
  assert.is(await l.chain.provider.getTransactionCount(l.device.address), 0);
});

submit('a later reading accrues reward and carbon credits for the export delta', async ({ l }) => {
  const t0 = await withBaseline(l);
  await next(l, 2n, t0 + 900n, 1400n, 1100n);
  const account = await l.readings.accountOf(l.deviceId);
  assert.is(account.accruedWei, 600n * RATE);
  assert.is(account.carbonMg, 600n * FACTOR);
  assert.is(account.lastSeq, 2n);
  assert.equal([...(await l.readings.latestOf(l.deviceId))], [2n, t0 + 900n, 1400n, 1100n]);
});

submit('gaps in seq are fine; the export cap counts the whole elapsed time', async ({ l }) => {
  const t0 = await withBaseline(l, { exportWh: 0n });
  // 4600 W for 3600 s = 4600 Wh exactly: the cap is inclusive.
  await next(l, 50n, t0 + 3600n, 1000n, 4600n);
  assert.is((await l.readings.accountOf(l.deviceId)).accruedWei, 4600n * RATE);
});

submit('a consumer device records export but earns nothing; a generator earns', async ({ l }) => {
  const t0 = await withBaseline(l, { mode: MODE.consumer });
  await next(l, 2n, t0 + 900n, 1000n, 600n);
  assert.equal([...(await l.readings.accountOf(l.deviceId))].slice(0, 2), [0n, 0n]);
  await (await l.registry.connect(l.operator).setMode(l.deviceId, MODE.generator)).wait();
  await next(l, 3n, t0 + 1800n, 1000n, 700n);
  // Only the 100 Wh exported after the mode change earn.
  assert.is((await l.readings.accountOf(l.deviceId)).accruedWei, 100n * RATE);
});

submit('rejects a device that is unknown, unclaimed or revoked', async ({ l }) => {
  const t = await now(l);
  const signed = await sign(l, reading(l, { seq: 1n, timestamp: t }));
  await expectRevert(l.readings.submitReading(signed), l.readings, 'ReadingsDeviceNotActive', [l.deviceId]);
  await registerDevice(l);
  await expectRevert(l.readings.submitReading(signed), l.readings, 'ReadingsDeviceNotActive', [l.deviceId]);
  const other = deviceIdFromSerial('HEPEK-0002');
  await onboardDevice(l, { deviceId: other, key: new Wallet(testKey('device-2')) });
  await (await l.registry.connect(l.admin).revoke(other)).wait();
  const revoked = await sign(
    l,
    { ...reading(l, { seq: 1n, timestamp: t }), deviceId: other },
    new Wallet(testKey('device-2')),
  );
  await expectRevert(l.readings.submitReading(revoked), l.readings, 'ReadingsDeviceNotActive', [other]);
});

submit('rejects a reading signed by another key, or altered after signing', async ({ l }) => {
  await onboardDevice(l);
  const t = await now(l);
  const forger = new Wallet(testKey('forger'));
  const forged = await sign(l, reading(l, { seq: 1n, timestamp: t }), forger);
  await expectRevert(l.readings.submitReading(forged), l.readings, 'ReadingsInvalidSigner', [
    l.deviceId,
    forger.address,
    l.device.address,
  ]);
  const signed = await sign(l, reading(l, { seq: 1n, timestamp: t, exportWh: 10n }));
  const altered = { ...signed, exportWh: 10_000n };
  const domain = domainOf('readings', DEV_CHAIN_ID, l.addresses.MeterReadings!);
  const recovered = recoverAddress(digestOf('Reading', domain, altered), {
    r: signed.r,
    yParityAndS: signed.vs,
  });
  await expectRevert(l.readings.submitReading(altered), l.readings, 'ReadingsInvalidSigner', [
    l.deviceId,
    recovered,
    l.device.address,
  ]);
});

submit('rejects a malformed signature and an s in the malleable upper half', async ({ l }) => {
  await onboardDevice(l);
  const t = await now(l);
  const signed = await sign(l, reading(l, { seq: 1n, timestamp: t }));
  const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  // The compact form has 255 bits for s, so the high-s twin n − s of a signature usually does not
  // fit; an s just above n/2 does, and must be refused like every high-s signature.
  const highS = { ...signed, vs: toBeHex(N / 2n + 1n, 32) };
  for (const bad of [{ ...signed, r: toBeHex(0, 32) }, highS]) {
    await expectRevert(l.readings.submitReading(bad), l.readings, 'ReadingsInvalidSignature', [
      l.deviceId,
      1n,
    ]);
  }
});

submit('rejects a battery state of charge above 1000 ‰', async ({ l }) => {
  await onboardDevice(l);
  const signed = await sign(l, reading(l, { seq: 1n, timestamp: await now(l), batteryPermille: 1001 }));
  await expectRevert(l.readings.submitReading(signed), l.readings, 'ReadingsBatteryOutOfRange', [
    l.deviceId,
    1001n,
  ]);
});

submit('rejects a timestamp after the block time, and a zero baseline timestamp', async ({ l }) => {
  await onboardDevice(l);
  const t = (await now(l)) + 100n;
  const early = await sign(l, reading(l, { seq: 1n, timestamp: t + 1n }));
  await atTime(l, t, () =>
    expectRevert(l.readings.submitReading(early), l.readings, 'ReadingsTimestampInFuture', [
      l.deviceId,
      t + 1n,
      t,
    ]),
  );
  const zero = await sign(l, reading(l, { seq: 1n, timestamp: 0n }));
  await expectRevert(l.readings.submitReading(zero), l.readings, 'ReadingsTimestampNotAfterLast', [
    l.deviceId,
    0n,
    0n,
  ]);
});

submit('rejects a replayed or older seq', async ({ l }) => {
  const t0 = await withBaseline(l);
  const again = await sign(l, reading(l, { seq: 1n, timestamp: t0 + 900n, importWh: 1000n, exportWh: 500n }));
  await atTime(l, t0 + 900n, () =>
    expectRevert(l.readings.submitReading(again), l.readings, 'ReadingsSeqNotIncreasing', [
      l.deviceId,
      1n,
      1n,
    ]),
  );
  const older = await sign(l, reading(l, { seq: 0n, timestamp: t0 + 900n, importWh: 1000n, exportWh: 500n }));
  await expectRevert(l.readings.submitReading(older), l.readings, 'ReadingsSeqNotIncreasing', [
    l.deviceId,
    0n,
    1n,
  ]);
});

submit('rejects a timestamp not after the last reading’s', async ({ l }) => {
  const t0 = await withBaseline(l);
  const same = await sign(l, reading(l, { seq: 2n, timestamp: t0, importWh: 1000n, exportWh: 500n }));
  await expectRevert(l.readings.submitReading(same), l.readings, 'ReadingsTimestampNotAfterLast', [
    l.deviceId,
    t0,
    t0,
  ]);
});

submit('rejects counters that go down', async ({ l }) => {
  const t0 = await withBaseline(l, { importWh: 1000n, exportWh: 500n });
  const importDown = await sign(
    l,
    reading(l, { seq: 2n, timestamp: t0 + 60n, importWh: 999n, exportWh: 500n }),
  );
  await l.chain.provider.send('evm_mine', [toBeHex(t0 + 60n)]);
  await expectRevert(l.readings.submitReading(importDown), l.readings, 'ReadingsImportDecreased', [
    l.deviceId,
    999n,
    1000n,
  ]);
  const exportDown = await sign(
    l,
    reading(l, { seq: 2n, timestamp: t0 + 60n, importWh: 1000n, exportWh: 499n }),
  );
  await expectRevert(l.readings.submitReading(exportDown), l.readings, 'ReadingsExportDecreased', [
    l.deviceId,
    499n,
    500n,
  ]);
});

submit('rejects export above rated power × elapsed time, by one Wh', async ({ l }) => {
  const t0 = await withBaseline(l, { exportWh: 0n });
  // 4600 W × 900 s = 1150 Wh.
  const over = await sign(l, reading(l, { seq: 2n, timestamp: t0 + 900n, importWh: 1000n, exportWh: 1151n }));
  await atTime(l, t0 + 900n, () =>
    expectRevert(l.readings.submitReading(over), l.readings, 'ReadingsExportAboveRated', [
      l.deviceId,
      1151n,
      1150n,
    ]),
  );
  assert.is((await l.readings.accountOf(l.deviceId)).lastSeq, 1n);
});

submit('after a key rotation only the new key’s readings count', async ({ l }) => {
  const t0 = await withBaseline(l);
  const newKey = new Wallet(testKey('rotated'));
  const nonce = await l.registry.nonces(l.deviceId);
  const signature = await signKeyRotation(
    newKey,
    { chainId: DEV_CHAIN_ID, verifyingContract: l.addresses.GatewayRegistry! },
    { deviceId: l.deviceId, newKey: newKey.address, nonce },
  );
  await (await l.registry.connect(l.member).rotateKey(l.deviceId, newKey.address, nonce, signature)).wait();
  const byOld = await sign(l, reading(l, { seq: 2n, timestamp: t0 + 60n, importWh: 1000n, exportWh: 500n }));
  await expectRevert(l.readings.submitReading(byOld), l.readings, 'ReadingsInvalidSigner', [
    l.deviceId,
    l.device.address,
    newKey.address,
  ]);
  const byNew = await sign(
    l,
    reading(l, { seq: 2n, timestamp: t0 + 60n, importWh: 1000n, exportWh: 500n }),
    newKey,
  );
  await submitAt(l, byNew, t0 + 60n);
  assert.is((await l.readings.accountOf(l.deviceId)).lastSeq, 2n);
});

submit.run();

// -----------------------------------------------------------------------------------------------

const batch = ledgerSuite('MeterReadings.submitReadings');

batch('one forged entry does not stop the others; it is skipped with ReadingRejected', async ({ l }) => {
  const keys = [0, 1, 2].map((i) => new Wallet(testKey(`batch-${i}`)));
  const ids = [0, 1, 2].map((i) => deviceIdFromSerial(`BATCH-${i}`));
  for (const [i, key] of keys.entries()) await onboardDevice(l, { deviceId: ids[i], key });
  const t = (await now(l)) + 10n;
  const forger = new Wallet(testKey('forger'));
  const entries = await Promise.all(
    ids.map((deviceId, i) =>
      sign(l, { ...reading(l, { seq: 1n, timestamp: t }), deviceId }, i === 1 ? forger : keys[i]),
    ),
  );
  const tx = await atTime(l, t, () => l.readings.connect(l.relayer).submitReadings(entries));
  const receipt = (await tx.wait())!;
  const events = receipt.logs.map((log) => l.readings.interface.parseLog(log)!);
  assert.equal(
    events.map((e) => [e.name, ...e.args]),
    [
      ['ReadingAccepted', ids[0], 1n],
      ['ReadingRejected', ids[1], 1n, REJECTION.InvalidSigner],
      ['ReadingAccepted', ids[2], 1n],
    ],
  );
  assert.equal(batchOutcome(receipt, l.addresses.MeterReadings!), {
    accepted: [
      { deviceId: ids[0], seq: 1n },
      { deviceId: ids[2], seq: 1n },
    ],
    rejected: [{ deviceId: ids[1], seq: 1n, reason: 'InvalidSigner' }],
  });
  assert.ok((await l.readings.accountOf(ids[0]!)).hasBaseline);
  assert.not.ok((await l.readings.accountOf(ids[1]!)).hasBaseline);
  assert.ok((await l.readings.accountOf(ids[2]!)).hasBaseline);
});

batch('every reason is reported, and a reading later in the batch sees an earlier one', async ({ l }) => {
  const t0 = await withBaseline(l, { importWh: 1000n, exportWh: 0n });
  const t = t0 + 900n;
  const r = (seq: bigint, timestamp: bigint, importWh: bigint, exportWh: bigint, batteryPermille = 500) =>
    sign(l, reading(l, { seq, timestamp, importWh, exportWh, batteryPermille }));
  const unknown = deviceIdFromSerial('NOBODY');
  const entries = [
    await r(2n, t - 60n, 1000n, 100n), // accepted
    await r(2n, t, 1000n, 100n), // seq not increasing (sees the entry above)
    await r(3n, t - 60n, 1000n, 100n), // timestamp not after last
    await r(3n, t + 1n, 1000n, 100n), // in the future
    await r(3n, t, 999n, 100n), // import down
    await r(3n, t, 1000n, 99n), // export down
    await r(3n, t, 1000n, 10_000n), // above rated
    await r(3n, t, 1000n, 100n, 2000), // battery
    { ...(await r(3n, t, 1000n, 100n)), deviceId: unknown }, // not active
    { ...(await r(3n, t, 1000n, 100n)), r: toBeHex(0, 32) }, // malformed signature
    await r(3n, t, 1001n, 101n), // accepted
  ];
  const tx = await atTime(l, t, () => l.readings.connect(l.relayer).submitReadings(entries));
  const events = (await tx.wait())!.logs.map((log) => l.readings.interface.parseLog(log)!);
  assert.equal(
    events.map((e) => (e.name === 'ReadingRejected' ? [e.args[1], e.args[2]] : [e.args[1], 0n])),
    [
      [2n, 0n],
      [2n, REJECTION.SeqNotIncreasing],
      [3n, REJECTION.TimestampNotAfterLast],
      [3n, REJECTION.TimestampInFuture],
      [3n, REJECTION.ImportDecreased],
      [3n, REJECTION.ExportDecreased],
      [3n, REJECTION.ExportAboveRated],
      [3n, REJECTION.BatteryOutOfRange],
      [3n, REJECTION.DeviceNotActive],
      [3n, REJECTION.InvalidSignature],
      [3n, 0n],
    ],
  );
  assert.is(events[8]!.args[0], unknown);
  assert.is((await l.readings.accountOf(l.deviceId)).accruedWei, 101n * RATE);
});

batch('an empty batch does nothing', async ({ l }) => {
  const receipt = (await (await l.readings.submitReadings([])).wait())!;
  assert.is(receipt.logs.length, 0);
});

batch.run();

// -----------------------------------------------------------------------------------------------

const claim = ledgerSuite('MeterReadings.claimRewards');

claim('mints the accrued reward to the HEPEK wallet (device key) and zeroes it', async ({ l }) => {
  await withExported1000Wh(l);
  const amount = 1000n * RATE;
  await expectEvent(l.readings.connect(l.member).claimRewards(l.deviceId), l.readings, 'RewardsClaimed', [
    l.deviceId,
    l.device.address,
    amount,
  ]);
  assert.is(await l.token.balanceOf(l.device.address), amount);
  assert.is((await l.readings.accountOf(l.deviceId)).accruedWei, 0n);
  // Carbon credits stay with the device until retired.
  assert.is((await l.readings.accountOf(l.deviceId)).carbonMg, 1000n * FACTOR);
  await expectRevert(
    l.readings.connect(l.member).claimRewards(l.deviceId),
    l.readings,
    'ReadingsNothingToClaim',
    [l.deviceId],
  );
});

claim('only the owner may claim, and only for an active device', async ({ l }) => {
  await withExported1000Wh(l);
  await expectRevert(l.readings.connect(l.other).claimRewards(l.deviceId), l.readings, 'ReadingsNotOwner', [
    l.deviceId,
    l.other.address,
    l.member.address,
  ]);
  await (await l.registry.connect(l.manufacturer).revoke(l.deviceId)).wait();
  await expectRevert(
    l.readings.connect(l.member).claimRewards(l.deviceId),
    l.readings,
    'ReadingsDeviceNotActive',
    [l.deviceId],
  );
});

claim('fails while the token is paused', async ({ l }) => {
  await withExported1000Wh(l);
  await (await l.token.connect(l.admin).pause()).wait();
  await expectRevert(l.readings.connect(l.member).claimRewards(l.deviceId), l.token, 'EnforcedPause', []);
  assert.is((await l.readings.accountOf(l.deviceId)).accruedWei, 1000n * RATE, 'nothing lost');
});

claim.run();

// -----------------------------------------------------------------------------------------------

const carbon = ledgerSuite('MeterReadings carbon credits');

carbon('the owner retires a device’s credits with CarbonRetired', async ({ l }) => {
  await withExported1000Wh(l);
  const credits = 1000n * FACTOR;
  await expectEvent(
    l.readings.connect(l.member).retireCarbon(l.deviceId, 1000n),
    l.readings,
    'CarbonRetired',
    [l.deviceId, l.member.address, 1000n],
  );
  assert.is((await l.readings.accountOf(l.deviceId)).carbonMg, credits - 1000n);
  await expectRevert(
    l.readings.connect(l.member).retireCarbon(l.deviceId, credits),
    l.readings,
    'ReadingsInsufficientCarbon',
    [l.deviceId, l.member.address, credits - 1000n, credits],
  );
  await expectRevert(
    l.readings.connect(l.other).retireCarbon(l.deviceId, 1n),
    l.readings,
    'ReadingsNotOwner',
    [l.deviceId, l.other.address, l.member.address],
  );
  await expectRevert(
    l.readings.connect(l.member).retireCarbon(l.deviceId, 0n),
    l.readings,
    'ReadingsInvalidArgument',
    ['amountMg'],
  );
});

carbon.run();

// -----------------------------------------------------------------------------------------------

const market = ledgerSuite('MeterReadings market hook (markSold, releaseSold)');

market('sold Wh earn no reward; their credits go to the beneficiary; the rest earns', async ({ l }) => {
  const t0 = await withBaseline(l, { exportWh: 0n });
  const buyer = l.other.address;
  await expectEvent(
    l.readings.connect(l.market).markSold(l.deviceId, 300n, buyer),
    l.readings,
    'EnergySold',
    [l.deviceId, 300n, buyer],
  );
  assert.ok((await l.readings.accountOf(l.deviceId)).hasSale);
  await next(l, 2n, t0 + 900n, 1000n, 200n); // all 200 Wh sold
  await next(l, 3n, t0 + 1800n, 1000n, 700n); // 100 sold, 400 earn
  const account = await l.readings.accountOf(l.deviceId);
  assert.is(account.accruedWei, 400n * RATE);
  assert.is(account.carbonMg, 400n * FACTOR);
  assert.not.ok(account.hasSale);
  assert.equal([...(await l.readings.saleOf(l.deviceId))], [0n, buyer]);
  assert.is(await l.readings.carbonOfAccount(buyer), 300n * FACTOR);

  await expectEvent(
    l.readings.connect(l.other).transferCarbon(l.relayer.address, 1000n),
    l.readings,
    'CarbonTransferred',
    [buyer, l.relayer.address, 1000n],
  );
  await expectEvent(
    l.readings.connect(l.relayer).retireAccountCarbon(1000n),
    l.readings,
    'AccountCarbonRetired',
    [l.relayer.address, 1000n],
  );
  assert.is(await l.readings.carbonOfAccount(l.relayer.address), 0n);
  await expectRevert(
    l.readings.connect(l.other).retireAccountCarbon(0n),
    l.readings,
    'ReadingsInvalidArgument',
    ['amountMg'],
  );
  const held = await l.readings.carbonOfAccount(buyer);
  await expectRevert(
    l.readings.connect(l.other).transferCarbon(l.relayer.address, held + 1n),
    l.readings,
    'ReadingsInsufficientCarbon',
    [toBeHex(0, 32), buyer, held, held + 1n],
  );
  await expectRevert(
    l.readings.connect(l.relayer).retireAccountCarbon(1n),
    l.readings,
    'ReadingsInsufficientCarbon',
    [toBeHex(0, 32), l.relayer.address, 0n, 1n],
  );
  await expectRevert(
    l.readings.connect(l.other).transferCarbon(ZeroAddress, 1n),
    l.readings,
    'ReadingsInvalidArgument',
    ['to'],
  );
});

market(
  'only MARKET_ROLE marks or releases; one beneficiary at a time; bad amounts refused',
  async ({ l }) => {
    const MARKET_ROLE = id('MARKET_ROLE');
    await expectRevert(
      l.readings.connect(l.other).markSold(l.deviceId, 1n, l.other.address),
      l.readings,
      'AccessControlUnauthorizedAccount',
      [l.other.address, MARKET_ROLE],
    );
    await expectRevert(
      l.readings.connect(l.other).releaseSold(l.deviceId, 1n),
      l.readings,
      'AccessControlUnauthorizedAccount',
      [l.other.address, MARKET_ROLE],
    );
    const m = l.readings.connect(l.market);
    await expectRevert(m.markSold(l.deviceId, 0n, l.other.address), l.readings, 'ReadingsInvalidArgument', [
      'wh',
    ]);
    await expectRevert(m.markSold(l.deviceId, 1n, ZeroAddress), l.readings, 'ReadingsInvalidArgument', [
      'beneficiary',
    ]);
    await (await m.markSold(l.deviceId, 100n, l.other.address)).wait();
    await expectRevert(
      m.markSold(l.deviceId, 1n, l.relayer.address),
      l.readings,
      'ReadingsSaleBeneficiaryMismatch',
      [l.deviceId, l.other.address, l.relayer.address],
    );
    await expectRevert(m.releaseSold(l.deviceId, 101n), l.readings, 'ReadingsReleaseExceedsPending', [
      l.deviceId,
      101n,
      100n,
    ]);
    await expectRevert(m.releaseSold(l.deviceId, 0n), l.readings, 'ReadingsInvalidArgument', ['wh']);
    await expectEvent(m.releaseSold(l.deviceId, 100n), l.readings, 'SaleReleased', [l.deviceId, 100n]);
    assert.not.ok((await l.readings.accountOf(l.deviceId)).hasSale);
    // With nothing pending, another beneficiary may buy.
    await (await m.markSold(l.deviceId, 5n, l.relayer.address)).wait();
    assert.equal([...(await l.readings.saleOf(l.deviceId))], [5n, l.relayer.address]);
  },
);

market.run();

// -----------------------------------------------------------------------------------------------

const operator = ledgerSuite('MeterReadings.setExportRate, setEmissionFactor');

operator('the operator sets both with events; others are refused', async ({ l }) => {
  const OPERATOR_ROLE = id('OPERATOR_ROLE');
  await expectEvent(l.readings.connect(l.operator).setExportRate(7n), l.readings, 'ExportRateSet', [7n]);
  await expectEvent(l.readings.connect(l.operator).setEmissionFactor(9n), l.readings, 'EmissionFactorSet', [
    9n,
  ]);
  assert.is(await l.readings.exportRate(), 7n);
  assert.is(await l.readings.emissionFactor(), 9n);
  for (const send of [
    () => l.readings.connect(l.admin).setExportRate(1n),
    () => l.readings.connect(l.other).setEmissionFactor(1n),
  ]) {
    const caller = send === undefined ? '' : '';
    void caller;
  }
  await expectRevert(
    l.readings.connect(l.admin).setExportRate(1n),
    l.readings,
    'AccessControlUnauthorizedAccount',
    [l.admin.address, OPERATOR_ROLE],
  );
  await expectRevert(
    l.readings.connect(l.other).setEmissionFactor(1n),
    l.readings,
    'AccessControlUnauthorizedAccount',
    [l.other.address, OPERATOR_ROLE],
  );
});

operator('a new rate applies to export after the change only', async ({ l }) => {
  const t0 = await withBaseline(l, { exportWh: 0n });
  await next(l, 2n, t0 + 900n, 1000n, 100n);
  await (await l.readings.connect(l.operator).setExportRate(1n)).wait();
  await next(l, 3n, t0 + 1800n, 1000n, 150n);
  assert.is((await l.readings.accountOf(l.deviceId)).accruedWei, 100n * RATE + 50n);
});

operator.run();

// -----------------------------------------------------------------------------------------------

const checkpoints = ledgerSuite('MeterReadings.checkpointOf, latestOf');

checkpoints(
  'returns the counters at each kept reading; export between two is their difference',
  async ({ l }) => {
    const t0 = await withBaseline(l, { importWh: 10n, exportWh: 20n });
    await next(l, 2n, t0 + 900n, 110n, 220n);
    await next(l, 5n, t0 + 1800n, 210n, 420n);
    const at2 = await l.readings.checkpointOf(l.deviceId, 2n);
    const at5 = await l.readings.checkpointOf(l.deviceId, 5n);
    assert.equal([...at2], [2n, t0 + 900n, 110n, 220n]);
    assert.is(at5.exportWh - at2.exportWh, 200n);
    await expectRevert(l.readings.checkpointOf(l.deviceId, 3n), l.readings, 'ReadingsNoCheckpoint', [
      l.deviceId,
      3n,
    ]);
    const nobody = deviceIdFromSerial('NOBODY');
    await expectRevert(l.readings.checkpointOf(nobody, 0n), l.readings, 'ReadingsNoCheckpoint', [nobody, 0n]);
    await expectRevert(l.readings.latestOf(nobody), l.readings, 'ReadingsNoCheckpoint', [nobody, 0n]);
  },
);

checkpoints('keeps the last 96 readings: seq + 96 overwrites seq', async ({ l }) => {
  const t0 = await withBaseline(l, { exportWh: 0n });
  await next(l, 97n, t0 + 900n, 1000n, 10n);
  await expectRevert(l.readings.checkpointOf(l.deviceId, 1n), l.readings, 'ReadingsNoCheckpoint', [
    l.deviceId,
    1n,
  ]);
  assert.equal([...(await l.readings.checkpointOf(l.deviceId, 97n))], [97n, t0 + 900n, 1000n, 10n]);
  assert.equal([...(await l.readings.latestOf(l.deviceId))], [97n, t0 + 900n, 1000n, 10n]);
});

checkpoints.run();
