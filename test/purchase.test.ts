/**
 * The purchase webhook against a fresh ledger: a signed payment mints exactly once; replayed,
 * stale, forged and malformed deliveries mint nothing; idempotency survives a restart and an RPC
 * outage (503, then the retry mints once); the HTTP handler reads the raw body.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import * as assert from 'uvu/assert';
import { parseEther } from 'ethers';
import { deviceIdFromSerial } from '../gateway/chain/ids';
import {
  PurchaseWebhook,
  createChainMinter,
  demoPaymentProvider,
  paymentIdOf,
  signatureHeader,
  verifySignature,
  type PurchaseChain,
} from '../gateway/purchase';
import { SignatureError } from '../gateway/purchase/signature';
import { DEV_CHAIN_ID, flakyProvider } from './helpers/chain';
import { removeDir, tempDir } from './helpers/gateway';
import { ledgerSuite, onboardDevice, type Ledger } from './helpers/ledger';

const SERIAL = 'HEPEK-0001';
const SECRET = 'whsec_test_0123456789abcdef';
const NOW_MS = 1_800_000_000_000;
const NOW_S = NOW_MS / 1000;

function body(fields: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: 'pay_001',
      type: 'payment.succeeded',
      amountErgon: '25.5',
      currency: 'EUR',
      deviceSerial: SERIAL,
      ...fields,
    }),
  );
}

function signed(raw: Buffer, t = NOW_S, secret: string | string[] = SECRET) {
  return { 'hepek-signature': signatureHeader(secret, t, raw) };
}

/** The ledger with the device onboarded, and a flaky EIP-1193 link the operator sends through. */
async function setup(l: Ledger) {
  await onboardDevice(l);
  const { link, provider } = flakyProvider(l.chain.provider);
  const chain = createChainMinter({
    chainId: DEV_CHAIN_ID,
    registry: l.addresses.GatewayRegistry!,
    purchase: l.addresses.Purchase!,
    operator: l.operator.connect(provider),
    chainLabel: 'test chain',
  });
  return { link, chain, provider };
}

async function open(dir: string, chain: PurchaseChain, lines: string[] = []) {
  return PurchaseWebhook.open({
    secrets: [SECRET],
    journalDir: dir,
    chain,
    maxWei: parseEther('1000'),
    now: () => NOW_MS,
    log: { info: (line) => lines.push(line), warn: (line) => lines.push(line) },
  });
}

async function redemptions(l: Ledger): Promise<number> {
  return (await l.purchase.queryFilter(l.purchase.filters.ReceiptRedeemed())).length;
}

const s = ledgerSuite('purchase webhook');
let dir = '';
s.before.each(() => {
  dir = tempDir('purchase');
});
s.after.each(() => removeDir(dir));

s('the signature is HMAC-SHA256 of "t.body"; any of several v1 entries may match', () => {
  const raw = body();
  const expected = createHmac('sha256', SECRET).update(`${NOW_S}.${raw.toString()}`).digest('hex');
  assert.is(signatureHeader(SECRET, NOW_S, raw), `t=${NOW_S},v1=${expected}`);
  const rotated = signatureHeader(['whsec_old_secret_000000', SECRET], NOW_S, raw);
  assert.is(verifySignature(rotated, raw, [SECRET], NOW_S), NOW_S);
  for (const [header, kind] of [
    [undefined, 'missing'],
    ['v1=abc', 'malformed'],
    [`t=${NOW_S}`, 'malformed'],
    [`t=soon,v1=${expected}`, 'malformed'],
    [`t=${NOW_S},v1=${'0'.repeat(64)}`, 'mismatch'],
  ] as const) {
    try {
      verifySignature(header, raw, [SECRET], NOW_S);
      assert.unreachable(`accepted ${header}`);
    } catch (err) {
      assert.instance(err, SignatureError);
      assert.is((err as SignatureError).kind, kind, String(header));
    }
  }
});

