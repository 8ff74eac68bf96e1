/**
 * The market in a real browser, across two HEPEKs: two gateways started by the CLI on one JSON-RPC
 * node (`hardhat node`), a generator that sells and a consumer that buys, each owned by its own
 * member whose wallet is an injected EIP-1193 provider (window.ethereum, backed in the test by the
 * member's key — what MetaMask does in a phone's wallet browser). The seller's page lists an
 * offer, the buyer's page buys it with one tap, the seller's gateway proves delivery from its
 * meter and settles, and both pages show both balances changed by exactly the settled payment.
 * Every signature the wallets were asked for is EIP-712 typed data with every field of the trade.
 * Screenshots at a phone viewport land in test/artifacts/.
 *
 * The chain's clock is moved by the test (evm_setNextBlockTimestamp), like test/e2e-market's
 * mineAt: the window's readings are taken when the chain reaches it, with the meter's real counters.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { JsonRpcProvider, Wallet, parseEther, toQuantity, type TypedDataField } from 'ethers';
import type { Page } from 'playwright-core';
import { EnergyMarket__factory, ErgonToken__factory, MeterReadings__factory } from '../gateway/chain/types';
import type { DappState } from '../gateway/web/api';
import { artifactPath, browserMissing, launchPhone, type Browser } from './helpers/browser';
import {
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
import { startHardhatNode, type HardhatNode } from './helpers/hardhat-node';

const CHAIN_ID = 31341;

interface Ctx {
  dir: string;
  node?: HardhatNode;
  clis: RunningCli[];
  browser?: Browser;
}

const missing = browserMissing();
if (missing) console.log(`SKIP dapp-market-browser: ${missing}`);

const market = suite<Ctx>('DApp market in Chromium, two HEPEKs');
const test = missing ? market.skip : market;

market.before.each((ctx) => {
  ctx.dir = tempDir('dapp-market');
  ctx.clis = [];
  ctx.node = undefined;
  ctx.browser = undefined;
});

market.after.each(async (ctx) => {
  if (ctx.browser) await ctx.browser.close();
  for (const cli of ctx.clis) await stopCli(cli);
  await ctx.node?.kill();
  removeDir(ctx.dir);
});

/** What a wallet was asked to do, for the "typed data, never raw hashes" check. */
interface Prompt {
  method: string;
  primaryType?: string;
  message?: Record<string, unknown>;
}

/**
 * window.ethereum for `page`, backed by `key`: accounts and chain id answered, typed data signed
 * after checking it is well-formed EIP-712, raw-message signing refused (as the demo wallet does),
 * everything else forwarded to the node.
 */
async function injectWallet(page: Page, key: Wallet, rpcUrl: string, prompts: Prompt[]): Promise<void> {
  const node = new JsonRpcProvider(rpcUrl, CHAIN_ID, { staticNetwork: true });
  await page.exposeFunction('hepekTestWallet', async (method: string, params: unknown[]) => {
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return { result: [key.address] };
      case 'eth_chainId':
        return { result: toQuantity(CHAIN_ID) };
      case 'eth_signTypedData_v4': {
        const payload = JSON.parse(String(params[1])) as {
          types: Record<string, TypedDataField[]>;
          domain: Record<string, unknown>;
          primaryType: string;
          message: Record<string, unknown>;
        };
        prompts.push({ method, primaryType: payload.primaryType, message: payload.message });
        if (String(params[0]).toLowerCase() !== key.address.toLowerCase())
          return { error: { code: 4100, message: `not this wallet: ${String(params[0])}` } };
        const { EIP712Domain: _domain, ...types } = payload.types;
        return { result: await key.signTypedData(payload.domain, types, payload.message) };
      }
      case 'eth_sign':
      case 'personal_sign':
        prompts.push({ method });
        return { error: { code: 4100, message: `${method} refused by the test wallet` } };
      default:
        try {
          return { result: await node.send(method, params) };
        } catch (err) {
          return { error: { code: -32603, message: (err as Error).message } };
        }
    }
  });
  await page.addInitScript(() => {
    const call = (
      globalThis as unknown as {
        hepekTestWallet(
          m: string,
          p: unknown[],
        ): Promise<{ result?: unknown; error?: { code: number; message: string } }>;
      }
    ).hepekTestWallet;
    (globalThis as unknown as { ethereum: unknown }).ethereum = {
      async request({ method, params = [] }: { method: string; params?: unknown[] }) {
        const answer = await call(method, params);
        if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
        return answer.result;
      },
    };
  });
}

