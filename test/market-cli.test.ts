/**
 * `hepek market offers|list|buy|settle` against a running gateway (its embedded chain, through the
 * DApp RPC) the way a script uses them: list this device's export, see it in `offers --json`,
 * refuse bad flags with exit 2 naming the flag, a refused transaction with exit 1 naming the
 * contract's error, and a node that does not answer.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  gatewayPorts,
  removeDir,
  runCli,
  startGateway,
  stopCli,
  tempDir,
  waitForStatus,
  writeSettings,
  type RunningCli,
} from './helpers/gateway';

interface Ctx {
  dir: string;
  settings: string;
  gateway?: RunningCli;
}

const cli = suite<Ctx>('hepek market');

cli.before(async (ctx) => {
  ctx.dir = tempDir('market-cli');
  const ports = await gatewayPorts();
  // The meter at real speed: the embedded chain's clock follows the simulated one, and at the
  // helpers' 600× an offer starting two wall-clock hours ahead expires after 12 s of a slow CI run.
  ctx.settings = writeSettings(ctx.dir, ports, { market: { auto: false }, meter: { speed: 1 } });
  ctx.gateway = startGateway(ctx.settings);
  await waitForStatus(ctx.gateway, ports);
});

cli.after(async (ctx) => {
  if (ctx.gateway) await stopCli(ctx.gateway);
  removeDir(ctx.dir);
});

async function market(ctx: Ctx, ...args: string[]): Promise<{ code: number | null; out: string }> {
  const run = runCli(['market', ...args, '--settings', ctx.settings]);
  const { code } = await run.exited;
  return { code, out: run.output() };
}

cli('list this device’s export, then offers --json prints it in a JSON array', async (ctx) => {
  const empty = await market(ctx, 'offers', '--json');
  assert.is(empty.code, 0, empty.out);
  assert.equal(JSON.parse(empty.out), []);
  const start = Math.floor(Date.now() / 1000) + 7200;
  const listed = await market(
    ctx,
    'list',
    '--wh',
    '1500',
    '--price',
    '0.25',
    '--start',
    new Date(start * 1000).toISOString(),
    '--end',
    String(start + 3600),
  );
  assert.is(listed.code, 0, listed.out);
  assert.match(listed.out, /listed #1 +1500\/1500 Wh left +0\.25 ERGON\/kWh/);
  const offers = await market(ctx, 'offers', '--json');
  assert.is(offers.code, 0, offers.out);
  const parsed = JSON.parse(offers.out) as Array<Record<string, unknown>>;
  assert.is(parsed.length, 1);
  assert.is(parsed[0]!.offerId, 1);
  assert.is(parsed[0]!.wattHours, 1500);
  assert.is(parsed[0]!.availableWh, 1500);
  assert.is(parsed[0]!.pricePerKWh, '250000000000000000');
  assert.is(parsed[0]!.deliveryStart, start);
  assert.is(parsed[0]!.deliveryEnd, start + 3600);
  assert.is(parsed[0]!.expiry, start);
  const text = await market(ctx, 'offers');
  assert.match(text.out, /^#1 +1500\/1500 Wh left/m);
});

cli('bad flags exit 2 naming the flag, the value and what is allowed', async (ctx) => {
  const cases: Array<[string[], RegExp]> = [
    [
      ['list', '--wh', '-5', '--price', '1', '--start', '1', '--end', '2'],
      /--wh: "-5" is not allowed; expected a whole number of Wh > 0/,
    ],
    [
      ['list', '--wh', '5', '--price', 'cheap', '--start', '1', '--end', '2'],
      /--price: "cheap" is not allowed; expected ERGON per kWh/,
    ],
    [
      ['list', '--wh', '5', '--price', '1', '--start', 'tomorrow', '--end', '2'],
      /--start: "tomorrow" is not allowed; expected an ISO 8601 time/,
    ],
    [
      ['list', '--wh', '5', '--price', '1', '--start', '20', '--end', '10'],
      /--end: "10" is not allowed; expected a time after --start 20/,
    ],
    [['buy', '--offer', 'x', '--wh', '5'], /--offer: "x" is not allowed; expected an offer id/],
    [
      ['settle', '--offer', '1', '--buyer', 'nobody'],
      /--buyer: "nobody" is not allowed; expected a 0x wallet address/,
    ],
    [['offers', '--bogus'], /--bogus: "--bogus" is not allowed; expected one of --rpc/],
    [
      ['offers', '--market', '0x1234'],
      /--market: "0x1234" is not allowed; expected the 0x address of an EnergyMarket/,
    ],
    [['frobnicate'], /market: "frobnicate" is not allowed; expected one of offers, list, buy, settle/],
  ];
  for (const [args, message] of cases) {
    const result = await market(ctx, ...args);
    assert.is(result.code, 2, `${args.join(' ')}: ${result.out}`);
    assert.match(result.out, message);
  }
});

cli('a refused buy exits 1 with the contract error; settle reports nobody to settle', async (ctx) => {
  // The gateway's own wallet is the seller of offer 1: the market refuses the self-trade.
  const own = await market(ctx, 'buy', '--offer', '1', '--wh', '10');
  assert.is(own.code, 1, own.out);
  assert.match(own.out, /MarketSelfTrade\(0x[0-9a-fA-F]{40}\)/, own.out);
  const tooMuch = await market(ctx, 'buy', '--offer', '1', '--wh', '2000');
  assert.is(tooMuch.code, 1, tooMuch.out);
  assert.match(tooMuch.out, /wattHours: 2000n is not allowed; expected 1 to 1500 Wh/, tooMuch.out);
  const settle = await market(ctx, 'settle', '--offer', '1');
  assert.is(settle.code, 0, settle.out);
  assert.match(settle.out, /offer 1: nobody left to settle/);
});

cli('a node that does not answer is a clear error', async (ctx) => {
  const result = await market(ctx, 'offers', '--rpc', 'http://127.0.0.1:9');
  assert.is(result.code, 1, result.out);
  assert.match(result.out, /http:\/\/127\.0\.0\.1:9: does not answer JSON-RPC/);
});

cli.run();
