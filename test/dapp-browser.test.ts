/**
 * The DApp in a real browser (Debian Chromium at a phone viewport) against the real gateway started
 * by the CLI: the page loads from /dapp with nothing fetched from elsewhere, connects the demo
 * wallet, shows the HEPEK wallet's ERGON exactly as the chain reports it, and shows live readings
 * — the same ones the gateway publishes over MQTT. Under adminAuth the page asks for the editor's
 * login and its data stays guarded. Screenshots land in test/artifacts/.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt from 'mqtt';
import { Contract, formatUnits, JsonRpcProvider } from 'ethers';
import type { Page } from 'playwright-core';
import { MeterReadings__factory, PaymentChannels__factory } from '../gateway/chain/types';
import type { MeterReading } from '../gateway/context';
import type { DappState, ReadingsResponse } from '../gateway/web/api';
import { artifactPath, browserMissing, launchPhone, PHONE, type Browser } from './helpers/browser';
import {
  GATEWAY_LOGIN,
  ADMIN,
  ADMIN_AUTH,
  editorUrl,
  gatewayPorts,
  getJson,
  removeDir,
  startGateway,
  stopCli,
  tempDir,
  until,
  writeSettings,
  type GatewayPorts,
  type RunningCli,
} from './helpers/gateway';

interface Ctx {
  dir: string;
  ports: GatewayPorts;
  cli?: RunningCli;
  browser?: Browser;
}

const missing = browserMissing();
if (missing) console.log(`SKIP dapp-browser: ${missing}`);

const dapp = suite<Ctx>('DApp in Chromium');
const test = missing ? dapp.skip : dapp;

dapp.before.each(async (ctx) => {
  ctx.dir = tempDir('dapp');
  ctx.ports = await gatewayPorts();
  ctx.cli = undefined;
  ctx.browser = undefined;
});

dapp.after.each(async (ctx) => {
  if (ctx.browser) await ctx.browser.close();
  if (ctx.cli) await stopCli(ctx.cli);
  removeDir(ctx.dir);
});

async function boot(ctx: Ctx, extra: Record<string, unknown> = {}): Promise<string> {
  // The page's figures are checked against the token contract to the wei; billing (which moves
  // ERGON into a channel and spends it every cycle) is off here — test/e2e-money.test.ts covers it.
  const settings = writeSettings(ctx.dir, ctx.ports, { channel: { enabled: false }, ...extra });
  ctx.cli = startGateway(settings);
  const base = editorUrl(ctx.ports);
  await until(
    'the DApp page',
    async () => ((await fetch(`${base}/dapp/`)).status === 200 ? true : undefined),
    90_000,
    ctx.cli,
  );
  return base;
}

/** Every request the page makes, to prove it loads nothing from elsewhere. */
function recordRequests(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  return urls;
}

