import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  MaxUint256,
  TypedDataEncoder,
  Wallet,
  ZeroAddress,
  id,
  parseEther,
  recoverAddress,
  toBeHex,
} from 'ethers';
import {
  NO_PERMIT,
  channelIdOf,
  channelsDomain,
  compact,
  openWithPermit,
  parseChannelId,
  prepareOpen,
  readChannel,
  readOpenChannel,
  relayOpen,
  signOpen,
  signPermit,
  signVoucher,
  unspentDeposit,
  verifyVoucher,
  type ChannelsDeployment,
} from '../gateway/chain/channels';
import { signKeyRotation } from '../gateway/chain/eip712';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import { digestOf, encodeType } from '../gateway/chain/typed-data';
import { PaymentChannels__factory } from '../gateway/chain/types';
import { DEV_CHAIN_ID, testKey } from './helpers/chain';
import { expectEvent, expectRevert } from './helpers/assertions';
import {
  DEADLINE,
  HOUR,
  MAX_PERIOD,
  MIN_PERIOD,
  N,
  UINT96_MAX,
  balance,
  closeAs,
  enrol,
  expectInvalidSigner,
  expand,
  fixtureSuite,
  fundDevice,
  highS,
  latestTime,
  openChannel,
  openRequest,
  permitFor,
  setNextTime,
  startExit,
  voucher,
  type Fixture,
} from './helpers/channels';

// ---------------------------------------------------------------------------------------------

const deployment = fixtureSuite('PaymentChannels deployment');

deployment('type hashes equal encodeType of the one typed-data definition; domain matches', async ({ f }) => {
  assert.is(await f.channels.OPEN_TYPEHASH(), id(encodeType('Open')));
  assert.is(
    encodeType('Open'),
    'Open(address payer,address payee,uint256 deposit,uint64 challengePeriod,uint256 nonce)',
  );
  assert.is(await f.channels.VOUCHER_TYPEHASH(), id(encodeType('Voucher')));
  assert.is(await f.channels.domainSeparator(), TypedDataEncoder.hashDomain(channelsDomain(f.deployment)));
  assert.is(await f.channels.token(), await f.token.getAddress());
  assert.is(await f.channels.registry(), await f.registry.getAddress());
  assert.is(await f.channels.MIN_CHALLENGE_PERIOD(), MIN_PERIOD);
  assert.is(await f.channels.MAX_CHALLENGE_PERIOD(), MAX_PERIOD);
});

deployment('rejects a zero token or registry', async ({ f }) => {
  const factory = new PaymentChannels__factory(f.admin);
  const token = await f.token.getAddress();
  await expectRevert(factory.deploy(token, ZeroAddress), f.channels, 'ChannelInvalidSetup', [
    token,
    ZeroAddress,
  ]);
  await expectRevert(factory.deploy(ZeroAddress, token), f.channels, 'ChannelInvalidSetup', [
    ZeroAddress,
    token,
  ]);
});

deployment.run();

// ---------------------------------------------------------------------------------------------

const open = fixtureSuite('PaymentChannels.open');

open('a third party relays a device-signed Open + permit in one transaction', async ({ f }) => {
  const req = openRequest(f);
  const signature = compact(await signOpen(f.device, f.deployment, req));
  const permit = await permitFor(f, req.deposit);
  const channelId = channelIdOf(f.device.address, 0);
  await expectEvent(
    f.channels.connect(f.relayer).open(req, signature.r, signature.vs, permit),
    f.channels,
    'ChannelOpened',
    [channelId, f.device.address, f.hub.address, req.deposit, HOUR],
  );
  assert.is(await balance(f, f.device), parseEther('90'));
  assert.is(await balance(f, f.deployment.channels), req.deposit);
  assert.is(await f.token.allowance(f.device.address, f.deployment.channels), 0n);
  assert.is(await f.channels.nonces(f.device.address), 1n);
  const info = await readChannel(f.channels, channelId);
  assert.equal(info, {
    channelId,
    payer: f.device.address,
    nonce: 0n,
    deposit: req.deposit,
    open: true,
    challengePeriod: HOUR,
    exitAt: 0n,
    exitAmount: 0n,
  });
  assert.equal(await readOpenChannel(f.channels, f.device.address), info);
  assert.equal([...(await f.channels.channelOfPayer(f.device.address))], [channelId, true]);
  assert.ok(await f.channels.isPayee(channelId, f.hub.address));
  assert.not.ok(await f.channels.isPayee(channelId, f.relayer.address));
  // The device key paid nothing and sent nothing.
  assert.is(await f.chain.provider.getTransactionCount(f.device.address), 0);
});