s('a valid purchase mints exactly once to the HEPEK wallet', async ({ l }) => {
  const { chain } = await setup(l);
  const hook = await open(dir, chain);
  const before = await l.token.balanceOf(l.device.address);
  const raw = body();
  const a = await hook.receive(signed(raw), raw);
  assert.is(a.status, 200, JSON.stringify(a.body));
  assert.is(a.body.status, 'minted');
  assert.is(a.body.wallet, l.device.address);
  assert.is(a.body.deviceId, deviceIdFromSerial(SERIAL));
  assert.is(a.body.paymentId, paymentIdOf('pay_001'));
  assert.is(a.body.amountWei, parseEther('25.5').toString());
  assert.is((await l.token.balanceOf(l.device.address)) - before, parseEther('25.5'));
  assert.ok(await l.purchase.isRedeemed(paymentIdOf('pay_001')));
  assert.is(await redemptions(l), 1);
  await hook.close();
});

s(
  'the demo provider pays through the same webhook; a bad amount is refused before anything is sent',
  async ({ l }) => {
    const { chain } = await setup(l);
    const hook = await open(dir, chain);
    const provider = demoPaymentProvider(hook, SECRET, SERIAL, () => NOW_MS);
    const paid = await provider.pay({ amountWei: parseEther('5') });
    assert.is(paid.status, 200, JSON.stringify(paid.body));
    assert.is(paid.body.amountWei, parseEther('5').toString());
    const typed = await provider.pay({ amountErgon: '2.5' });
    assert.is(typed.body.amountWei, parseEther('2.5').toString());
    assert.throws(
      () => provider.pay({ amountWei: 0n }),
      /amountWei: 0n? is not allowed; expected a bigint of ERGON base units > 0/,
    );
    assert.throws(
      () => provider.pay({}),
      /amountErgon: (undefined|null) is not allowed; expected ERGON as a decimal string/,
    );
    assert.is(await redemptions(l), 2);
    await hook.close();
  },
);

s(
  'a replay of the same id mints nothing and answers the original result, also after a restart',
  async ({ l }) => {
    const { chain } = await setup(l);
    let hook = await open(dir, chain);
    const heard: string[] = [];
    hook.onMinted((p) => heard.push(`${p.id} ${p.amountWei} ${p.wallet} ${p.txHash}`));
    const raw = body();
    const first = await hook.receive(signed(raw), raw);
    assert.is(first.status, 200);
    const block = await l.chain.provider.getBlockNumber();
    const again = await hook.receive(signed(raw, NOW_S + 10), raw);
    assert.is(again.status, 200);
    assert.equal(again.body, first.body);
    assert.is(again.headers['hepek-replay'], 'true');
    assert.equal(
      heard,
      [`pay_001 ${parseEther('25.5')} ${first.body.wallet} ${first.body.txHash}`],
      'the mint listener hears the mint once, not the replay',
    );
    await hook.close();

    hook = await open(dir, chain);
    assert.equal(hook.stats(), { minted: 1, pending: 0, replays: 0, refused: 0 });
    assert.equal(
      hook.mintedPayments().map((p) => [p.id, p.amountWei, p.receivedAt]),
      [['pay_001', parseEther('25.5').toString(), NOW_S]],
      'minted payments are recovered from the journal',
    );
    const afterRestart = await hook.receive(signed(raw), raw);
    assert.is(afterRestart.status, 200);
    assert.equal(afterRestart.body, first.body);
    assert.is(await l.chain.provider.getBlockNumber(), block, 'no transaction was sent for a replay');
    assert.is(await redemptions(l), 1);
    await hook.close();
  },
);