test('a phone connects the demo wallet and sees the chain balance and live readings', async (ctx) => {
  const base = await boot(ctx, { balance: { demoMintErgon: 20 } });
  const state = (await getJson(`${base}/dapp/api/state`)) as DappState;

  // Everything the gateway publishes on MQTT from now on, to compare with what the page shows.
  const published = new Set<string>();
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ctx.ports.broker}`, {
    reconnectPeriod: 0,
    ...GATEWAY_LOGIN,
  });
  client.on('message', (_t, payload) =>
    published.add((JSON.parse(payload.toString()) as MeterReading).timestamp),
  );
  await client.subscribeAsync(`hepek/${state.device.serial}/meter`);

  try {
    ctx.browser = await launchPhone();
    const page = await ctx.browser.context.newPage();
    const requests = recordRequests(page);
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));

    const navigated = Date.now();
    await page.goto(`${base}/dapp`);
    await page.getByTestId('ergon').waitFor({ timeout: 30_000 });
    const shownMs = Date.now() - navigated;
    // Runs in the page (a string, because the test's own lib has no DOM types).
    const bytes = (await page.evaluate(
      'performance.getEntries().reduce((sum, e) => sum + (e.transferSize || 0), 0)',
    )) as number;
    console.log(
      `dapp: balance shown ${shownMs} ms after navigation; ${(bytes / 1024).toFixed(0)} KiB transferred`,
    );
    assert.equal(page.viewportSize(), PHONE);

    // The ERGON shown is what the token contract says for the HEPEK wallet, to the wei.
    const chain = new JsonRpcProvider(`${base}/dapp/api/rpc`, state.chain.chainId, {
      staticNetwork: true,
      batchMaxCount: 1,
      cacheTimeout: -1,
    });
    const token = new Contract(
      state.contracts.ErgonToken!,
      ['function balanceOf(address) view returns (uint256)'],
      chain,
    );
    const onChain = (await token.getFunction('balanceOf')(state.device.wallet)) as bigint;
    chain.destroy();
    assert.is(onChain, 20n * 10n ** 18n, 'the demo mint is on chain');
    assert.is(await page.getByTestId('ergon').getAttribute('data-wei'), onChain.toString());
    assert.is(await page.getByTestId('ergon').textContent(), formatUnits(onChain, 18));
    assert.is(await page.getByTestId('spendable').textContent(), `${formatUnits(onChain, 18)} ERGON`);
    assert.is(await page.getByTestId('relay').getAttribute('data-on'), 'true');

    // The demo wallet: the dev member, who claimed this HEPEK at first start.
    await page.getByTestId('connect-demo').click();
    await page.getByTestId('wallet-address').waitFor();
    assert.is(await page.getByTestId('wallet-address').textContent(), state.demoMember);
    await until(
      'the ownership check',
      async () => ((await page.getByTestId('ownership').textContent()) === 'yours' ? true : undefined),
      15_000,
    );
    assert.is(await page.getByTestId('member-ergon').textContent(), '0.0');

    // A browser wallet on another chain is told so, and one tap adds this chain with the
    // gateway's RPC proxy (the wallet here is a stand-in that records what the page asks).
    const withWallet = await ctx.browser.context.newPage();
    await withWallet.addInitScript(() => {
      const calls: Array<{ method: string; params?: unknown[] }> = [];
      let chainId = '0x1';
      (globalThis as unknown as Record<string, unknown>).__walletCalls = calls;
      (globalThis as unknown as Record<string, unknown>).ethereum = {
        async request(args: { method: string; params?: unknown[] }) {
          calls.push(args);
          if (args.method === 'eth_requestAccounts') return ['0x00000000000000000000000000000000000000b0'];
          if (args.method === 'eth_chainId') return chainId;
          if (args.method === 'wallet_switchEthereumChain')
            throw Object.assign(new Error('Unrecognized chain ID'), { code: 4902 });
          if (args.method === 'wallet_addEthereumChain') {
            chainId = (args.params![0] as { chainId: string }).chainId;
            return null;
          }
          throw Object.assign(new Error(`unexpected ${args.method}`), { code: 4200 });
        },
      };
    });
    await withWallet.goto(`${base}/dapp`);
    await withWallet.getByRole('button', { name: 'Browser wallet' }).click();
    await withWallet.getByTestId('wrong-chain').waitFor();
    assert.match(
      (await withWallet.getByTestId('wrong-chain').textContent())!,
      `Your wallet is on chain 1; this gateway uses chain ${state.chain.chainId}.`,
    );
    const member = state.demoMember!;
    await until(
      'the ownership check',
      async () => {
        const text = await withWallet.getByTestId('ownership').textContent();
        return text === `owned by ${member.slice(0, 6)}…${member.slice(-4)}` ? true : undefined;
      },
      15_000,
    );
    await withWallet.getByTestId('switch-chain').click();
    await withWallet.getByTestId('wrong-chain').waitFor({ state: 'detached' });
    const calls = (await withWallet.evaluate(
      () => (globalThis as unknown as Record<string, unknown>).__walletCalls,
    )) as Array<{ method: string; params?: unknown[] }>;
    assert.equal(calls.find((x) => x.method === 'wallet_addEthereumChain')!.params, [
      {
        chainId: `0x${state.chain.chainId.toString(16)}`,
        chainName: `HEPEK dev chain ${state.chain.chainId}`,
        rpcUrls: [`${base}/dapp/api/rpc`],
        nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      },
    ]);
    assert.ok(
      calls.every((x) => !/sign/i.test(x.method)),
      'connecting asks for no signature',
    );
    await withWallet.close();

    // Live readings: the newest reading the page shows changes by itself, and each one it shows
    // is one the gateway published.
    const first = await page.getByTestId('reading-time').getAttribute('data-timestamp');
    const changed = await until(
      'a newer reading on the page',
      async () => {
        const now = await page.getByTestId('reading-time').getAttribute('data-timestamp');
        return now && now !== first ? now : undefined;
      },
      20_000,
      ctx.cli,
    );
    assert.ok(Date.parse(changed) > Date.parse(first!), `${changed} is after ${first}`);
    // MQTT delivery and the page's poll race by milliseconds; wait for the broker's copy briefly.
    await until(
      `${changed} published on MQTT`,
      async () => (published.has(changed) ? true : undefined),
      5000,
    );
    const points = await page
      .locator('[data-testid=readings] polyline[data-series=grid]')
      .getAttribute('points');
    assert.ok(points!.split(' ').length >= 2, 'the readings chart has a line');

    // What does not exist yet says so — no numbers.
    assert.ok(await page.getByTestId('prices-empty').isVisible(), 'price chart empty state');
    // Rewards and carbon credits: MeterReadings' account of this device, as the chain has it.
    assert.ok(state.contracts.MeterReadings, 'the embedded default deploys MeterReadings');
    const reader = new JsonRpcProvider(`${base}/dapp/api/rpc`, state.chain.chainId, {
      staticNetwork: true,
      batchMaxCount: 1,
      cacheTimeout: -1,
    });
    const account = await MeterReadings__factory.connect(state.contracts.MeterReadings!, reader).accountOf(
      state.device.deviceId,
    );
    reader.destroy();
    assert.is(await page.getByTestId('accrued').getAttribute('data-wei'), account.accruedWei.toString());
    assert.is(await page.getByTestId('carbon').getAttribute('data-mg'), account.carbonMg.toString());
    assert.is(
      await page.getByTestId('accrued').textContent(),
      `${formatUnits(account.accruedWei, 18)} ERGON`,
    );

    // Buy ERGON with one tap: the demo provider pays, the gateway's webhook mints to the HEPEK
    // wallet, and the page shows the new balance exactly as the chain has it.
    assert.ok(state.capabilities.includes('purchase'), 'purchases on the embedded default');
    assert.equal(state.purchase, { provider: 'demo', checkoutUrl: null, maxErgon: 10000 });
    await page.getByTestId('purchase-amount-10').click();
    await page.getByTestId('purchase-buy').click();
    await page.getByTestId('purchase-result').waitFor({ timeout: 30_000 });
    assert.is(
      await page.getByTestId('purchase-result').getAttribute('data-wei'),
      (10n * 10n ** 18n).toString(),
    );
    const afterBuy = new JsonRpcProvider(`${base}/dapp/api/rpc`, state.chain.chainId, {
      staticNetwork: true,
      batchMaxCount: 1,
      cacheTimeout: -1,
    });
    const bought = (await token.connect(afterBuy).getFunction('balanceOf')(state.device.wallet)) as bigint;
    afterBuy.destroy();
    assert.is(bought, onChain + 10n * 10n ** 18n, 'the chain has 10 ERGON more in the HEPEK wallet');
    await until(
      'the new balance on the page',
      async () =>
        (await page.getByTestId('ergon').getAttribute('data-wei')) === bought.toString() ? true : undefined,
      15_000,
    );
    assert.is(await page.getByTestId('ergon').textContent(), formatUnits(bought, 18));

    // Billing is off here; the market is there (test/dapp-market-browser.test.ts trades on it).
    assert.match((await page.getByTestId('channel').textContent())!, 'Not available on this gateway yet.');
    await page.getByTestId('no-offers').waitFor({ timeout: 15_000 });
    // Listing with the demo wallet: the page shows the Offer's every field before it signs.
    await page.getByTestId('sell-wh-2').click();
    await page.getByTestId('sell-list').click();
    const sheet = page.getByTestId('sign-sheet');
    await sheet.waitFor({ timeout: 15_000 });
    const fields = (await sheet.textContent()) ?? '';
    assert.match(fields, 'Sign Offer');
    for (const field of [
      'sellerDeviceId',
      'wattHours',
      'pricePerKWh',
      'deliveryStart',
      'deliveryEnd',
      'nonce',
    ])
      assert.match(fields, field);
    assert.match(fields, state.device.deviceId);
    await page.getByTestId('sign-approve').click();
    await page
      .getByTestId('market-result')
      .filter({ hasText: 'Listed offer #1: 1000 Wh' })
      .waitFor({ timeout: 30_000 });
    await page.getByTestId('cancel-offer-1').waitFor({ timeout: 15_000 });

    await page.screenshot({ path: artifactPath('dapp-phone.png') });
    await page.screenshot({ path: artifactPath('dapp-phone-full.png'), fullPage: true });
    const foreign = requests.filter((u) => !u.startsWith(`${base}/`) && !u.startsWith('data:'));
    assert.equal(foreign, [], 'the page loads nothing from elsewhere');
    assert.equal(errors, [], 'no page errors');
  } finally {
    await client.endAsync();
  }
});

test('with billing on, the page shows the channel: deposit on chain, spent = the acknowledged voucher, cycles counting', async (ctx) => {
  const base = await boot(ctx, { channel: { enabled: true } });
  ctx.browser = await launchPhone();
  const page = await ctx.browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/dapp`);
  await page.getByTestId('channel-id').waitFor({ timeout: 60_000 });
  const state = (await getJson(`${base}/dapp/api/state`)) as DappState;
  assert.ok(state.capabilities.includes('channel'));
  const channelId = BigInt(state.channel!.channelId!);
  assert.is(await page.getByTestId('channel-id').getAttribute('data-id'), channelId.toString());
  const reader = new JsonRpcProvider(`${base}/dapp/api/rpc`, state.chain.chainId, {
    staticNetwork: true,
    batchMaxCount: 1,
    cacheTimeout: -1,
  });
  const onChain = await PaymentChannels__factory.connect(state.contracts.PaymentChannels!, reader).channelOf(
    channelId,
  );
  reader.destroy();
  assert.is(await page.getByTestId('channel-deposit').getAttribute('data-wei'), onChain.deposit.toString());
  // Billing goes on: the page follows the payer's acknowledged vouchers cycle by cycle.
  const spent = await until(
    'a paid cycle on the page',
    async () => {
      const cycles = Number(await page.getByTestId('channel-cycles').textContent());
      const wei = await page.getByTestId('channel-spent').getAttribute('data-wei');
      return cycles > 0 && wei !== '0' ? BigInt(wei!) : undefined;
    },
    60_000,
    ctx.cli,
  );
  const remaining = BigInt((await page.getByTestId('channel-remaining').getAttribute('data-wei'))!);
  const deposit = BigInt((await page.getByTestId('channel-deposit').getAttribute('data-wei'))!);
  assert.ok(spent > 0n && spent <= deposit);
  assert.ok(
    remaining <= deposit - spent,
    'remaining is what the newest voucher leaves (or less, billing moved on)',
  );
  await page.getByTestId('channel').screenshot({ path: artifactPath('dapp-channel.png') });
  assert.equal(errors, [], 'no page errors');
});

