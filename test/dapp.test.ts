/**
 * The DApp's gateway side without a browser: its routes on a plain HTTP server (JSON bodies parsed
 * the way Node-RED's admin app does), the reading history, the read-only RPC proxy and the demo
 * wallet on a fresh in-process chain, the page's typed-data helpers and charts, and the static files.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { verifyTypedData, Wallet, type JsonRpcApiProvider } from 'ethers';
import { domainOf, STRUCTS, VOUCHER_TYPES, type StructName } from '../gateway/chain/typed-data';
import type { HttpRoute } from '../gateway/nodered/embedded';
import type { DappState, PricesResponse, ReadingsResponse } from '../gateway/web/api';
import { CAPABILITIES } from '../gateway/web/api';
import { checkTypedData } from '../gateway/web/demo-wallet';
import { ReadingHistory } from '../gateway/web/readings';
import { READ_METHODS } from '../gateway/web/rpc';
import { createDapp, isLocalHost, parseLimit, type Dapp } from '../gateway/web/server';
import { lineChart } from '../gateway/web/page/charts';
import {
  describeTypedData,
  signStructWith,
  typedDataPayload,
  type Eip1193,
} from '../gateway/web/page/wallet';
import { devChain, testKey, type DevChain } from './helpers/chain';
import { fakeGateway, type Fake } from './helpers/fake-gateway';
import { removeDir, tempDir } from './helpers/gateway';

const CHAIN_ID = 31337;
const VERIFIER = '0x' + '33'.repeat(20);

/** Serves routes like Node-RED's admin app: exact paths, `/*` prefixes, JSON bodies in req.body. */
async function serve(routes: HttpRoute[]): Promise<{ base: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      const route = routes.find(
        (r) =>
          r.method === req.method?.toLowerCase() &&
          (r.path === pathname || (r.path.endsWith('/*') && pathname.startsWith(r.path.slice(0, -1)))),
      );
      if (!route) {
        res.statusCode = 404;
        res.end();
        return;
      }
      const request = Object.assign(req, { body: text ? (JSON.parse(text) as unknown) : undefined });
      void route.handle(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    base: `http://127.0.0.1:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function rpc(base: string, path: string, method: string, params: unknown[] = [], headers = {}) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

// ---------------------------------------------------------------------------------------------

const history = suite('reading history');

history('keeps the newest readings up to its capacity, oldest first, each once', () => {
  const h = new ReadingHistory(3);
  const reading = (n: number) => ({
    timestamp: new Date(Date.UTC(2025, 0, 1, 0, n)).toISOString(),
    importWh: n,
    exportWh: 0,
    powerW: 100,
    loadW: 100,
    pvW: 0,
  });
  for (const n of [1, 2, 2, 3, 4]) h.push(reading(n));
  assert.is(h.size, 3);
  assert.equal(
    h.last(10).map((r) => r.importWh),
    [2, 3, 4],
  );
  assert.equal(
    h.last(2).map((r) => r.importWh),
    [3, 4],
  );
  assert.equal(h.last(0), []);
});

history('local host names: loopback names and IP literals only', () => {
  for (const host of ['localhost:1880', '127.0.0.1:1880', '192.168.1.20', '[::1]:1880', 'a.localhost'])
    assert.ok(isLocalHost(host), host);
  for (const host of [undefined, '', 'evil.example:1880', 'localhost.evil.example', '127.0.0.1.nip.io'])
    assert.not.ok(isLocalHost(host), String(host));
});

history('refuses a capacity below 1 and a limit outside 1..capacity, naming the field', () => {
  assert.throws(
    () => new ReadingHistory(0),
    /readingsCapacity: 0 is not allowed; expected an integer of at least 1/,
  );
  assert.is(parseLimit(null, 720), 120);
  assert.is(parseLimit(null, 50), 50);
  assert.is(parseLimit('7', 720), 7);
  for (const bad of ['0', '721', '-1', '1.5', 'ten', '1e2'])
    assert.throws(
      () => parseLimit(bad, 720),
      (err: Error) => err.message === `limit: "${bad}" is not allowed; expected an integer from 1 to 720`,
      bad,
    );
});

history.run();

// ---------------------------------------------------------------------------------------------

interface RoutesCtx {
  fake: Fake;
  dapp: Dapp;
  server: { base: string; close(): Promise<void> };
  pageDir: string;
  calls: Array<[string, unknown[]]>;
}

const routes = suite<RoutesCtx>('DApp routes');

function makeDapp(ctx: RoutesCtx, over: Partial<Parameters<typeof createDapp>[0]> = {}): Dapp {
  return createDapp({
    context: ctx.fake.context,
    mode: 'prosumer',
    rpc: async (method, params) => {
      ctx.calls.push([method, params]);
      if (method === 'eth_blockNumber') return '0x2a';
      throw Object.assign(new Error('execution reverted'), { code: 3, data: '0xdeadbeef' });
    },
    embedded: false,
    chainLabel: 'JSON-RPC node http://node.example:8545 (chain id 31337)',
    demoMember: null,
    pageDir: ctx.pageDir,
    readingsCapacity: 5,
    ...over,
  });
}

routes.before.each(async (ctx) => {
  ctx.fake = fakeGateway(12.5);
  ctx.calls = [];
  ctx.pageDir = tempDir('dapp-page');
  ctx.dapp = makeDapp(ctx);
  ctx.server = await serve(ctx.dapp.routes);
});

routes.after.each(async (ctx) => {
  ctx.dapp.stop();
  await ctx.server.close();
  removeDir(ctx.pageDir);
});

routes(
  'state reports device, chain, balance, relay, latest reading and only real capabilities',
  async (ctx) => {
    ctx.fake.tick();
    const state = (await (await fetch(`${ctx.server.base}/dapp/api/state`)).json()) as DappState;
    assert.equal(state.capabilities, ['balance', 'relay', 'readings']);
    for (const c of state.capabilities) assert.ok(CAPABILITIES.includes(c), c);
    assert.equal(state.device, {
      serial: 'HEPEK-SIM-0001',
      deviceId: ctx.fake.context.deviceId,
      wallet: ctx.fake.context.wallet,
      mode: 'prosumer',
    });
    assert.is(state.balance!.ergonWei, 12_500_000_000_000_000_000n.toString());
    assert.is(state.chain.blockNumber, state.balance!.blockNumber);
    assert.is(state.chain.embedded, false);
    assert.is(state.demoMember, null);
    assert.equal(state.meter, ctx.fake.meter.latest());
    assert.equal(state.relay, ctx.fake.relay.state());
  },
);

routes(
  'rewards: a capability only with a source, read with the balance, null when the chain fails',
  async (ctx) => {
    const plain = (await (await fetch(`${ctx.server.base}/dapp/api/state`)).json()) as DappState;
    assert.is(plain.rewards, undefined, 'no MeterReadings, no rewards field');
    const account = { accruedWei: '1500000000000000000', carbonMg: '2500000', lastSeq: '4' };
    const dapp = makeDapp(ctx, { rewards: async () => account });
    const server = await serve(dapp.routes);
    try {
      const state = (await (await fetch(`${server.base}/dapp/api/state`)).json()) as DappState;
      assert.ok(state.capabilities.includes('rewards'));
      assert.equal(state.rewards, account);
      ctx.fake.fail(new Error('rpc: connection refused'));
      const failed = (await (await fetch(`${server.base}/dapp/api/state`)).json()) as DappState;
      assert.is(failed.rewards, null);
      assert.is(failed.error, 'rpc: connection refused');
    } finally {
      dapp.stop();
      await server.close();
    }
  },
);

routes('a chain that does not answer leaves balance null and says why', async (ctx) => {
  ctx.fake.fail(new Error('rpc: connection refused'));
  const response = await fetch(`${ctx.server.base}/dapp/api/state`);
  assert.is(response.status, 200, 'the page still gets everything local');
  const state = (await response.json()) as DappState;
  assert.is(state.balance, null);
  assert.is(state.chain.blockNumber, null);
  assert.is(state.error, 'rpc: connection refused');
});

routes('readings are the ones the meter emitted since start, newest last, limited', async (ctx) => {
  const emitted = Array.from({ length: 7 }, () => ctx.fake.tick());
  const all = (await (await fetch(`${ctx.server.base}/dapp/api/readings`)).json()) as ReadingsResponse;
  assert.is(all.capacity, 5);
  assert.equal(all.readings, emitted.slice(-5));
  const two = (await (
    await fetch(`${ctx.server.base}/dapp/api/readings?limit=2`)
  ).json()) as ReadingsResponse;
  assert.equal(two.readings, emitted.slice(-2));
  const bad = await fetch(`${ctx.server.base}/dapp/api/readings?limit=6`);
  assert.is(bad.status, 400);
  assert.equal(await bad.json(), { error: 'limit: "6" is not allowed; expected an integer from 1 to 5' });
});

routes(
  'prices are empty lists until a source exists, then what it returns and the capability',
  async (ctx) => {
    const none = (await (await fetch(`${ctx.server.base}/dapp/api/prices`)).json()) as PricesResponse;
    assert.equal(none, { prices: [], forecast: [], forecastSource: null });

    const known: PricesResponse = {
      prices: [{ start: '2025-06-21T10:00:00.000Z', priceEurPerMWh: 81.5 }],
      forecast: [],
      forecastSource: null,
    };
    const dapp = makeDapp(ctx, { prices: () => known, extraCapabilities: () => ['market', 'balance'] });
    const server = await serve(dapp.routes);
    try {
      assert.equal(await (await fetch(`${server.base}/dapp/api/prices`)).json(), known);
      const state = (await (await fetch(`${server.base}/dapp/api/state`)).json()) as DappState;
      assert.equal(state.capabilities, ['balance', 'relay', 'readings', 'prices', 'market']);
    } finally {
      dapp.stop();
      await server.close();
    }
  },
);

routes('the RPC proxy forwards reads and refuses every other method with EIP-1193 code 4200', async (ctx) => {
  assert.equal((await rpc(ctx.server.base, '/dapp/api/rpc', 'eth_blockNumber')).body, {
    jsonrpc: '2.0',
    id: 7,
    result: '0x2a',
  });
  for (const method of [
    'eth_sendTransaction',
    'eth_sign',
    'personal_sign',
    'hardhat_setBalance',
    'evm_mine',
  ]) {
    const { body } = await rpc(ctx.server.base, '/dapp/api/rpc', method);
    assert.is((body.error as { code: number }).code, 4200, method);
    assert.match((body.error as { message: string }).message, `method: "${method}" is not allowed`);
  }
  assert.equal(ctx.calls, [['eth_blockNumber', []]], 'nothing refused reached the node');
  // The node's own error comes back with its code, message and data.
  const reverted = await rpc(ctx.server.base, '/dapp/api/rpc', 'eth_call', [{ to: VERIFIER }]);
  assert.equal(reverted.body.error, { code: 3, message: 'execution reverted', data: '0xdeadbeef' });
  assert.ok(
    READ_METHODS.every((m) => !/^(hardhat|evm|debug|personal)_|eth_sign$|eth_sendTransaction/.test(m)),
  );
  // Not one JSON-RPC request: an error naming what is expected.
  const response = await fetch(`${ctx.server.base}/dapp/api/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([{ method: 'eth_blockNumber' }]),
  });
  assert.equal(((await response.json()) as { error: unknown }).error, {
    code: -32600,
    message: 'the body must be one JSON-RPC request {"method": string, "params": array}',
  });
});

