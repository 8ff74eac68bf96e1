import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Signature,
  TypedDataEncoder,
  Wallet,
  ZeroAddress,
  concat,
  getBytes,
  hexlify,
  id,
  parseEther,
  toBeHex,
  verifyTypedData,
} from 'ethers';
import { CLAIM_TYPES, claimDomain, signClaim } from '../gateway/chain/eip712';
import { PERMIT_TYPES } from '../gateway/chain/channels';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import {
  ErgonToken__factory,
  GatewayRegistry__factory,
  type ErgonToken,
  type GatewayRegistry,
} from '../gateway/chain/types';
import { DEV_CHAIN_ID, devChain, freshChainSuite, testKey, type DevChain } from './helpers/chain';
import { expectEvent, expectRevert } from './helpers/assertions';

const MINTER_ROLE = id('MINTER_ROLE');
const MANUFACTURER_ROLE = id('MANUFACTURER_ROLE');
const DEFAULT_ADMIN_ROLE = toBeHex(0, 32);
const RATED_EXPORT_W = 4600;
/** secp256k1 group order, to build the high-s twin of a valid signature. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

interface Fixture {
  chain: DevChain;
  admin: Wallet;
  manufacturer: Wallet;
  member: Wallet;
  other: Wallet;
  relayer: Wallet;
  minter: Wallet;
  /** The gateway's device key: registered, never funded (device actions are relayed). */
  device: Wallet;
  deviceId: string;
  token: ErgonToken;
  registry: GatewayRegistry;
  registryAddress: string;
}

// Fresh chain and contracts for every test: ~20 ms each, and no test can see another's state.
async function deployFixture(): Promise<Fixture> {
  const chain = await devChain();
  const [admin, manufacturer, member, other, relayer, minter] = chain.wallets;
  const token = await new ErgonToken__factory(admin).deploy(admin.address);
  await (await token.grantRole(MINTER_ROLE, minter.address)).wait();
  const registry = await new GatewayRegistry__factory(admin).deploy(admin.address);
  await (await registry.grantRole(MANUFACTURER_ROLE, manufacturer.address)).wait();
  return {
    chain,
    admin,
    manufacturer,
    member,
    other,
    relayer,
    minter,
    device: new Wallet(testKey('device'), chain.provider),
    deviceId: deviceIdFromSerial('HEPEK-0001'),
    token,
    registry,
    registryAddress: await registry.getAddress(),
  };
}

/** A suite whose tests each get a fresh fixture as `f`. */
function fixtureSuite(name: string) {
  return freshChainSuite(name, 'f', deployFixture);
}

async function registerDevice(f: Fixture, deviceId = f.deviceId, key = f.device.address): Promise<void> {
  await (await f.registry.connect(f.manufacturer).register(deviceId, key, RATED_EXPORT_W)).wait();
}

function claimFor(f: Fixture, member: string, nonce: bigint | number = 0, signer: Wallet = f.device) {
  return signClaim(signer, {
    chainId: DEV_CHAIN_ID,
    registry: f.registryAddress,
    deviceId: f.deviceId,
    member,
    nonce,
  });
}

/** The address the registry recovers when `signature` is checked against other claim fields. */
function recoveredSigner(
  registry: string,
  deviceId: string,
  member: string,
  nonce: number,
  signature: string,
) {
  return verifyTypedData(
    claimDomain(DEV_CHAIN_ID, registry),
    CLAIM_TYPES,
    { deviceId, member, nonce },
    signature,
  );
}

// ---------------------------------------------------------------------------------------------
// ErgonToken

const tokenDeploy = fixtureSuite('ErgonToken deployment');

tokenDeploy('has the ERGON metadata and gives the admin only the admin role', async ({ f }) => {
  assert.is(await f.token.name(), 'Ergon');
  assert.is(await f.token.symbol(), 'ERGON');
  assert.is(await f.token.decimals(), 18n);
  assert.is(await f.token.totalSupply(), 0n);
  assert.is(await f.token.MINTER_ROLE(), MINTER_ROLE);
  assert.ok(await f.token.hasRole(DEFAULT_ADMIN_ROLE, f.admin.address));
  assert.not.ok(await f.token.hasRole(MINTER_ROLE, f.admin.address));
});

tokenDeploy('rejects a zero admin', async ({ f }) => {
  const factory = new ErgonToken__factory(f.admin);
  await expectRevert(factory.deploy(ZeroAddress), f.token, 'ErgonInvalidAdmin', [ZeroAddress]);
});

tokenDeploy.run();

const mint = fixtureSuite('ErgonToken.mint');