test('under adminAuth the page asks for the editor login and its data stays guarded', async (ctx) => {
  const base = await boot(ctx, { nodeRed: { adminAuth: ADMIN_AUTH } });
  for (const path of ['/dapp/api/state', '/dapp/api/readings', '/dapp/api/prices'])
    assert.is((await fetch(`${base}${path}`)).status, 401, `${path} needs a login`);
  for (const path of ['/dapp/api/rpc', '/dapp/api/demo-wallet'])
    assert.is(
      (
        await fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id: 1, method: 'eth_accounts' }),
        })
      ).status,
      401,
      `${path} needs a login`,
    );

  ctx.browser = await launchPhone();
  const page = await ctx.browser.context.newPage();
  await page.goto(`${base}/dapp`);
  await page.getByLabel('Username').fill(ADMIN.username);
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText('wrong username or password').waitFor();
  await page.getByLabel('Password').fill(ADMIN.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('ergon').waitFor({ timeout: 30_000 });
  assert.is(await page.getByTestId('ergon').textContent(), formatUnits(20n * 10n ** 18n, 18));
  await page.getByTestId('connect-demo').click();
  await page.getByTestId('wallet-address').waitFor();
  const readings = (await page.evaluate(async () => {
    // Runs in the page; the test's own lib has no DOM types.
    const storage = (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } })
      .sessionStorage;
    const token = storage.getItem('hepek.adminToken');
    const r = await fetch('/dapp/api/readings?limit=2', { headers: { authorization: `Bearer ${token}` } });
    return r.json();
  })) as ReadingsResponse;
  assert.ok(readings.readings.length >= 1, 'the logged-in page reads readings');
  await page.screenshot({ path: artifactPath('dapp-login.png'), fullPage: true });
});

dapp.run();