routes('the demo wallet is refused off the embedded dev chain, naming the chain', async (ctx) => {
  const { status, body } = await rpc(ctx.server.base, '/dapp/api/demo-wallet', 'eth_requestAccounts');
  assert.is(status, 403);
  assert.equal(body, {
    error:
      'the demo member wallet exists only on the embedded dev chain (chain.rpcUrl null); this gateway uses JSON-RPC node http://node.example:8545 (chain id 31337): connect a browser wallet instead',
  });
});

routes('the page is served from its folder, index.html at /dapp, never a file outside it', async (ctx) => {
  const notBuilt = await fetch(`${ctx.server.base}/dapp`);
  assert.is(notBuilt.status, 503);
  assert.match(await notBuilt.text(), 'the DApp is not built');

  mkdirSync(path.join(ctx.pageDir, 'assets'));
  writeFileSync(path.join(ctx.pageDir, 'index.html'), '<!doctype html><title>HEPEK</title>');
  writeFileSync(path.join(ctx.pageDir, 'assets', 'index-abc.js'), 'console.log(1)');
  writeFileSync(path.join(path.dirname(ctx.pageDir), 'secret.txt'), 'no');
  for (const url of ['/dapp', '/dapp/', '/dapp/index.html']) {
    const r = await fetch(`${ctx.server.base}${url}`);
    assert.is(r.status, 200, url);
    assert.is(r.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.is(r.headers.get('cache-control'), 'no-cache');
    assert.is(await r.text(), '<!doctype html><title>HEPEK</title>');
  }
  const js = await fetch(`${ctx.server.base}/dapp/assets/index-abc.js`);
  assert.is(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.is(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  for (const url of ['/dapp/%2e%2e/secret.txt', '/dapp/..%2fsecret.txt', '/dapp/missing.js', '/dapp/assets'])
    assert.is((await fetch(`${ctx.server.base}${url}`)).status, 404, url);
  removeDir(path.join(path.dirname(ctx.pageDir), 'secret.txt'));
});

routes(
  'buying ERGON: the demo provider through POST /dapp/api/purchase, a checkout page, or none',
  async (ctx) => {
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${ctx.server.base}/dapp/api/purchase`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    const none = await post({ amountErgon: '10' });
    assert.is(none.status, 403);
    assert.match(String(none.body.error), 'buying ERGON is not available on this gateway (JSON-RPC node');

    const paid: unknown[] = [];
    ctx.dapp.stop();
    await ctx.server.close();
    ctx.dapp = makeDapp(ctx, {
      purchase: {
        provider: 'demo',
        maxErgon: 50,
        pay: async (request) => {
          paid.push(request);
          return request.amountErgon === '999'
            ? {
                status: 400,
                headers: {},
                body: { error: 'amountErgon: "999" is not allowed; expected at most 50' },
              }
            : { status: 200, headers: {}, body: { status: 'minted', amountWei: '10000000000000000000' } };
        },
      },
    });
    ctx.server = await serve(ctx.dapp.routes);
    const state = (await (await fetch(`${ctx.server.base}/dapp/api/state`)).json()) as DappState;
    assert.ok(state.capabilities.includes('purchase'));
    assert.equal(state.purchase, { provider: 'demo', checkoutUrl: null, maxErgon: 50 });
    const ok = await post({ amountErgon: '10', member: '0x' + '11'.repeat(20) });
    assert.equal(ok, { status: 200, body: { status: 'minted', amountWei: '10000000000000000000' } });
    assert.equal(paid, [{ amountErgon: '10', member: '0x' + '11'.repeat(20) }]);
    const tooMuch = await post({ amountErgon: '999' });
    assert.is(tooMuch.status, 400, "the webhook's refusal is passed on");
    assert.match(String(tooMuch.body.error), 'amountErgon: "999"');
    const notObject = await post(['10']);
    assert.is(notObject.status, 400);
    assert.match(String(notObject.body.error), 'body: ["10"] is not allowed; expected a JSON object');
    const foreign = await post({ amountErgon: '10' }, { origin: 'http://evil.example' });
    assert.is(foreign.status, 403);
    assert.match(String(foreign.body.error), 'origin: http://evil.example is not allowed');
    assert.is(paid.length, 2, 'refused requests never reach the provider');

    ctx.dapp.stop();
    await ctx.server.close();
    ctx.dapp = makeDapp(ctx, {
      purchase: { provider: 'checkout', checkoutUrl: 'https://pay.operator.example/hepek', maxErgon: 500 },
    });
    ctx.server = await serve(ctx.dapp.routes);
    const checkout = (await (await fetch(`${ctx.server.base}/dapp/api/state`)).json()) as DappState;
    assert.equal(checkout.purchase, {
      provider: 'checkout',
      checkoutUrl: 'https://pay.operator.example/hepek',
      maxErgon: 500,
    });
    const viaApi = await post({ amountErgon: '10' });
    assert.is(viaApi.status, 403);
    assert.match(String(viaApi.body.error), "purchases go through the operator's payment page here");
  },
);

routes.run();

// ---------------------------------------------------------------------------------------------

interface WalletCtx {
  chain: DevChain;
  member: Wallet;
  dapp: Dapp;
  server: { base: string; close(): Promise<void> };
}

const demo = suite<WalletCtx>('demo wallet on the embedded chain');

demo.before.each(async (ctx) => {
  ctx.chain = await devChain();
  ctx.member = ctx.chain.wallets[2]!;
  const provider = ctx.chain.provider as unknown as JsonRpcApiProvider;
  ctx.dapp = createDapp({
    context: fakeGateway().context,
    mode: 'prosumer',
    rpc: (method, params) => provider.send(method, params),
    embedded: true,
    chainLabel: 'in-process dev chain',
    demoMember: new Wallet(ctx.member.privateKey),
    pageDir: tempDir('dapp-none'),
  });
  ctx.server = await serve(ctx.dapp.routes);
});

demo.after.each(async (ctx) => {
  ctx.dapp.stop();
  await ctx.server.close();
  await ctx.chain.close();
});

/** The page's EIP-1193 view of the gateway's demo wallet, without the confirmation sheet. */
function pageWallet(base: string): Eip1193 {
  return {
    async request({ method, params = [] }) {
      const { body } = await rpc(base, '/dapp/api/demo-wallet', method, params);
      if (body.error) throw new Error((body.error as { message: string }).message);
      return body.result;
    },
  };
}

demo('answers accounts and chain id, and signs a HEPEK struct the page built as typed data', async (ctx) => {
  const wallet = pageWallet(ctx.server.base);
  assert.equal(await wallet.request({ method: 'eth_requestAccounts' }), [ctx.member.address]);
  assert.is(await wallet.request({ method: 'eth_chainId' }), '0x7a69');
  const domain = domainOf('channels', CHAIN_ID, VERIFIER);
  const voucher = { channelId: 3n, cumulativeAmount: 1_250_000_000_000_000_000n };
  const signature = await signStructWith(wallet, ctx.member.address, 'Voucher', domain, voucher);
  assert.is(verifyTypedData(domain, VOUCHER_TYPES, voucher, signature), ctx.member.address);
  const s = BigInt('0x' + signature.slice(66, 130));
  assert.ok(s <= 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n, 'low-s');
  // The same demo wallet is what /dapp/api/state announces.
  const state = (await (await fetch(`${ctx.server.base}/dapp/api/state`)).json()) as DappState;
  assert.is(state.demoMember, ctx.member.address);
  assert.ok(state.capabilities.includes('demoWallet'));
});

demo('never signs raw hashes or messages, foreign structs, other chains or other accounts', async (ctx) => {
  const base = ctx.server.base;
  const hash = '0x' + 'aa'.repeat(32);
  for (const [method, params] of [
    ['eth_sign', [ctx.member.address, hash]],
    ['personal_sign', [hash, ctx.member.address]],
    ['eth_signTypedData_v3', [ctx.member.address, '{}']],
  ] as Array<[string, unknown[]]>) {
    const { body } = await rpc(base, '/dapp/api/demo-wallet', method, params);
    assert.is((body.error as { code: number }).code, 4100, method);
    assert.match((body.error as { message: string }).message, `method: ${method} is not offered`);
  }
  const good = typedDataPayload('Voucher', domainOf('channels', CHAIN_ID, VERIFIER), {
    channelId: 1n,
    cumulativeAmount: 2n,
  });
  const cases: Array<[string, unknown, string]> = [
    [
      'another account',
      [testKey('stranger').slice(0, 42), JSON.stringify(good)],
      `params[0]: ${testKey('stranger').slice(0, 42)} is not this wallet; expected ${ctx.member.address}`,
    ],
    [
      'a struct HEPEK does not define',
      [ctx.member.address, JSON.stringify({ ...good, primaryType: 'Permit' })],
      `typedData.primaryType: "Permit" is not allowed; expected one of ${Object.keys(STRUCTS).join(', ')}`,
    ],
    [
      'a field list that differs from typed-data.ts',
      [
        ctx.member.address,
        JSON.stringify({
          ...good,
          types: { ...good.types, Voucher: [{ name: 'channelId', type: 'uint256' }] },
        }),
      ],
      'typedData.types.Voucher: [{"name":"channelId","type":"uint256"}] is not allowed; expected exactly [{"name":"channelId","type":"uint256"},{"name":"cumulativeAmount","type":"uint256"}] (gateway/chain/typed-data.ts)',
    ],
    [
      'another contract domain',
      [ctx.member.address, JSON.stringify({ ...good, domain: { ...good.domain, name: 'HEPEK Purchase' } })],
      'typedData.domain.name: "HEPEK Purchase v1" is not allowed; expected HEPEK PaymentChannels v1 for Voucher',
    ],
    [
      'another chain',
      [ctx.member.address, JSON.stringify({ ...good, domain: { ...good.domain, chainId: '1' } })],
      `typedData.domain.chainId: "1" is not allowed; expected 31337, this gateway's chain`,
    ],
  ];
  for (const [name, params, message] of cases) {
    const { body } = await rpc(base, '/dapp/api/demo-wallet', 'eth_signTypedData_v4', params as unknown[]);
    assert.is((body.error as { message: string }).message, message, name);
  }
});

demo('sends the member’s transactions on the dev chain, and only to a contract address', async (ctx) => {
  const to = ctx.chain.wallets[3]!.address;
  const before = await ctx.chain.provider.getBalance(to);
  const { body } = await rpc(ctx.server.base, '/dapp/api/demo-wallet', 'eth_sendTransaction', [
    { from: ctx.member.address, to, value: '0x3e8' },
  ]);
  const receipt = await ctx.chain.provider.waitForTransaction(body.result as string);
  assert.is(receipt!.from, ctx.member.address);
  assert.is((await ctx.chain.provider.getBalance(to)) - before, 1000n);
  const deploy = await rpc(ctx.server.base, '/dapp/api/demo-wallet', 'eth_sendTransaction', [
    { from: ctx.member.address, data: '0x00' },
  ]);
  assert.is(
    (deploy.body.error as { message: string }).message,
    'params[0].to: undefined is not allowed; expected a contract address (deployments go through the CLI)',
  );
});

demo('refuses requests from another origin (Node-RED answers CORS preflights for any)', async (ctx) => {
  const { status, body } = await rpc(ctx.server.base, '/dapp/api/demo-wallet', 'eth_accounts', [], {
    origin: 'http://evil.example',
  });
  assert.is(status, 403);
  assert.match(String(body.error), 'origin: http://evil.example is not allowed');
  const same = await rpc(ctx.server.base, '/dapp/api/demo-wallet', 'eth_accounts', [], {
    origin: ctx.server.base,
  });
  assert.equal(same.body.result, [ctx.member.address]);
});

demo(
  'without adminAuth it answers only requests addressed to localhost or an IP (no DNS rebinding)',
  async (ctx) => {
    const { request } = await import('node:http');
    const port = new URL(ctx.server.base).port;
    const post = (host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: '/dapp/api/demo-wallet',
            method: 'POST',
            headers: { host, 'content-type': 'application/json' },
          },
          (res) => {
            let body = '';
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode!, body }));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ id: 1, method: 'eth_accounts' }));
      });
    const rebound = await post(`evil.example:${port}`);
    assert.is(rebound.status, 403);
    assert.equal(JSON.parse(rebound.body), {
      error: `host: evil.example:${port} is not allowed; expected localhost or an IP address (or set nodeRed.adminAuth)`,
    });
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `app.localhost:${port}`])
      assert.is((await post(host)).status, 200, host);
  },
);