open('the client helpers prepare and relay the same open (openWithPermit)', async ({ f }) => {
  const { channelId, receipt } = await openWithPermit(f.device, f.channels.connect(f.hub), f.token, {
    chainId: DEV_CHAIN_ID,
    payee: f.hub.address,
    deposit: parseEther('3'),
    challengePeriod: 2n * HOUR,
    deadline: DEADLINE,
  });
  assert.is(receipt.status, 1);
  assert.is(channelId, await f.channels.channelIdOf(f.device.address, 0));
  assert.equal(parseChannelId(channelId), { payer: f.device.address, nonce: 0n });
  assert.is((await readChannel(f.channels, channelId)).deposit, parseEther('3'));
});

open('a front-run permit does not block the open: the allowance it set is used', async ({ f }) => {
  const signed = await prepareOpen(f.device, f.channels, f.token, {
    chainId: DEV_CHAIN_ID,
    payee: f.hub.address,
    deposit: parseEther('10'),
    challengePeriod: HOUR,
    deadline: DEADLINE,
  });
  // The front-runner copies the permit out of the mempool and submits it to the token first.
  const { v, s } = expand(signed.permit);
  await (
    await f.token
      .connect(f.other)
      .permit(f.device.address, f.deployment.channels, parseEther('10'), DEADLINE, v, signed.permit.r, s)
  ).wait();
  assert.is(await f.token.allowance(f.device.address, f.deployment.channels), parseEther('10'));
  const { channelId } = await relayOpen(f.channels.connect(f.relayer), signed);
  assert.is((await readChannel(f.channels, channelId)).deposit, parseEther('10'));
  assert.is(await f.token.allowance(f.device.address, f.deployment.channels), 0n);
});

open('uses the existing allowance when no permit is given (deadline 0)', async ({ f }) => {
  const permit = await permitFor(f, parseEther('10'));
  const { v, s } = expand(permit);
  await (
    await f.token.permit(f.device.address, f.deployment.channels, parseEther('10'), DEADLINE, v, permit.r, s)
  ).wait();
  const req = openRequest(f);
  const sig = compact(await signOpen(f.device, f.deployment, req));
  await (await f.channels.connect(f.relayer).open(req, sig.r, sig.vs, NO_PERMIT)).wait();
  assert.is(await balance(f, f.deployment.channels), req.deposit);
});

open('rejects an unusable permit without allowance, naming payer, allowance and deposit', async ({ f }) => {
  const req = openRequest(f);
  const sig = compact(await signOpen(f.device, f.deployment, req));
  // Expired permit: the token refuses it, the try/catch falls back to the (zero) allowance.
  const expired = await permitFor(f, req.deposit, f.device, 1n);
  await expectRevert(
    f.channels.connect(f.relayer).open(req, sig.r, sig.vs, expired),
    f.channels,
    'ChannelInsufficientAllowance',
    [f.device.address, 0n, req.deposit],
  );
  // A permit for less than the deposit: its signature does not match the deposit, so it fails too.
  const small = await permitFor(f, 1n);
  await expectRevert(
    f.channels.connect(f.relayer).open(req, sig.r, sig.vs, small),
    f.channels,
    'ChannelInsufficientAllowance',
    [f.device.address, 0n, req.deposit],
  );
});

open(
  'ids are never reused: a new channel gets the next nonce, an old Open cannot come back',
  async ({ f }) => {
    const first = await openChannel(f);
    const firstOpen = openRequest(f);
    const firstSig = compact(await signOpen(f.device, f.deployment, firstOpen));
    await (await closeAs(f, first, 1n, await voucher(f, first, 1n))).wait();
    assert.is((await readChannel(f.channels, first)).open, false);
    // Replaying the first Open (and a fresh permit) is refused by the nonce.
    await expectRevert(
      f.channels
        .connect(f.relayer)
        .open(firstOpen, firstSig.r, firstSig.vs, await permitFor(f, firstOpen.deposit)),
      f.channels,
      'ChannelInvalidNonce',
      [f.device.address, 0n, 1n],
    );
    const second = await openChannel(f);
    assert.is.not(second, first);
    assert.is(second, channelIdOf(f.device.address, 1));
    // The first channel's voucher cannot be used on the second.
    const v = await voucher(f, first, 1n);
    await expectInvalidSigner(f, second, 1n, v);
  },
);

