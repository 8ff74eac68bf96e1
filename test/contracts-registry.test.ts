/**
 * GatewayRegistry beyond register/claim (test/contracts.test.ts): key rotation, modes, revocation,
 * the views other contracts read, and claims replayed on another chain. Fresh ledger per test.
 */
import * as assert from 'uvu/assert';
import { Wallet, ZeroAddress, id, verifyTypedData } from 'ethers';
import { signClaim, signKeyRotation } from '../gateway/chain/eip712';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import { CLAIM_TYPES, KEY_ROTATION_TYPES, domainOf, encodeType } from '../gateway/chain/typed-data';
import { expectEvent, expectRevert } from './helpers/assertions';
import { DEV_CHAIN_ID, testKey } from './helpers/chain';
import {
  MODE,
  RATED_EXPORT_W,
  ledgerSuite,
  onboardDevice,
  registerDevice,
  type Ledger,
} from './helpers/ledger';

const OPERATOR_ROLE = id('OPERATOR_ROLE');

function rotation(l: Ledger, newKey: Wallet, nonce: bigint, chainId = DEV_CHAIN_ID) {
  return signKeyRotation(
    newKey,
    { chainId, verifyingContract: l.addresses.GatewayRegistry! },
    { deviceId: l.deviceId, newKey: newKey.address, nonce },
  );
}

// -----------------------------------------------------------------------------------------------

const typeHashes = ledgerSuite('GatewayRegistry type hashes');

typeHashes('CLAIM_TYPEHASH and KEY_ROTATION_TYPEHASH equal the shared struct definitions', async ({ l }) => {
  assert.is(await l.registry.CLAIM_TYPEHASH(), id(encodeType('Claim')));
  assert.is(await l.registry.KEY_ROTATION_TYPEHASH(), id(encodeType('KeyRotation')));
});

typeHashes.run();

// -----------------------------------------------------------------------------------------------

const claimChain = ledgerSuite('GatewayRegistry.claim across chains');

claimChain('a claim signed for another chain id fails here', async ({ l }) => {
  await registerDevice(l);
  const registry = l.addresses.GatewayRegistry!;
  const message = { deviceId: l.deviceId, member: l.member.address, nonce: 0n };
  const foreign = await signClaim(l.device, { ...message, registry, chainId: 1 });
  const recovered = verifyTypedData(
    domainOf('registry', DEV_CHAIN_ID, registry),
    CLAIM_TYPES,
    message,
    foreign,
  );
  assert.is.not(recovered, l.device.address);
  await expectRevert(
    l.registry.connect(l.relayer).claim(l.deviceId, l.member.address, 0n, foreign),
    l.registry,
    'RegistryInvalidSigner',
    [l.deviceId, recovered, l.device.address],
  );
});

claimChain('a revoked device cannot be claimed', async ({ l }) => {
  await registerDevice(l);
  await (await l.registry.connect(l.manufacturer).revoke(l.deviceId)).wait();
  const signature = await signClaim(l.device, {
    chainId: DEV_CHAIN_ID,
    registry: l.addresses.GatewayRegistry!,
    deviceId: l.deviceId,
    member: l.member.address,
    nonce: 0n,
  });
  await expectRevert(
    l.registry.claim(l.deviceId, l.member.address, 0n, signature),
    l.registry,
    'RegistryDeviceRevoked',
    [l.deviceId],
  );
});

claimChain.run();

// -----------------------------------------------------------------------------------------------

const rotate = ledgerSuite('GatewayRegistry.rotateKey');

rotate('the owner rotates with the new key’s signature; events and lookups follow', async ({ l }) => {
  await onboardDevice(l);
  const newKey = new Wallet(testKey('rotated'));
  const nonce = await l.registry.nonces(l.deviceId);
  assert.is(nonce, 1n, 'the claim used nonce 0');
  await expectEvent(
    l.registry
      .connect(l.member)
      .rotateKey(l.deviceId, newKey.address, nonce, await rotation(l, newKey, nonce)),
    l.registry,
    'DeviceKeyRotated',
    [l.deviceId, l.device.address, newKey.address],
  );
  assert.is((await l.registry.deviceOf(l.deviceId)).key, newKey.address);
  assert.is(await l.registry.deviceIdOfKey(newKey.address), l.deviceId);
  assert.is(await l.registry.deviceIdOfKey(l.device.address), `0x${'00'.repeat(32)}`);
  assert.is(await l.registry.nonces(l.deviceId), 2n);
  // The old key is free again for the manufacturer (e.g. a refurbished unit).
  await registerDevice(l, deviceIdFromSerial('HEPEK-0002'), l.device.address);
});