s('stale, future and forged deliveries are 401 and mint nothing', async ({ l }) => {
  const { chain } = await setup(l);
  const lines: string[] = [];
  const hook = await open(dir, chain, lines);
  const raw = body();
  const stale = await hook.receive(signed(raw, NOW_S - 301), raw);
  assert.is(stale.status, 401);
  assert.match(String(stale.body.error), 'is 301 s old; the tolerance is 300 s (5 minutes)');
  const future = await hook.receive(signed(raw, NOW_S + 400), raw);
  assert.is(future.status, 401);
  const forged = await hook.receive(signed(raw, NOW_S, 'whsec_wrong_secret_0000000'), raw);
  assert.is(forged.status, 401);
  assert.match(String(forged.body.error), 'no v1 signature matches');
  const tampered = await hook.receive(signed(raw), body({ amountErgon: '999' }));
  assert.is(tampered.status, 401);
  const unsigned = await hook.receive({}, raw);
  assert.is(unsigned.status, 401);
  assert.is(await redemptions(l), 0);
  assert.is(hook.stats().refused, 5);
  assert.not.ok(
    lines.some((line) => line.includes(SECRET)),
    'the secret is never logged',
  );
  // Within the tolerance the same body is accepted.
  assert.is((await hook.receive(signed(raw, NOW_S - 299), raw)).status, 200);
  await hook.close();
});

s('malformed bodies are 400 naming field, value and what is allowed', async ({ l }) => {
  const { chain } = await setup(l);
  const hook = await open(dir, chain);
  const cases: Array<[string, Buffer, string, RegExp]> = [
    ['not JSON', Buffer.from('{"id":'), 'body', /expected a JSON object/],
    ['an array', Buffer.from('[1]'), 'body', /expected a JSON object/],
    ['no id', body({ id: undefined }), 'id', /id: undefined is not allowed; expected the payment id/],
    ['bad id', body({ id: 'pay 1' }), 'id', /"pay 1"/],
    [
      'other type',
      body({ type: 'payment.failed' }),
      'type',
      /"payment.failed" is not allowed; expected "payment.succeeded"/,
    ],
    ['both amounts', body({ amountWei: '1' }), 'amountWei', /exactly one of amountErgon/],
    ['no amount', body({ amountErgon: undefined }), 'amountErgon', /exactly one of amountErgon/],
    ['negative', body({ amountErgon: '-1' }), 'amountErgon', /"-1" is not allowed/],
    ['19 decimals', body({ amountErgon: '1.0000000000000000001' }), 'amountErgon', /at most 18 decimals/],
    ['zero', body({ amountErgon: '0' }), 'amountErgon', /greater than zero/],
    ['over the cap', body({ amountErgon: '1000.5' }), 'amountErgon', /purchases.maxErgon/],
    [
      'wei not integer',
      body({ amountErgon: undefined, amountWei: '1.5' }),
      'amountWei',
      /"1.5" is not allowed/,
    ],
    ['currency', body({ currency: 'eur' }), 'currency', /"eur" is not allowed; expected an ISO 4217/],
    ['no target', body({ deviceSerial: undefined }), 'deviceSerial', /deviceSerial or wallet/],
    [
      'unknown device',
      body({ deviceSerial: 'HEPEK-9999' }),
      'deviceSerial',
      /"HEPEK-9999" is not allowed; expected the serial of a HEPEK registered/,
    ],
    ['bad wallet', body({ deviceSerial: undefined, wallet: '0x12' }), 'wallet', /"0x12"/],
    [
      'foreign wallet',
      body({ deviceSerial: undefined, wallet: l.other.address }),
      'wallet',
      /registered device key/,
    ],
    ['wrong member', body({ member: l.other.address }), 'member', /the owner of this HEPEK/],
    ['unknown field', body({ amount: 5 }), 'amount', /known fields are id, type/],
  ];
  for (const [name, raw, field, message] of cases) {
    const a = await hook.receive(signed(raw), raw);
    assert.is(a.status, 400, `${name}: ${JSON.stringify(a.body)}`);
    assert.is(a.body.field, field, name);
    assert.match(String(a.body.error), message, name);
  }
  assert.is(await redemptions(l), 0);
  // The wallet (instead of the serial) and a matching member are accepted.
  const ok = body({
    id: 'pay_wallet',
    deviceSerial: undefined,
    wallet: l.device.address,
    member: l.member.address,
  });
  assert.is((await hook.receive(signed(ok), ok)).status, 200);
  await hook.close();
});