open('rejects a zero payee and the payer as its own payee', async ({ f }) => {
  for (const payee of [ZeroAddress, f.device.address]) {
    const req = openRequest(f, { payee });
    const sig = compact(await signOpen(f.device, f.deployment, req));
    await expectRevert(
      f.channels.open(req, sig.r, sig.vs, await permitFor(f, req.deposit)),
      f.channels,
      'ChannelInvalidPayee',
      [payee],
    );
  }
});

open('rejects a zero deposit and one above 2^96 - 1 wei', async ({ f }) => {
  for (const deposit of [0n, UINT96_MAX + 1n]) {
    const req = openRequest(f, { deposit });
    const sig = compact(await signOpen(f.device, f.deployment, req));
    await expectRevert(f.channels.open(req, sig.r, sig.vs, NO_PERMIT), f.channels, 'ChannelInvalidDeposit', [
      deposit,
    ]);
  }
});

open('rejects a challenge period outside [1 h, 30 days]', async ({ f }) => {
  for (const challengePeriod of [MIN_PERIOD - 1n, MAX_PERIOD + 1n, 0n]) {
    const req = openRequest(f, { challengePeriod });
    const sig = compact(await signOpen(f.device, f.deployment, req));
    await expectRevert(
      f.channels.open(req, sig.r, sig.vs, NO_PERMIT),
      f.channels,
      'ChannelInvalidChallengePeriod',
      [challengePeriod, MIN_PERIOD, MAX_PERIOD],
    );
  }
});

open('rejects a nonce other than the payer’s next one', async ({ f }) => {
  const req = openRequest(f, { nonce: 3n });
  const sig = compact(await signOpen(f.device, f.deployment, req));
  await expectRevert(
    f.channels.open(req, sig.r, sig.vs, await permitFor(f, req.deposit)),
    f.channels,
    'ChannelInvalidNonce',
    [f.device.address, 3n, 0n],
  );
});

open(
  'rejects a payer that is not the key of an active, claimed device: unknown, unclaimed, revoked',
  async ({ f }) => {
    // Unregistered key: the registry maps it to device id 0.
    const stranger = new Wallet(testKey('stranger'), f.chain.provider);
    const req = openRequest(f, { payer: stranger.address });
    const sig = compact(await signOpen(stranger, f.deployment, req));
    await expectRevert(f.channels.open(req, sig.r, sig.vs, NO_PERMIT), f.channels, 'ChannelPayerNotDevice', [
      stranger.address,
      toBeHex(0, 32),
    ]);
    // Registered but not claimed yet.
    const unclaimedId = deviceIdFromSerial('HEPEK-0002');
    await enrol(f, unclaimedId, stranger, false);
    await expectRevert(f.channels.open(req, sig.r, sig.vs, NO_PERMIT), f.channels, 'ChannelPayerNotDevice', [
      stranger.address,
      unclaimedId,
    ]);
    // Claimed but revoked.
    await (await f.registry.connect(f.admin).revoke(f.deviceId)).wait();
    const mine = openRequest(f);
    const mineSig = compact(await signOpen(f.device, f.deployment, mine));
    await expectRevert(
      f.channels.open(mine, mineSig.r, mineSig.vs, NO_PERMIT),
      f.channels,
      'ChannelPayerNotDevice',
      [f.device.address, f.deviceId],
    );
  },
);

open('rejects an Open not signed by the payer, or altered after signing', async ({ f }) => {
  const forger = new Wallet(testKey('forger'));
  const req = openRequest(f);
  const forged = compact(await signOpen(forger, f.deployment, req));
  await expectRevert(
    f.channels.open(req, forged.r, forged.vs, NO_PERMIT),
    f.channels,
    'ChannelInvalidOpenSigner',
    [f.device.address, forger.address],
  );
  // The relayer swaps the payee for itself: the signature no longer recovers to the payer.
  const sig = compact(await signOpen(f.device, f.deployment, req));
  const altered = { ...req, payee: f.relayer.address };
  const recovered = recoverAddress(digestOf('Open', channelsDomain(f.deployment), altered), {
    r: sig.r,
    yParityAndS: sig.vs,
  });
  await expectRevert(
    f.channels.connect(f.relayer).open(altered, sig.r, sig.vs, NO_PERMIT),
    f.channels,
    'ChannelInvalidOpenSigner',
    [f.device.address, recovered],
  );
});