rotate('only the owner may rotate', async ({ l }) => {
  await onboardDevice(l);
  const newKey = new Wallet(testKey('rotated'));
  const signature = await rotation(l, newKey, 1n);
  for (const caller of [l.other, l.admin]) {
    await expectRevert(
      l.registry.connect(caller).rotateKey(l.deviceId, newKey.address, 1n, signature),
      l.registry,
      'RegistryNotOwner',
      [l.deviceId, caller.address, l.member.address],
    );
  }
});

rotate('a rotation signed by the old key (or anyone but the new key) is refused', async ({ l }) => {
  await onboardDevice(l);
  const newKey = new Wallet(testKey('rotated'));
  const byOld = await signKeyRotation(
    l.device,
    { chainId: DEV_CHAIN_ID, verifyingContract: l.addresses.GatewayRegistry! },
    { deviceId: l.deviceId, newKey: newKey.address, nonce: 1n },
  );
  await expectRevert(
    l.registry.connect(l.member).rotateKey(l.deviceId, newKey.address, 1n, byOld),
    l.registry,
    'RegistryInvalidSigner',
    [l.deviceId, l.device.address, newKey.address],
  );
});

rotate('a replayed rotation and a rotation for another chain are refused', async ({ l }) => {
  await onboardDevice(l);
  const newKey = new Wallet(testKey('rotated'));
  const signature = await rotation(l, newKey, 1n);
  await (await l.registry.connect(l.member).rotateKey(l.deviceId, newKey.address, 1n, signature)).wait();
  const third = new Wallet(testKey('third'));
  const stale = await rotation(l, third, 1n);
  await expectRevert(
    l.registry.connect(l.member).rotateKey(l.deviceId, third.address, 1n, stale),
    l.registry,
    'RegistryInvalidNonce',
    [l.deviceId, 1n, 2n],
  );
  const foreign = await rotation(l, third, 2n, 5);
  const recovered = verifyTypedData(
    domainOf('registry', DEV_CHAIN_ID, l.addresses.GatewayRegistry!),
    KEY_ROTATION_TYPES,
    { deviceId: l.deviceId, newKey: third.address, nonce: 2n },
    foreign,
  );
  await expectRevert(
    l.registry.connect(l.member).rotateKey(l.deviceId, third.address, 2n, foreign),
    l.registry,
    'RegistryInvalidSigner',
    [l.deviceId, recovered, third.address],
  );
});

rotate(
  'refuses a zero key, a key in use, an unknown or revoked device, a malformed signature',
  async ({ l }) => {
    await onboardDevice(l);
    const second = deviceIdFromSerial('HEPEK-0002');
    const secondKey = new Wallet(testKey('device-2'));
    await registerDevice(l, second, secondKey.address);
    const owner = l.registry.connect(l.member);
    await expectRevert(owner.rotateKey(l.deviceId, ZeroAddress, 1n, '0x'), l.registry, 'RegistryInvalidKey', [
      ZeroAddress,
    ]);
    await expectRevert(
      owner.rotateKey(l.deviceId, secondKey.address, 1n, await rotation(l, secondKey, 1n)),
      l.registry,
      'RegistryKeyInUse',
      [secondKey.address, second],
    );
    const newKey = new Wallet(testKey('rotated'));
    await expectRevert(
      owner.rotateKey(l.deviceId, newKey.address, 1n, '0x1234'),
      l.registry,
      'RegistryInvalidSignature',
      [l.deviceId],
    );
    const unknown = deviceIdFromSerial('NOBODY');
    await expectRevert(
      owner.rotateKey(unknown, newKey.address, 0n, '0x'),
      l.registry,
      'RegistryUnknownDevice',
      [unknown],
    );
    await (await l.registry.connect(l.admin).revoke(l.deviceId)).wait();
    await expectRevert(
      owner.rotateKey(l.deviceId, newKey.address, 1n, await rotation(l, newKey, 1n)),
      l.registry,
      'RegistryDeviceRevoked',
      [l.deviceId],
    );
  },
);

rotate.run();

// -----------------------------------------------------------------------------------------------

const mode = ledgerSuite('GatewayRegistry.setMode');