s('the same id with another amount is 409 and mints nothing more', async ({ l }) => {
  const { chain } = await setup(l);
  const hook = await open(dir, chain);
  const raw = body();
  assert.is((await hook.receive(signed(raw), raw)).status, 200);
  const changed = body({ amountErgon: '30' });
  const a = await hook.receive(signed(changed), changed);
  assert.is(a.status, 409);
  assert.is(a.body.field, 'amountWei');
  assert.is(await redemptions(l), 1);
  await hook.close();
});

s('an RPC outage is 503 with Retry-After; the retry mints once, even across a restart', async ({ l }) => {
  const { chain, link } = await setup(l);
  let hook = await open(dir, chain);
  const raw = body();
  // Registry lookups pass, then the chain goes away before the receipt is redeemed.
  const flakyChain: PurchaseChain = {
    resolve: (e) => chain.resolve(e),
    sign: (r) => chain.sign(r),
    redeem: async (r, sig) => {
      link.down = true;
      return chain.redeem(r, sig);
    },
  };
  await hook.close();
  hook = await open(dir, flakyChain);
  const a = await hook.receive(signed(raw), raw);
  assert.is(a.status, 503, JSON.stringify(a.body));
  assert.is(a.headers['retry-after'], '30');
  assert.match(String(a.body.error), 'test chain');
  assert.equal(hook.stats(), { minted: 0, pending: 1, replays: 0, refused: 0 });
  // Still down: another 503, nothing lost.
  assert.is((await hook.receive(signed(raw), raw)).status, 503);
  await hook.close();
  link.down = false;
  hook = await open(dir, chain);
  assert.is(hook.stats().pending, 1, 'the journaled receipt survived the restart');
  const b = await hook.receive(signed(raw), raw);
  assert.is(b.status, 200, JSON.stringify(b.body));
  assert.is(await redemptions(l), 1);
  assert.is(await l.token.balanceOf(l.device.address), parseEther('25.5'));
  await hook.close();
});

s(
  'minted but the answer lost (crash before journaling): the retry finds the mint, no second one',
  async ({ l }) => {
    const { chain } = await setup(l);
    let txHash = '';
    const lossy: PurchaseChain = {
      resolve: (e) => chain.resolve(e),
      sign: (r) => chain.sign(r),
      redeem: async (r, sig) => {
        txHash = (await chain.redeem(r, sig)).txHash;
        throw new Error('process killed');
      },
    };
    let hook = await open(dir, lossy);
    const raw = body();
    assert.is((await hook.receive(signed(raw), raw)).status, 500);
    await hook.close();
    hook = await open(dir, chain);
    const a = await hook.receive(signed(raw), raw);
    assert.is(a.status, 200);
    assert.is(a.body.txHash, txHash);
    assert.is(await redemptions(l), 1);
    await hook.close();
  },
);

s('two deliveries of one id at once mint once', async ({ l }) => {
  const { chain } = await setup(l);
  const hook = await open(dir, chain);
  const raw = body();
  const [a, b] = await Promise.all([hook.receive(signed(raw), raw), hook.receive(signed(raw), raw)]);
  assert.is(a.status, 200);
  assert.is(b.status, 200);
  assert.is(a.body.txHash, b.body.txHash);
  assert.is(await redemptions(l), 1);
  await hook.close();
});

s('over HTTP: the raw body is signed, 405 for GET, 413 over 64 KiB', async ({ l }) => {
  const { chain } = await setup(l);
  const hook = await open(dir, chain);
  const server: Server = createServer((req, res) => void hook.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}${hook.path}`;
  try {
    // Whitespace matters: the HMAC is over the bytes as sent.
    const raw = Buffer.from(
      `{ "id": "pay_http", "type": "payment.succeeded", "amountWei": "1000", "currency": "EUR", "deviceSerial": "${SERIAL}" }`,
    );
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...signed(raw), 'content-type': 'application/json' },
      body: raw,
    });
    assert.is(res.status, 200);
    assert.is(((await res.json()) as { amountWei: string }).amountWei, '1000');
    assert.is((await fetch(url)).status, 405);
    const big = Buffer.alloc(70 * 1024, 32);
    assert.is((await fetch(url, { method: 'POST', headers: signed(big), body: big })).status, 413);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await hook.close();
  }
});

s.run();