open('rejects a malformed or high-s Open signature', async ({ f }) => {
  const req = openRequest(f);
  const sig = compact(await signOpen(f.device, f.deployment, req));
  for (const bad of [highS(sig), { r: toBeHex(0, 32), vs: sig.vs }]) {
    await expectRevert(
      f.channels.open(req, bad.r, bad.vs, NO_PERMIT),
      f.channels,
      'ChannelInvalidSignature',
      [bad.r, bad.vs],
    );
  }
});

open('a payer has one open channel at a time; the next opens after a close', async ({ f }) => {
  const first = await openChannel(f);
  const req = openRequest(f, { nonce: 1n });
  const sig = compact(await signOpen(f.device, f.deployment, req));
  await expectRevert(
    f.channels.connect(f.relayer).open(req, sig.r, sig.vs, await permitFor(f, req.deposit)),
    f.channels,
    'ChannelAlreadyOpen',
    [f.device.address, first],
  );
  await (await closeAs(f, first, 0n, await voucher(f, first, 0n))).wait();
  assert.is(await openChannel(f), channelIdOf(f.device.address, 1));
});

open.run();

// ---------------------------------------------------------------------------------------------

const topUp = fixtureSuite('PaymentChannels.topUp');

topUp('the payee relays a device permit; the deposit grows', async ({ f }) => {
  const channelId = await openChannel(f);
  const amount = parseEther('5');
  await expectEvent(
    f.channels.connect(f.hub).topUp(channelId, amount, await permitFor(f, amount)),
    f.channels,
    'ChannelToppedUp',
    [channelId, amount, parseEther('15')],
  );
  assert.is((await readChannel(f.channels, channelId)).deposit, parseEther('15'));
  assert.is(await balance(f, f.device), parseEther('85'));
  assert.is(await balance(f, f.deployment.channels), parseEther('15'));
});

topUp('the payer may top up itself', async ({ f }) => {
  const channelId = await openChannel(f);
  await fundDevice(f);
  await (await f.channels.connect(f.device).topUp(channelId, 1n, await permitFor(f, 1n))).wait();
  assert.is((await readChannel(f.channels, channelId)).deposit, parseEther('10') + 1n);
});

topUp('rejects a caller who is neither payer nor payee', async ({ f }) => {
  const channelId = await openChannel(f);
  await expectRevert(
    f.channels.connect(f.other).topUp(channelId, 1n, await permitFor(f, 1n)),
    f.channels,
    'ChannelNotParty',
    [channelId, f.other.address],
  );
});

topUp('rejects a zero amount and a deposit beyond 2^96 - 1 wei', async ({ f }) => {
  const channelId = await openChannel(f);
  const hub = f.channels.connect(f.hub);
  await expectRevert(hub.topUp(channelId, 0n, NO_PERMIT), f.channels, 'ChannelInvalidDeposit', [0n]);
  const tooMuch = UINT96_MAX - parseEther('10') + 1n;
  await expectRevert(hub.topUp(channelId, tooMuch, NO_PERMIT), f.channels, 'ChannelInvalidDeposit', [
    tooMuch,
  ]);
  await expectRevert(hub.topUp(channelId, MaxUint256, NO_PERMIT), f.channels, 'ChannelInvalidDeposit', [
    MaxUint256,
  ]);
});

topUp('rejects an unknown channel and an exiting one', async ({ f }) => {
  const channelId = await openChannel(f);
  const unknown = channelIdOf(f.device.address, 7);
  await expectRevert(f.channels.connect(f.hub).topUp(unknown, 1n, NO_PERMIT), f.channels, 'ChannelNotOpen', [
    unknown,
  ]);
  const exitAt = await startExit(f, channelId);
  await expectRevert(
    f.channels.connect(f.hub).topUp(channelId, 1n, await permitFor(f, 1n)),
    f.channels,
    'ChannelExiting',
    [channelId, exitAt],
  );
});

