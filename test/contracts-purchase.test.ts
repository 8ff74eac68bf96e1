/**
 * Purchase: operator-signed receipts mint ERGON once per payment id. Fresh ledger per test.
 */
import * as assert from 'uvu/assert';
import { TypedDataEncoder, ZeroAddress, id, parseEther, verifyTypedData } from 'ethers';
import { signReceipt } from '../gateway/chain/eip712';
import { RECEIPT_TYPES, domainOf, encodeType, type Receipt } from '../gateway/chain/typed-data';
import { Purchase__factory } from '../gateway/chain/types';
import { expectEvent, expectRevert } from './helpers/assertions';
import { DEV_CHAIN_ID } from './helpers/chain';
import { ledgerSuite, type Ledger } from './helpers/ledger';

const OPERATOR_ROLE = id('OPERATOR_ROLE');

function receiptFor(l: Ledger, amount = parseEther('25'), paymentId = id('psp:pay_123')): Receipt {
  return { paymentId, hepekWallet: l.device.address, amount };
}

function signed(l: Ledger, receipt: Receipt, signer = l.operator, chainId = DEV_CHAIN_ID) {
  return signReceipt(signer, { chainId, verifyingContract: l.addresses.Purchase! }, receipt);
}

const deployment = ledgerSuite('Purchase deployment');

deployment(
  'matches the shared type string and domain; refuses a zero admin or a token without code',
  async ({ l }) => {
    assert.is(await l.purchase.RECEIPT_TYPEHASH(), id(encodeType('Receipt')));
    assert.is(
      await l.purchase.domainSeparator(),
      TypedDataEncoder.hashDomain(domainOf('purchase', DEV_CHAIN_ID, l.addresses.Purchase!)),
    );
    assert.ok(await l.purchase.hasRole(OPERATOR_ROLE, l.operator.address));
    const factory = new Purchase__factory(l.admin);
    await expectRevert(
      factory.deploy(ZeroAddress, l.addresses.ErgonToken!),
      l.purchase,
      'PurchaseInvalidAdmin',
      [ZeroAddress],
    );
    await expectRevert(factory.deploy(l.admin.address, l.other.address), l.purchase, 'PurchaseInvalidToken', [
      l.other.address,
    ]);
  },
);

deployment.run();

const redeem = ledgerSuite('Purchase.redeem');

redeem('mints the amount to the HEPEK wallet for an operator receipt relayed by anyone', async ({ l }) => {
  const receipt = receiptFor(l);
  const signature = await signed(l, receipt);
  await expectEvent(
    l.purchase.connect(l.relayer).redeem(receipt.paymentId, receipt.hepekWallet, receipt.amount, signature),
    l.purchase,
    'ReceiptRedeemed',
    [receipt.paymentId, receipt.hepekWallet, receipt.amount, l.operator.address],
  );
  assert.is(await l.token.balanceOf(l.device.address), receipt.amount);
  assert.ok(await l.purchase.isRedeemed(receipt.paymentId));
});

redeem('a replayed receipt reverts with PurchaseReceiptUsed', async ({ l }) => {
  const receipt = receiptFor(l);
  const signature = await signed(l, receipt);
  const send = () => l.purchase.redeem(receipt.paymentId, receipt.hepekWallet, receipt.amount, signature);
  await (await send()).wait();
  await expectRevert(send(), l.purchase, 'PurchaseReceiptUsed', [receipt.paymentId]);
  assert.is(await l.token.totalSupply(), receipt.amount, 'minted once');
});

redeem('refuses a receipt not signed by an operator, or altered, or for another chain', async ({ l }) => {
  const receipt = receiptFor(l);
  const byMember = await signed(l, receipt, l.member);
  await expectRevert(
    l.purchase.redeem(receipt.paymentId, receipt.hepekWallet, receipt.amount, byMember),
    l.purchase,
    'PurchaseUnauthorizedSigner',
    [receipt.paymentId, l.member.address],
  );
  const signature = await signed(l, receipt);
  const domain = domainOf('purchase', DEV_CHAIN_ID, l.addresses.Purchase!);
  const inflated = { ...receipt, amount: receipt.amount * 10n };
  await expectRevert(
    l.purchase.redeem(inflated.paymentId, inflated.hepekWallet, inflated.amount, signature),
    l.purchase,
    'PurchaseUnauthorizedSigner',
    [receipt.paymentId, verifyTypedData(domain, RECEIPT_TYPES, inflated, signature)],
  );
  const foreign = await signed(l, receipt, l.operator, 1);
  await expectRevert(
    l.purchase.redeem(receipt.paymentId, receipt.hepekWallet, receipt.amount, foreign),
    l.purchase,
    'PurchaseUnauthorizedSigner',
    [receipt.paymentId, verifyTypedData(domain, RECEIPT_TYPES, receipt, foreign)],
  );
});

redeem('a revoked operator key voids its unredeemed receipts', async ({ l }) => {
  const receipt = receiptFor(l);
  const signature = await signed(l, receipt);
  await (await l.purchase.revokeRole(OPERATOR_ROLE, l.operator.address)).wait();
  await expectRevert(
    l.purchase.redeem(receipt.paymentId, receipt.hepekWallet, receipt.amount, signature),
    l.purchase,
    'PurchaseUnauthorizedSigner',
    [receipt.paymentId, l.operator.address],
  );
});

redeem('refuses a zero wallet, a zero amount and a malformed signature', async ({ l }) => {
  const receipt = receiptFor(l);
  await expectRevert(
    l.purchase.redeem(receipt.paymentId, ZeroAddress, 1n, '0x'),
    l.purchase,
    'PurchaseInvalidWallet',
    [ZeroAddress],
  );
  await expectRevert(
    l.purchase.redeem(receipt.paymentId, receipt.hepekWallet, 0n, '0x'),
    l.purchase,
    'PurchaseZeroAmount',
    [receipt.paymentId],
  );
  await expectRevert(
    l.purchase.redeem(receipt.paymentId, receipt.hepekWallet, receipt.amount, '0x1234'),
    l.purchase,
    'PurchaseInvalidSignature',
    [receipt.paymentId],
  );
});

redeem('fails while the token is paused and can be redeemed after', async ({ l }) => {
  const receipt = receiptFor(l);
  const signature = await signed(l, receipt);
  await (await l.token.pause()).wait();
  const send = () => l.purchase.redeem(receipt.paymentId, receipt.hepekWallet, receipt.amount, signature);
  await expectRevert(send(), l.token, 'EnforcedPause', []);
  assert.not.ok(await l.purchase.isRedeemed(receipt.paymentId));
  await (await l.token.unpause()).wait();
  await (await send()).wait();
  assert.is(await l.token.balanceOf(l.device.address), receipt.amount);
});

redeem.run();