async function startHepek(
  ctx: Ctx,
  name: string,
  ports: GatewayPorts,
  extra: Record<string, unknown>,
  prepare?: (userDir: string) => void,
): Promise<string> {
  const dir = path.join(ctx.dir, name);
  mkdirSync(dir, { recursive: true });
  const settings = writeSettings(dir, ports, {
    chain: { rpcUrl: ctx.node!.url, chainId: CHAIN_ID },
    // Billing off: the balances compared below move by the market alone (test/e2e-money covers billing).
    channel: { enabled: false },
    market: { intervalMs: 1000, toleranceS: 60, graceS: 3600 },
    ...extra,
  });
  prepare?.(path.join(dir, 'user'));
  const cli = startGateway(settings);
  ctx.clis.push(cli);
  const base = editorUrl(ports);
  await until(
    `${name}'s DApp with the market`,
    async () => {
      const s = (await getJson(`${base}/dapp/api/state`)) as DappState;
      return s.capabilities.includes('market') && s.balance ? base : undefined;
    },
    120_000,
    cli,
  );
  return base;
}

async function ergonShown(page: Page): Promise<bigint> {
  return BigInt((await page.getByTestId('ergon').getAttribute('data-wei')) ?? 'x');
}

async function connect(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/dapp`);
  await page.getByRole('button', { name: 'Browser wallet' }).click();
  await page.getByTestId('ownership').filter({ hasText: 'yours' }).waitFor({ timeout: 30_000 });
  await page.getByTestId('market').getByRole('heading', { name: 'Offers' }).waitFor({ timeout: 30_000 });
}

test('one page lists an offer, another buys it; both balances change by the settled payment', async (ctx) => {
  ctx.node = await startHardhatNode(ctx.dir, CHAIN_ID);
  const chain = new JsonRpcProvider(ctx.node.url, CHAIN_ID, { staticNetwork: true });

  // The seller: a generator (it exports whenever the sun shines) on a June morning's simulated clock.
  const sellerPorts = await gatewayPorts();
  const sellerBase = await startHepek(ctx, 'seller', sellerPorts, {
    mode: 'generator',
    meter: { speed: 60, intervalMs: 500 },
    sim: { startTime: '2026-06-21T09:00:00Z' },
    balance: { demoMintErgon: 5 },
  });
  const sellerUser = path.join(ctx.dir, 'seller', 'user');
  const devAccounts = JSON.parse(
    readFileSync(path.join(sellerUser, 'keys', 'dev-accounts.json'), 'utf8'),
  ) as Record<string, string>;
  const sellerMember = new Wallet(devAccounts.member!);

  // The buyer: another HEPEK registered by the same manufacturer on the same deployment, claimed
  // by another member (its own key, funded for gas), running no hub of its own.
  const buyerMember = new Wallet(Wallet.createRandom().privateKey);
  await chain.send('hardhat_setBalance', [buyerMember.address, toQuantity(parseEther('100'))]);
  const buyerPorts = await gatewayPorts();
  const buyerBase = await startHepek(
    ctx,
    'buyer',
    buyerPorts,
    { mode: 'consumer', hub: { embedded: false }, balance: { demoMintErgon: 20 } },
    (userDir) => {
      mkdirSync(path.join(userDir, 'keys'), { recursive: true, mode: 0o700 });
      writeFileSync(
        path.join(userDir, 'keys', 'dev-accounts.json'),
        JSON.stringify({ ...devAccounts, member: buyerMember.privateKey }),
        { mode: 0o600 },
      );
      mkdirSync(path.join(userDir, 'deployments'), { recursive: true });
      copyFileSync(
        path.join(sellerUser, 'deployments', `${CHAIN_ID}.json`),
        path.join(userDir, 'deployments', `${CHAIN_ID}.json`),
      );
    },
  );
  const sellerState = (await getJson(`${sellerBase}/dapp/api/state`)) as DappState;
  const buyerState = (await getJson(`${buyerBase}/dapp/api/state`)) as DappState;
  assert.equal(buyerState.contracts, sellerState.contracts, 'one deployment');
  const token = ErgonToken__factory.connect(sellerState.contracts.ErgonToken!, chain);
  const energy = EnergyMarket__factory.connect(sellerState.contracts.EnergyMarket!, chain);

  ctx.browser = await launchPhone();
  const sellerPrompts: Prompt[] = [];
  const buyerPrompts: Prompt[] = [];
  const sellerPage = await ctx.browser.context.newPage();
  const buyerPage = await ctx.browser.context.newPage();
  const errors: string[] = [];
  for (const page of [sellerPage, buyerPage]) page.on('pageerror', (err) => errors.push(err.message));
  await injectWallet(sellerPage, sellerMember, ctx.node.url, sellerPrompts);
  await injectWallet(buyerPage, buyerMember, ctx.node.url, buyerPrompts);

  // The seller's page lists 250 Wh at 0.30 ERGON/kWh in the soonest 15-minute window.
  await connect(sellerPage, sellerBase);
  const sellerBefore = await ergonShown(sellerPage);
  assert.is(sellerBefore, await token.balanceOf(sellerState.device.wallet));
  await sellerPage.getByTestId('sell-wh-0').click();
  await sellerPage.getByTestId('sell-price-2').click();
  await sellerPage.getByTestId('sell-start-0').click();
  await sellerPage.getByTestId('sell-duration-0').click();
  await sellerPage.getByTestId('sell-list').click();
  await sellerPage
    .getByTestId('market-result')
    .filter({ hasText: 'Listed offer #1' })
    .waitFor({ timeout: 30_000 });
  await sellerPage.getByTestId('my-offer-1').waitFor();
  await sellerPage.screenshot({ path: artifactPath('dapp-market-listed.png'), fullPage: true });
  const offer = await energy.offerOf(1n);
  assert.is(offer.sellerWallet, sellerState.device.wallet);
  assert.is(offer.wattHours, 250n);
  assert.is(offer.pricePerKWh, parseEther('0.3'));
  assert.is(offer.deliveryEnd - offer.deliveryStart, 900n);

  // The buyer's page shows it with the seller's address and device, and buys it with one tap.
  await connect(buyerPage, buyerBase);
  const buyerBefore = await ergonShown(buyerPage);
  assert.is(await buyerPage.getByTestId('sell').count(), 0, 'a consumer HEPEK does not list');
  assert.is(buyerBefore, parseEther('20'));
  const shown = buyerPage.getByTestId('offer-1');
  await shown.waitFor({ timeout: 30_000 });
  const text = (await shown.textContent()) ?? '';
  assert.match(text, '250 Wh');
  assert.match(text, `seller ${sellerState.device.wallet.slice(0, 6)}`);
  assert.match(text, `device ${sellerState.device.deviceId.slice(0, 6)}`);
  await buyerPage.getByTestId('market').screenshot({ path: artifactPath('dapp-market-offer-card.png') });
  await buyerPage.getByTestId('buy-offer-1').click();
  await buyerPage
    .getByTestId('market-result')
    .filter({ hasText: 'Bought 250 Wh of offer #1' })
    .waitFor({ timeout: 30_000 });
  await buyerPage.getByTestId('position-1').waitFor({ timeout: 15_000 });
  await buyerPage.screenshot({ path: artifactPath('dapp-market-bought.png'), fullPage: true });
  const escrow = (250n * parseEther('0.3')) / 1000n;
  assert.is((await energy.positionOf(1n, buyerState.device.wallet)).escrow, escrow);

  // The chain reaches the window: the seller's gateway takes its start reading…
  const readings = MeterReadings__factory.connect(sellerState.contracts.MeterReadings!, chain);
  const seqOf = async () => (await readings.accountOf(sellerState.device.deviceId)).lastSeq;
  const seqBefore = await seqOf();
  await chain.send('evm_setNextBlockTimestamp', [toQuantity(offer.deliveryStart - 40n)]);
  await chain.send('evm_mine', []);
  await until(
    'the start reading',
    async () => ((await seqOf()) > seqBefore ? true : undefined),
    30_000,
    ctx.clis[0],
  );
  // …the meter exports more than was sold (its real counters, on the simulated June morning)…
  const exportAt = async () =>
    ((await getJson(`${sellerBase}/dapp/api/state`)) as DappState).meter?.exportWh ?? 0;
  const exportStart = await exportAt();
  await until(
    '300 Wh exported in the window',
    async () => ((await exportAt()) - exportStart >= 300 ? true : undefined),
    60_000,
  );
  // …and after the window its end reading, the proof and the settlement.
  await chain.send('evm_setNextBlockTimestamp', [toQuantity(offer.deliveryEnd + 5n)]);
  await chain.send('evm_mine', []);
  await until(
    'the settlement',
    async () => ((await energy.queryFilter(energy.filters.OfferSettled(1n))).length > 0 ? true : undefined),
    60_000,
    ctx.clis[0],
  );
  const [settled] = await energy.queryFilter(energy.filters.OfferSettled(1n));
  const paid = settled!.args.paid;
  assert.is(settled!.args.deliveredWh, 250n, 'everything sold was delivered');
  assert.is(paid, escrow);

  // Both pages show it: the sale, the purchase, and both balances changed by exactly the payment.
  const sellerAfter = sellerBefore + paid;
  const buyerAfter = buyerBefore - paid;
  await sellerPage
    .getByTestId('settlement-1')
    .filter({ hasText: 'Sold offer #1' })
    .waitFor({ timeout: 30_000 });
  await until(
    'the seller page balance',
    async () => ((await ergonShown(sellerPage)) === sellerAfter ? true : undefined),
    30_000,
  );
  await buyerPage
    .getByTestId('settlement-1')
    .filter({ hasText: 'Bought offer #1' })
    .waitFor({ timeout: 30_000 });
  await until(
    'the buyer page balance',
    async () => ((await ergonShown(buyerPage)) === buyerAfter ? true : undefined),
    30_000,
  );
  assert.is(await token.balanceOf(sellerState.device.wallet), sellerAfter);
  assert.is(await token.balanceOf(buyerState.device.wallet), buyerAfter);
  assert.is(await token.balanceOf(sellerState.contracts.EnergyMarket!), 0n, 'the market keeps nothing');
  await sellerPage.screenshot({ path: artifactPath('dapp-market-sold.png'), fullPage: true });
  await sellerPage.getByTestId('market').screenshot({ path: artifactPath('dapp-market-seller-card.png') });
  await buyerPage.getByTestId('market').screenshot({ path: artifactPath('dapp-market-buyer-card.png') });
  await buyerPage.screenshot({ path: artifactPath('dapp-market-settled.png'), fullPage: true });

  // The wallets were only ever asked for typed data, with every field of the trade.
  assert.equal(
    sellerPrompts.map((p) => [p.method, p.primaryType]),
    [['eth_signTypedData_v4', 'Offer']],
  );
  assert.equal(
    buyerPrompts.map((p) => [p.method, p.primaryType]),
    [['eth_signTypedData_v4', 'Buy']],
  );
  assert.equal(buyerPrompts[0]!.message, {
    offerId: '1',
    wattHours: '250',
    buyerWallet: buyerState.device.wallet,
    pricePerKWh: parseEther('0.3').toString(),
    nonce: '0',
    deadline: offer.expiry.toString(),
  });
  assert.equal(errors, []);
});

market.run();