topUp('without a permit the token’s allowance error stands', async ({ f }) => {
  const channelId = await openChannel(f);
  await expectRevert(
    f.channels.connect(f.hub).topUp(channelId, 1n, NO_PERMIT),
    f.token,
    'ERC20InsufficientAllowance',
    [f.deployment.channels, 0n, 1n],
  );
});

topUp.run();

// ---------------------------------------------------------------------------------------------

const close = fixtureSuite('PaymentChannels.close');

close('the payee closes with the newest voucher: it gets the amount, the payer the rest', async ({ f }) => {
  const channelId = await openChannel(f);
  const amount = parseEther('2.75');
  const hubBefore = await balance(f, f.hub);
  await expectEvent(
    closeAs(f, channelId, amount, await voucher(f, channelId, amount)),
    f.channels,
    'ChannelClosed',
    [channelId, amount, parseEther('7.25')],
  );
  assert.is((await balance(f, f.hub)) - hubBefore, amount);
  assert.is(await balance(f, f.device), parseEther('97.25'));
  assert.is(await balance(f, f.deployment.channels), 0n);
  assert.is((await readChannel(f.channels, channelId)).open, false);
  assert.not.ok(await f.channels.isPayee(channelId, f.hub.address));
});

close('pays a voucher for the whole deposit and one for nothing', async ({ f }) => {
  const all = await openChannel(f);
  await expectEvent(
    closeAs(f, all, parseEther('10'), await voucher(f, all, parseEther('10'))),
    f.channels,
    'ChannelClosed',
    [all, parseEther('10'), 0n],
  );
  const none = await openChannel(f);
  await expectEvent(closeAs(f, none, 0n, await voucher(f, none, 0n)), f.channels, 'ChannelClosed', [
    none,
    0n,
    parseEther('10'),
  ]);
  assert.is(await balance(f, f.hub), parseEther('10'));
  assert.is(await balance(f, f.device), parseEther('90'));
});

close('rejects an over-spending voucher', async ({ f }) => {
  const channelId = await openChannel(f);
  const amount = parseEther('10') + 1n;
  await expectRevert(
    closeAs(f, channelId, amount, await voucher(f, channelId, amount)),
    f.channels,
    'ChannelOverspent',
    [channelId, amount, parseEther('10')],
  );
});

close('rejects a replayed voucher once the channel is closed', async ({ f }) => {
  const channelId = await openChannel(f);
  const v = await voucher(f, channelId, 5n);
  await (await closeAs(f, channelId, 5n, v)).wait();
  await expectRevert(closeAs(f, channelId, 5n, v), f.channels, 'ChannelNotOpen', [channelId]);
});

close('rejects a voucher by another key, and one whose amount was raised', async ({ f }) => {
  const channelId = await openChannel(f);
  const forger = new Wallet(testKey('forger'));
  await expectRevert(
    closeAs(f, channelId, 5n, await voucher(f, channelId, 5n, forger)),
    f.channels,
    'ChannelInvalidSigner',
    [channelId, forger.address, f.device.address],
  );
  const v = await voucher(f, channelId, 5n);
  await expectInvalidSigner(f, channelId, 6n, v);
});

close('rejects a voucher of another payer’s channel', async ({ f }) => {
  const mine = await openChannel(f);
  const neighbour = new Wallet(testKey('device-2'), f.chain.provider);
  await enrol(f, deviceIdFromSerial('HEPEK-0002'), neighbour);
  await (await f.token.mint(neighbour.address, parseEther('10'))).wait();
  const theirs = await openChannel(f, { payer: neighbour.address, nonce: 0n }, neighbour);
  const v = await voucher(f, theirs, 5n, neighbour);
  await expectInvalidSigner(f, mine, 5n, v);
  // Signed by the neighbour for its own channel, it pays.
  await (await closeAs(f, theirs, 5n, v)).wait();
});

close('rejects a voucher signed for another PaymentChannels deployment', async ({ f }) => {
  const channelId = await openChannel(f);
  const twin = { chainId: DEV_CHAIN_ID, channels: '0x' + '77'.repeat(20) };
  const v = compact(await signVoucher(f.device, twin, { channelId, cumulativeAmount: 5n }));
  await expectInvalidSigner(f, channelId, 5n, v);
});