mint('mints to the recipient and emits Transfer from zero', async ({ f }) => {
  const amount = parseEther('12.5');
  await expectEvent(f.token.connect(f.minter).mint(f.member.address, amount), f.token, 'Transfer', [
    ZeroAddress,
    f.member.address,
    amount,
  ]);
  assert.is(await f.token.balanceOf(f.member.address), amount);
  assert.is(await f.token.totalSupply(), amount);
});

mint('reverts for an account without MINTER_ROLE, the admin included', async ({ f }) => {
  for (const caller of [f.other, f.admin]) {
    await expectRevert(
      f.token.connect(caller).mint(caller.address, 1n),
      f.token,
      'AccessControlUnauthorizedAccount',
      [caller.address, MINTER_ROLE],
    );
  }
  assert.is(await f.token.totalSupply(), 0n);
});

mint.run();

const permit = fixtureSuite('ErgonToken.permit');

async function signPermit(f: Fixture, value: bigint, deadline: bigint, nonce: bigint) {
  const domain = {
    name: 'Ergon',
    version: '1',
    chainId: DEV_CHAIN_ID,
    verifyingContract: await f.token.getAddress(),
  };
  const types = PERMIT_TYPES;
  const message = { owner: f.member.address, spender: f.other.address, value, nonce, deadline };
  const sig = Signature.from(await f.member.signTypedData(domain, types, message));
  return { sig, domain, types, message };
}

permit('sets the allowance from an owner signature relayed by a third party', async ({ f }) => {
  const value = parseEther('5');
  await (await f.token.connect(f.minter).mint(f.member.address, value)).wait();
  const deadline = 2n ** 40n;
  const { sig } = await signPermit(f, value, deadline, 0n);
  await expectEvent(
    f.token
      .connect(f.relayer)
      .permit(f.member.address, f.other.address, value, deadline, sig.v, sig.r, sig.s),
    f.token,
    'Approval',
    [f.member.address, f.other.address, value],
  );
  assert.is(await f.token.allowance(f.member.address, f.other.address), value);
  assert.is(await f.token.nonces(f.member.address), 1n);
  await (await f.token.connect(f.other).transferFrom(f.member.address, f.other.address, value)).wait();
  assert.is(await f.token.balanceOf(f.other.address), value);
});

permit('rejects a replayed permit as signed by someone else', async ({ f }) => {
  const deadline = 2n ** 40n;
  const { sig, domain, types, message } = await signPermit(f, 1n, deadline, 0n);
  const send = () =>
    f.token.connect(f.relayer).permit(f.member.address, f.other.address, 1n, deadline, sig.v, sig.r, sig.s);
  await (await send()).wait();
  // The contract hashes the now-current nonce 1, so the signature recovers to an unrelated address.
  const recovered = verifyTypedData(domain, types, { ...message, nonce: 1n }, sig);
  await expectRevert(send(), f.token, 'ERC2612InvalidSigner', [recovered, f.member.address]);
});

permit('rejects an expired permit', async ({ f }) => {
  const deadline = 1n;
  const { sig } = await signPermit(f, 1n, deadline, 0n);
  await expectRevert(
    f.token.permit(f.member.address, f.other.address, 1n, deadline, sig.v, sig.r, sig.s),
    f.token,
    'ERC2612ExpiredSignature',
    [deadline],
  );
});

permit.run();

// ---------------------------------------------------------------------------------------------
// GatewayRegistry

const registryDeploy = fixtureSuite('GatewayRegistry deployment');

registryDeploy('grants roles and matches the off-chain EIP-712 domain and types', async ({ f }) => {
  assert.ok(await f.registry.hasRole(DEFAULT_ADMIN_ROLE, f.admin.address));
  assert.is(await f.registry.MANUFACTURER_ROLE(), MANUFACTURER_ROLE);
  assert.ok(await f.registry.hasRole(MANUFACTURER_ROLE, f.manufacturer.address));
  assert.is(await f.registry.CLAIM_TYPEHASH(), id('Claim(bytes32 deviceId,address member,uint256 nonce)'));
  assert.is(await f.registry.CLAIM_TYPEHASH(), id(TypedDataEncoder.from(CLAIM_TYPES).encodeType('Claim')));
  assert.is(
    await f.registry.domainSeparator(),
    TypedDataEncoder.hashDomain(claimDomain(DEV_CHAIN_ID, f.registryAddress)),
  );
});

registryDeploy('rejects a zero admin', async ({ f }) => {
  const factory = new GatewayRegistry__factory(f.admin);
  await expectRevert(factory.deploy(ZeroAddress), f.registry, 'RegistryInvalidAdmin', [ZeroAddress]);
});