mode('the operator sets each mode with DeviceModeSet; registration starts as consumer', async ({ l }) => {
  await registerDevice(l);
  assert.is((await l.registry.deviceOf(l.deviceId)).mode, BigInt(MODE.consumer));
  for (const m of [MODE.generator, MODE.prosumer, MODE.consumer]) {
    await expectEvent(l.registry.connect(l.operator).setMode(l.deviceId, m), l.registry, 'DeviceModeSet', [
      l.deviceId,
      BigInt(m),
    ]);
    assert.is((await l.registry.deviceCore(l.deviceId)).mode, BigInt(m));
  }
});

mode('refuses other callers, the admin included, and an unknown device', async ({ l }) => {
  await registerDevice(l);
  for (const caller of [l.admin, l.manufacturer, l.member]) {
    await expectRevert(
      l.registry.connect(caller).setMode(l.deviceId, MODE.prosumer),
      l.registry,
      'AccessControlUnauthorizedAccount',
      [caller.address, OPERATOR_ROLE],
    );
  }
  const unknown = deviceIdFromSerial('NOBODY');
  await expectRevert(
    l.registry.connect(l.operator).setMode(unknown, MODE.prosumer),
    l.registry,
    'RegistryUnknownDevice',
    [unknown],
  );
});

mode.run();

// -----------------------------------------------------------------------------------------------

const revoke = ledgerSuite('GatewayRegistry.revoke');

revoke('the admin or the registering manufacturer revokes, with DeviceRevoked', async ({ l }) => {
  await onboardDevice(l);
  await expectEvent(l.registry.connect(l.manufacturer).revoke(l.deviceId), l.registry, 'DeviceRevoked', [
    l.deviceId,
    l.manufacturer.address,
  ]);
  assert.not.ok(await l.registry.isActiveClaimed(l.deviceId));
  assert.is((await l.registry.deviceCore(l.deviceId)).activeClaimed, false);
  const second = deviceIdFromSerial('HEPEK-0002');
  await registerDevice(l, second, new Wallet(testKey('device-2')).address);
  await expectEvent(l.registry.connect(l.admin).revoke(second), l.registry, 'DeviceRevoked', [
    second,
    l.admin.address,
  ]);
});

revoke('refuses another manufacturer, a member, a second revoke and an unknown device', async ({ l }) => {
  await onboardDevice(l);
  const rival = l.relayer;
  await (await l.registry.connect(l.admin).grantRole(id('MANUFACTURER_ROLE'), rival.address)).wait();
  for (const caller of [rival, l.member]) {
    await expectRevert(
      l.registry.connect(caller).revoke(l.deviceId),
      l.registry,
      'RegistryUnauthorizedRevoke',
      [l.deviceId, caller.address],
    );
  }
  await (await l.registry.connect(l.admin).revoke(l.deviceId)).wait();
  await expectRevert(l.registry.connect(l.admin).revoke(l.deviceId), l.registry, 'RegistryDeviceRevoked', [
    l.deviceId,
  ]);
  const unknown = deviceIdFromSerial('NOBODY');
  await expectRevert(l.registry.connect(l.admin).revoke(unknown), l.registry, 'RegistryUnknownDevice', [
    unknown,
  ]);
});

revoke.run();

// -----------------------------------------------------------------------------------------------

const views = ledgerSuite('GatewayRegistry views');

views('deviceCore, ownerOf and manufacturerOf answer what other contracts need', async ({ l }) => {
  const unknown = deviceIdFromSerial('NOBODY');
  assert.equal([...(await l.registry.deviceCore(unknown))], [ZeroAddress, 0n, 0n, false]);
  await registerDevice(l);
  assert.equal(
    [...(await l.registry.deviceCore(l.deviceId))],
    [l.device.address, BigInt(RATED_EXPORT_W), 0n, false],
  );
  assert.is(await l.registry.ownerOf(l.deviceId), ZeroAddress);
  assert.is(await l.registry.manufacturerOf(l.deviceId), l.manufacturer.address);
  await onboardDevice(l, {
    deviceId: deviceIdFromSerial('HEPEK-0002'),
    key: new Wallet(testKey('device-2')),
  });
  const claimed = deviceIdFromSerial('HEPEK-0002');
  assert.equal(
    [...(await l.registry.deviceCore(claimed))],
    [new Wallet(testKey('device-2')).address, BigInt(RATED_EXPORT_W), BigInt(MODE.prosumer), true],
  );
  assert.is(await l.registry.ownerOf(claimed), l.member.address);
  const d = await l.registry.deviceOf(claimed);
  assert.equal([d.active, d.claimed, d.owner], [true, true, l.member.address]);
});

views.run();