close('rejects high-s and malformed signatures', async ({ f }) => {
  const channelId = await openChannel(f);
  const v = await voucher(f, channelId, 5n);
  for (const bad of [highS(v), { r: toBeHex(0, 32), vs: v.vs }, { r: v.r, vs: toBeHex(0, 32) }]) {
    await expectRevert(closeAs(f, channelId, 5n, bad), f.channels, 'ChannelInvalidSignature', [
      bad.r,
      bad.vs,
    ]);
  }
});

close('rejects a caller other than the payee, the payer included', async ({ f }) => {
  const channelId = await openChannel(f);
  const v = await voucher(f, channelId, 5n);
  await fundDevice(f);
  for (const caller of [f.relayer, f.device]) {
    await expectRevert(
      f.channels.connect(caller).close(channelId, 5n, v.r, v.vs),
      f.channels,
      'ChannelNotPayee',
      [channelId, caller.address],
    );
  }
});

close('during the challenge period a stale voucher loses to a newer one', async ({ f }) => {
  const channelId = await openChannel(f);
  // The payer exits conceding an old voucher's amount (3) although it signed one for 8 since.
  const stale = 3n;
  const newer = 8n;
  const exitAt = await startExit(f, channelId, stale);
  // A voucher older than the concession is refused...
  await expectRevert(
    closeAs(f, channelId, 2n, await voucher(f, channelId, 2n)),
    f.channels,
    'ChannelStaleVoucher',
    [channelId, 2n, stale],
  );
  // ...the newer one wins, up to the last second of the period.
  await setNextTime(f, exitAt - 1n);
  await expectEvent(
    closeAs(f, channelId, newer, await voucher(f, channelId, newer)),
    f.channels,
    'ChannelClosed',
    [channelId, newer, parseEther('10') - newer],
  );
  assert.is(await balance(f, f.hub), newer);
  assert.is((await f.channels.channelOf(channelId)).exitAmount, 0n);
});

close('is refused once the exit has matured', async ({ f }) => {
  const channelId = await openChannel(f);
  const exitAt = await startExit(f, channelId);
  await setNextTime(f, exitAt);
  await expectRevert(
    closeAs(f, channelId, 5n, await voucher(f, channelId, 5n)),
    f.channels,
    'ChannelChallengeOver',
    [channelId, exitAt],
  );
});

close('a key rotation after open does not invalidate the vouchers', async ({ f }) => {
  const channelId = await openChannel(f);
  const newKey = new Wallet(testKey('device-rotated'), f.chain.provider);
  await rotateDeviceKey(f, newKey);
  assert.is((await f.registry.deviceOf(f.deviceId)).key, newKey.address);
  // A voucher by the registry's new key does not count for the open channel...
  await expectRevert(
    closeAs(f, channelId, 4n, await voucher(f, channelId, 4n, newKey)),
    f.channels,
    'ChannelInvalidSigner',
    [channelId, newKey.address, f.device.address],
  );
  // ...the key recorded at open still settles it...
  await expectEvent(closeAs(f, channelId, 4n, await voucher(f, channelId, 4n)), f.channels, 'ChannelClosed', [
    channelId,
    4n,
    parseEther('10') - 4n,
  ]);
  // ...and only new channels need the current key.
  const req = openRequest(f, { nonce: 1n });
  const sig = compact(await signOpen(f.device, f.deployment, req));
  await expectRevert(f.channels.open(req, sig.r, sig.vs, NO_PERMIT), f.channels, 'ChannelPayerNotDevice', [
    f.device.address,
    await f.registry.deviceIdOfKey(f.device.address),
  ]);
});

close(
  'rejects ids that are not the payer’s open channel: old nonce, future nonce, stray bits',
  async ({ f }) => {
    const first = await openChannel(f);
    await (await closeAs(f, first, 0n, await voucher(f, first, 0n))).wait();
    const open = await openChannel(f);
    const stray = open | (1n << 80n);
    for (const forged of [first, open + 1n, stray]) {
      await expectRevert(closeAs(f, forged, 1n, await voucher(f, forged, 1n)), f.channels, 'ChannelNotOpen', [
        forged,
      ]);
      assert.not.ok(await f.channels.isPayee(forged, f.hub.address));
    }
  },
);

close.run();