registryDeploy.run();

const register = fixtureSuite('GatewayRegistry.register');

register('registers an active, unclaimed device and emits DeviceRegistered', async ({ f }) => {
  await expectEvent(
    f.registry.connect(f.manufacturer).register(f.deviceId, f.device.address, RATED_EXPORT_W),
    f.registry,
    'DeviceRegistered',
    [f.deviceId, f.device.address, BigInt(RATED_EXPORT_W)],
  );
  const d = await f.registry.deviceOf(f.deviceId);
  assert.equal([d.key, d.owner, d.ratedExportW, d.active], [f.device.address, ZeroAddress, 4600n, true]);
  assert.is(await f.registry.deviceIdOfKey(f.device.address), f.deviceId);
  assert.is(await f.registry.nonces(f.deviceId), 0n);
  assert.not.ok(await f.registry.isActiveClaimed(f.deviceId));
});

register('reverts for an account without MANUFACTURER_ROLE, the admin included', async ({ f }) => {
  for (const caller of [f.other, f.admin]) {
    await expectRevert(
      f.registry.connect(caller).register(f.deviceId, f.device.address, RATED_EXPORT_W),
      f.registry,
      'AccessControlUnauthorizedAccount',
      [caller.address, MANUFACTURER_ROLE],
    );
  }
});

register('rejects a duplicate device id', async ({ f }) => {
  await registerDevice(f);
  await expectRevert(
    f.registry.connect(f.manufacturer).register(f.deviceId, f.other.address, RATED_EXPORT_W),
    f.registry,
    'RegistryDeviceExists',
    [f.deviceId],
  );
});

register('rejects a key already used by another device, and the zero key', async ({ f }) => {
  await registerDevice(f);
  const second = deviceIdFromSerial('HEPEK-0002');
  const manufacturerRegistry = f.registry.connect(f.manufacturer);
  await expectRevert(
    manufacturerRegistry.register(second, f.device.address, RATED_EXPORT_W),
    f.registry,
    'RegistryKeyInUse',
    [f.device.address, f.deviceId],
  );
  await expectRevert(
    manufacturerRegistry.register(second, ZeroAddress, RATED_EXPORT_W),
    f.registry,
    'RegistryInvalidKey',
    [ZeroAddress],
  );
});

register('tells a key of device id 0 apart from an unregistered key', async ({ f }) => {
  // The reverse map answers 0 for unknown keys; id 0 itself must still be protected.
  const zeroId = toBeHex(0, 32);
  await registerDevice(f, zeroId, f.device.address);
  await registerDevice(f, f.deviceId, f.other.address);
  await expectRevert(
    f.registry.connect(f.manufacturer).register(id('x'), f.device.address, 1),
    f.registry,
    'RegistryKeyInUse',
    [f.device.address, zeroId],
  );
});

register.run();

const claim = fixtureSuite('GatewayRegistry.claim');

claim('accepts a device-signed claim relayed by a third party', async ({ f }) => {
  await registerDevice(f);
  const signature = await claimFor(f, f.member.address);
  await expectEvent(
    f.registry.connect(f.relayer).claim(f.deviceId, f.member.address, 0, signature),
    f.registry,
    'DeviceClaimed',
    [f.deviceId, f.member.address],
  );
  const d = await f.registry.deviceOf(f.deviceId);
  assert.is(d.owner, f.member.address);
  assert.is(d.key, f.device.address);
  assert.ok(await f.registry.isActiveClaimed(f.deviceId));
  assert.is(await f.registry.nonces(f.deviceId), 1n);
  // The device key paid nothing: it has no ETH and never sent a transaction.
  assert.is(await f.chain.provider.getTransactionCount(f.device.address), 0);
});

claim('rejects a claim signed by a key other than the device key', async ({ f }) => {
  await registerDevice(f);
  const forger = new Wallet(testKey('forger'));
  const signature = await claimFor(f, f.member.address, 0, forger);
  await expectRevert(
    f.registry.connect(f.relayer).claim(f.deviceId, f.member.address, 0, signature),
    f.registry,
    'RegistryInvalidSigner',
    [f.deviceId, forger.address, f.device.address],
  );
});

claim('rejects a claim signed for one member but submitted for another', async ({ f }) => {
  await registerDevice(f);
  const signature = await claimFor(f, f.member.address);
  const recovered = recoveredSigner(f.registryAddress, f.deviceId, f.other.address, 0, signature);
  assert.is.not(recovered, f.device.address);
  await expectRevert(
    f.registry.connect(f.other).claim(f.deviceId, f.other.address, 0, signature),
    f.registry,
    'RegistryInvalidSigner',
    [f.deviceId, recovered, f.device.address],
  );
});

