/**
 * ErgonToken beyond mint and permit (test/contracts.test.ts): who may mint after the deployment
 * plan ran, pausing, burning. Fresh ledger per test.
 */
import * as assert from 'uvu/assert';
import { ZeroAddress, id, parseEther, toBeHex } from 'ethers';
import { expectEvent, expectRevert } from './helpers/assertions';
import { ledgerSuite, type Ledger } from './helpers/ledger';

const MINTER_ROLE = id('MINTER_ROLE');
const DEFAULT_ADMIN_ROLE = toBeHex(0, 32);

/** Gives `to` ERGON the only way there is: a temporary minter granted by the admin, then revoked. */
async function fund(l: Ledger, to: string, amount: bigint): Promise<void> {
  await (await l.token.grantRole(MINTER_ROLE, l.admin.address)).wait();
  await (await l.token.mint(to, amount)).wait();
  await (await l.token.revokeRole(MINTER_ROLE, l.admin.address)).wait();
}

const roles = ledgerSuite('ErgonToken roles after deployment');

roles('MINTER_ROLE belongs to exactly MeterReadings and Purchase; the admin cannot mint', async ({ l }) => {
  for (const [who, expected] of [
    [l.addresses.MeterReadings!, true],
    [l.addresses.Purchase!, true],
    [l.admin.address, false],
    [l.operator.address, false],
    [l.addresses.GatewayRegistry!, false],
  ] as const) {
    assert.is(await l.token.hasRole(MINTER_ROLE, who), expected, who);
  }
  assert.ok(await l.token.hasRole(DEFAULT_ADMIN_ROLE, l.admin.address));
  await expectRevert(l.token.mint(l.admin.address, 1n), l.token, 'AccessControlUnauthorizedAccount', [
    l.admin.address,
    MINTER_ROLE,
  ]);
});

roles.run();

const pause = ledgerSuite('ErgonToken.pause, unpause');

pause('pausing blocks transfers, transferFrom, mints and burns until unpaused', async ({ l }) => {
  await fund(l, l.member.address, parseEther('10'));
  await (await l.token.connect(l.member).approve(l.other.address, parseEther('1'))).wait();
  await expectEvent(l.token.pause(), l.token, 'Paused', [l.admin.address]);
  assert.ok(await l.token.paused());
  const blocked = [
    () => l.token.connect(l.member).transfer(l.other.address, 1n),
    () => l.token.connect(l.other).transferFrom(l.member.address, l.other.address, 1n),
    () => l.token.connect(l.member).burn(1n),
  ];
  for (const send of blocked) await expectRevert(send(), l.token, 'EnforcedPause', []);
  await (await l.token.grantRole(MINTER_ROLE, l.admin.address)).wait();
  await expectRevert(l.token.mint(l.member.address, 1n), l.token, 'EnforcedPause', []);
  await expectEvent(l.token.unpause(), l.token, 'Unpaused', [l.admin.address]);
  await expectEvent(l.token.connect(l.member).transfer(l.other.address, 1n), l.token, 'Transfer', [
    l.member.address,
    l.other.address,
    1n,
  ]);
});

pause('only the admin pauses and unpauses; pausing twice is refused', async ({ l }) => {
  for (const caller of [l.operator, l.member]) {
    await expectRevert(l.token.connect(caller).pause(), l.token, 'AccessControlUnauthorizedAccount', [
      caller.address,
      DEFAULT_ADMIN_ROLE,
    ]);
  }
  await (await l.token.pause()).wait();
  await expectRevert(l.token.pause(), l.token, 'EnforcedPause', []);
  await expectRevert(l.token.connect(l.member).unpause(), l.token, 'AccessControlUnauthorizedAccount', [
    l.member.address,
    DEFAULT_ADMIN_ROLE,
  ]);
  await (await l.token.unpause()).wait();
  await expectRevert(l.token.unpause(), l.token, 'ExpectedPause', []);
});

pause.run();

const burn = ledgerSuite('ErgonToken.burn, burnFrom');

burn('a holder burns its own ERGON; a spender burns within its allowance', async ({ l }) => {
  await fund(l, l.member.address, 100n);
  await expectEvent(l.token.connect(l.member).burn(30n), l.token, 'Transfer', [
    l.member.address,
    ZeroAddress,
    30n,
  ]);
  assert.is(await l.token.totalSupply(), 70n);
  await expectRevert(l.token.connect(l.member).burn(71n), l.token, 'ERC20InsufficientBalance', [
    l.member.address,
    70n,
    71n,
  ]);
  await (await l.token.connect(l.member).approve(l.other.address, 10n)).wait();
  await expectRevert(
    l.token.connect(l.other).burnFrom(l.member.address, 11n),
    l.token,
    'ERC20InsufficientAllowance',
    [l.other.address, 10n, 11n],
  );
  await (await l.token.connect(l.other).burnFrom(l.member.address, 10n)).wait();
  assert.is(await l.token.totalSupply(), 60n);
});

burn.run();