/** Rotates the device key to `newKey`: the owner sends GatewayRegistry.rotateKey, the new key signs. */
async function rotateDeviceKey(f: Fixture, newKey: Wallet): Promise<void> {
  const registry = await f.registry.getAddress();
  const nonce = await f.registry.nonces(f.deviceId);
  const signature = await signKeyRotation(
    newKey,
    { chainId: DEV_CHAIN_ID, verifyingContract: registry },
    { deviceId: f.deviceId, newKey: newKey.address, nonce },
  );
  await (await f.registry.connect(f.member).rotateKey(f.deviceId, newKey.address, nonce, signature)).wait();
}

// ---------------------------------------------------------------------------------------------

const exit = fixtureSuite('PaymentChannels.startExit');

exit(
  'the payer starts an exit conceding an amount; the event tells the hub when it matures',
  async ({ f }) => {
    const channelId = await openChannel(f);
    await fundDevice(f);
    const now = await latestTime(f);
    await setNextTime(f, now + 10n);
    await expectEvent(
      f.channels.connect(f.device).startExit(channelId, f.hub.address, 6n),
      f.channels,
      'ExitStarted',
      [channelId, 6n, now + 10n + HOUR],
    );
    const info = await readChannel(f.channels, channelId);
    assert.is(info.exitAt, now + 10n + HOUR);
    assert.is(info.exitAmount, 6n);
    // The time field now holds exitAt instead of the period.
    assert.is(info.challengePeriod, 0n);
    assert.is(info.deposit, parseEther('10'));
  },
);

exit('conceding nothing needs no payee', async ({ f }) => {
  const channelId = await openChannel(f);
  await fundDevice(f);
  await (await f.channels.connect(f.device).startExit(channelId, ZeroAddress, 0n)).wait();
  assert.is((await readChannel(f.channels, channelId)).exitAmount, 0n);
});

exit('rejects anyone but the payer, the payee included', async ({ f }) => {
  const channelId = await openChannel(f);
  for (const caller of [f.hub, f.other]) {
    await expectRevert(
      f.channels.connect(caller).startExit(channelId, f.hub.address, 0n),
      f.channels,
      'ChannelNotPayer',
      [channelId, caller.address],
    );
  }
});

exit('rejects an unknown channel, a second exit, an over-concession and a wrong payee', async ({ f }) => {
  const channelId = await openChannel(f);
  await fundDevice(f);
  const payer = f.channels.connect(f.device);
  const unknown = channelIdOf(f.device.address, 9);
  await expectRevert(payer.startExit(unknown, f.hub.address, 0n), f.channels, 'ChannelNotOpen', [unknown]);
  const tooMuch = parseEther('10') + 1n;
  await expectRevert(payer.startExit(channelId, f.hub.address, tooMuch), f.channels, 'ChannelOverspent', [
    channelId,
    tooMuch,
    parseEther('10'),
  ]);
  await expectRevert(payer.startExit(channelId, f.other.address, 1n), f.channels, 'ChannelNotPayee', [
    channelId,
    f.other.address,
  ]);
  const exitAt = await startExit(f, channelId);
  await expectRevert(payer.startExit(channelId, f.hub.address, 0n), f.channels, 'ChannelExiting', [
    channelId,
    exitAt,
  ]);
});

exit.run();

// ---------------------------------------------------------------------------------------------

const withdraw = fixtureSuite('PaymentChannels.withdraw');

withdraw(
  'after the challenge period anyone pays out: the concession to the payee, the rest to the payer',
  async ({ f }) => {
    const channelId = await openChannel(f);
    const exitAt = await startExit(f, channelId, 4n);
    await setNextTime(f, exitAt);
    await expectEvent(f.channels.connect(f.relayer).withdraw(channelId), f.channels, 'ChannelWithdrawn', [
      channelId,
      4n,
      parseEther('10') - 4n,
    ]);
    assert.is(await balance(f, f.hub), 4n);
    assert.is(await balance(f, f.device), parseEther('100') - 4n);
    assert.is(await balance(f, f.deployment.channels), 0n);
    assert.equal(await readChannel(f.channels, channelId), {
      channelId,
      payer: f.device.address,
      nonce: 0n,
      deposit: 0n,
      open: false,
      challengePeriod: 0n,
      exitAt: 0n,
      exitAmount: 0n,
    });
    assert.is(await readOpenChannel(f.channels, f.device.address), null);
    assert.equal([...(await f.channels.channelOfPayer(f.device.address))], [channelId, false]);
  },
);