claim('rejects a replayed claim by its spent nonce', async ({ f }) => {
  await registerDevice(f);
  const signature = await claimFor(f, f.member.address);
  const send = () => f.registry.connect(f.relayer).claim(f.deviceId, f.member.address, 0, signature);
  await (await send()).wait();
  await expectRevert(send(), f.registry, 'RegistryInvalidNonce', [f.deviceId, 0n, 1n]);
});

claim('rejects a future nonce', async ({ f }) => {
  await registerDevice(f);
  const signature = await claimFor(f, f.member.address, 5);
  await expectRevert(
    f.registry.claim(f.deviceId, f.member.address, 5, signature),
    f.registry,
    'RegistryInvalidNonce',
    [f.deviceId, 5n, 0n],
  );
});

claim('rejects a second valid claim once the device has an owner', async ({ f }) => {
  await registerDevice(f);
  await (await f.registry.claim(f.deviceId, f.member.address, 0, await claimFor(f, f.member.address))).wait();
  const second = await claimFor(f, f.other.address, 1);
  await expectRevert(
    f.registry.claim(f.deviceId, f.other.address, 1, second),
    f.registry,
    'RegistryAlreadyClaimed',
    [f.deviceId, f.member.address],
  );
  assert.is((await f.registry.deviceOf(f.deviceId)).owner, f.member.address);
});

claim('rejects a claim replayed on another registry deployment', async ({ f }) => {
  await registerDevice(f);
  const signature = await claimFor(f, f.member.address);
  const twin = await new GatewayRegistry__factory(f.admin).deploy(f.admin.address);
  await (await twin.grantRole(MANUFACTURER_ROLE, f.manufacturer.address)).wait();
  await (await twin.connect(f.manufacturer).register(f.deviceId, f.device.address, RATED_EXPORT_W)).wait();
  const twinAddress = await twin.getAddress();
  const recovered = recoveredSigner(twinAddress, f.deviceId, f.member.address, 0, signature);
  await expectRevert(
    twin.connect(f.relayer).claim(f.deviceId, f.member.address, 0, signature),
    twin,
    'RegistryInvalidSigner',
    [f.deviceId, recovered, f.device.address],
  );
  // The signature stays valid where it was made.
  await (await f.registry.connect(f.relayer).claim(f.deviceId, f.member.address, 0, signature)).wait();
});

claim('rejects an unknown device and a zero member, in that order', async ({ f }) => {
  const unknown = deviceIdFromSerial('HEPEK-9999');
  const signature = await claimFor(f, f.member.address);
  await expectRevert(f.registry.claim(unknown, ZeroAddress, 7, '0x'), f.registry, 'RegistryUnknownDevice', [
    unknown,
  ]);
  await registerDevice(f);
  await expectRevert(
    f.registry.claim(f.deviceId, ZeroAddress, 7, signature),
    f.registry,
    'RegistryInvalidMember',
    [ZeroAddress],
  );
});

claim('rejects malformed signatures: short, garbage and high-s', async ({ f }) => {
  await registerDevice(f);
  const valid = getBytes(await claimFor(f, f.member.address));
  const sig = Signature.from(hexlify(valid));
  // The malleable twin (n - s, flipped v) recovers to the device key too; only low-s is accepted,
  // so the hub and the contract agree on exactly one encoding per signature.
  const highS = concat([
    sig.r,
    toBeHex(SECP256K1_N - BigInt(sig.s), 32),
    new Uint8Array([sig.v === 27 ? 28 : 27]),
  ]);
  const malformed = [hexlify(valid.slice(0, 64)), hexlify(new Uint8Array(65).fill(0xff)), highS, '0x'];
  for (const signature of malformed) {
    await expectRevert(
      f.registry.claim(f.deviceId, f.member.address, 0, signature),
      f.registry,
      'RegistryInvalidSignature',
      [f.deviceId],
    );
  }
  assert.is(await f.registry.nonces(f.deviceId), 0n);
});

claim.run();

const ids = suite('deviceIdFromSerial');

ids('is keccak256 of the UTF-8 serial as bytes32', () => {
  assert.is(deviceIdFromSerial('HEPEK-0001'), id('HEPEK-0001'));
  assert.match(deviceIdFromSerial('Zählerstand-ü'), /^0x[0-9a-f]{64}$/);
  assert.is.not(deviceIdFromSerial('a'), deviceIdFromSerial('A'));
});

ids.run();