demo.run();

// ---------------------------------------------------------------------------------------------

const page = suite('page helpers');

page('typed data for a wallet is built from the one struct definition, every field shown', () => {
  for (const name of Object.keys(STRUCTS) as StructName[]) {
    const fields = STRUCTS[name].types[name]!;
    const value = Object.fromEntries(
      fields.map((f) => [
        f.name,
        f.type === 'address' ? VERIFIER : f.type === 'bytes32' ? '0x' + '01'.repeat(32) : 5n,
      ]),
    );
    const payload = typedDataPayload(name, domainOf(STRUCTS[name].domain, CHAIN_ID, VERIFIER), value);
    assert.equal(payload.types[name], fields);
    assert.is(payload.primaryType, name);
    assert.is(checkTypedData(JSON.stringify(payload), CHAIN_ID).name, name, 'the demo wallet accepts it');
    const view = describeTypedData(payload);
    assert.is(view.title, `Sign ${name}`);
    assert.equal(
      view.rows.slice(3).map((r) => r.label),
      fields.map((f) => f.name),
    );
    assert.ok(
      !view.rows.some((r) => /^0x[0-9a-f]{64}$/.test(r.value) && r.type === 'domain'),
      'no hash as a value',
    );
  }
  assert.throws(
    () => typedDataPayload('Voucher', domainOf('channels', CHAIN_ID, VERIFIER), { channelId: 1n }),
    /Voucher.cumulativeAmount: missing/,
  );
});

page('charts: nothing to draw is null; points map into the box; text is escaped', () => {
  assert.is(lineChart([{ name: 'grid', color: 'blue', points: [] }], { unit: 'W' }), null);
  const svg = lineChart(
    [
      {
        name: '<b>grid</b>',
        color: 'blue',
        points: [
          { t: 0, v: -100 },
          { t: 1000, v: 300 },
        ],
      },
    ],
    { unit: 'W', width: 140, height: 60, time: (t) => `t${t}` },
  )!;
  assert.match(svg, 'points="40.0,40.0 132.0,10.0"');
  assert.match(svg, 'data-series="&#60;b&#62;grid&#60;/b&#62;"');
  assert.not.match(svg, '<b>');
  assert.match(svg, '>t0<');
  assert.match(svg, '>t1000<');
  assert.match(svg, 'class="zero"', 'a zero line when the series crosses zero');
});

page.run();