withdraw('returns the whole deposit to the payer when it conceded nothing', async ({ f }) => {
  const channelId = await openChannel(f);
  const exitAt = await startExit(f, channelId);
  await setNextTime(f, exitAt + 100n);
  await expectEvent(f.channels.withdraw(channelId), f.channels, 'ChannelWithdrawn', [
    channelId,
    0n,
    parseEther('10'),
  ]);
  assert.is(await balance(f, f.device), parseEther('100'));
});

withdraw('rejects before the period ends, without an exit, and a second time', async ({ f }) => {
  const channelId = await openChannel(f);
  await expectRevert(f.channels.withdraw(channelId), f.channels, 'ChannelNotExiting', [channelId]);
  const exitAt = await startExit(f, channelId);
  await setNextTime(f, exitAt - 1n);
  await expectRevert(f.channels.withdraw(channelId), f.channels, 'ChannelExitPending', [channelId, exitAt]);
  await setNextTime(f, exitAt);
  await (await f.channels.withdraw(channelId)).wait();
  await expectRevert(f.channels.withdraw(channelId), f.channels, 'ChannelNotOpen', [channelId]);
});

withdraw.run();

// ---------------------------------------------------------------------------------------------

const client = suite('channels client (gateway/chain/channels.ts)');
const wallet = new Wallet(testKey('client'));
const dep: ChannelsDeployment = { chainId: DEV_CHAIN_ID, channels: '0x' + '22'.repeat(20) };

client('channel ids round-trip and refuse out-of-range parts', () => {
  const cid = channelIdOf(wallet.address, 42);
  assert.is(cid, (BigInt(wallet.address) << 96n) + 42n);
  assert.equal(parseChannelId(cid), { payer: wallet.address, nonce: 42n });
  assert.throws(() => channelIdOf(wallet.address, 2n ** 32n), /nonce: 4294967296n is not allowed/);
  assert.throws(() => channelIdOf(wallet.address, -1), /nonce: -1n is not allowed/);
});

client('verifyVoucher accepts what the contract accepts and nothing else', async () => {
  const channelId = channelIdOf(wallet.address, 0);
  const sig = await signVoucher(wallet, dep, { channelId, cumulativeAmount: 9n });
  assert.is(verifyVoucher(dep, { channelId, cumulativeAmount: 9n }, sig), wallet.address);
  const s = BigInt('0x' + sig.slice(66, 130));
  const v = parseInt(sig.slice(130), 16);
  const twin = sig.slice(0, 66) + (N - s).toString(16).padStart(64, '0') + (v === 27 ? '1c' : '1b');
  assert.throws(() => verifyVoucher(dep, { channelId, cumulativeAmount: 9n }, twin), /low-s/);
  assert.throws(
    () => verifyVoucher(dep, { channelId, cumulativeAmount: 10n }, sig),
    /voucher\.signature: .* a signature by the channel's payer/,
  );
  // The compact form of the malleable twin is the compact form of the canonical signature.
  assert.equal(compact(twin), compact(sig));
});

client('unspentDeposit is deposit minus the newest voucher, never negative', () => {
  assert.is(unspentDeposit({ deposit: 10n }, 3n), 7n);
  assert.is(unspentDeposit({ deposit: 10n }, 12n), 0n);
  assert.throws(() => unspentDeposit({ deposit: 10n }, -1n), /newestVoucherAmount/);
});

client('channelIdOf refuses a nonce outside [0, 2^32)', () => {
  assert.throws(
    () => channelIdOf(wallet.address, -1n),
    /nonce: -1n is not allowed; expected an integer in \[0, 2\^32\)/,
  );
  assert.throws(() => channelIdOf(wallet.address, 1n << 32n), /nonce: 4294967296n is not allowed/);
  assert.is(channelIdOf(wallet.address, (1n << 32n) - 1n) & ((1n << 96n) - 1n), (1n << 32n) - 1n);
});

client('signPermit refuses a zero deadline (it means "no permit" on chain)', async () => {
  await signPermit(wallet, {
    chainId: 1,
    token: dep.channels,
    owner: wallet.address,
    spender: dep.channels,
    value: 1n,
    nonce: 0n,
    deadline: 0n,
  }).then(
    () => assert.unreachable('signed'),
    (err: Error) => assert.match(err.message, /permit\.deadline: 0n is not allowed/),
  );
});

client.run();
