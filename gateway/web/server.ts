/**
 * The DApp on the gateway's HTTP server (the embedded Node-RED's, like `/hepek/status`):
 *
 *   GET  /dapp, /dapp/*         the built page from dist/web (public: it holds no data)
 *   GET  /dapp/api/state        device, chain, balance, relay, latest reading, capabilities
 *   GET  /dapp/api/readings     the last N meter readings (?limit=N)
 *   GET  /dapp/api/prices       prices and forecast — whatever exists, else empty lists
 *   POST /dapp/api/rpc          a read-only JSON-RPC proxy to the gateway's chain
 *   POST /dapp/api/demo-wallet  the demo member wallet (embedded dev chain only)
 *   POST /dapp/api/purchase     buy ERGON through the demo payment provider (embedded dev chain only)
 *   GET  /dapp/api/market       open offers, this device's offers, takes and settlements
 *   POST /dapp/api/market/list | cancel | buy
 *                               a trade the device's owner signed as EIP-712 typed data (market.ts)
 *
 * Under `nodeRed.adminAuth` every API route needs a login, like `/hepek/status` (`hepek.read`;
 * the demo wallet and the market trade, so they need `hepek.write`).
 */
import type { ServerResponse } from 'node:http';
import type { GatewayContext, MeterReading } from '../context';
import { HepekError, InputError, StateError } from '../errors';
import type { HttpRequest, HttpRoute } from '../nodered/embedded';
import type { WebhookAnswer } from '../purchase/webhook';
import {
  API,
  DAPP_BASE,
  type Capability,
  type ChannelInfo,
  type DappState,
  type PricesResponse,
  type PurchaseInfo,
  type PurchaseRequest,
  type ReadingsResponse,
  type Rewards,
} from './api';
import { DemoWallet } from './demo-wallet';
import type { DappMarket } from './market';
import { ReadingHistory } from './readings';
import { createRpcProxy, RpcError, type RpcSend } from './rpc';
import { serveStatic } from './static';

export interface DappOptions {
  context: GatewayContext;
  mode: string;
  /** Sends a JSON-RPC request to the gateway's chain. */
  rpc: RpcSend;
  /** true on the in-process dev chain. */
  embedded: boolean;
  /** How the chain is named in messages, e.g. `JSON-RPC node http://…`. */
  chainLabel: string;
  /** The demo member's key; used only when `embedded`. */
  demoMember: import('ethers').Wallet | null;
  /** The folder with the built page (dist/web). */
  pageDir: string;
  /**
   * true when Node-RED's adminAuth guards the API. Without it the demo wallet answers only requests
   * addressed to a loopback name or an IP literal: a page on another host name that resolves here
   * (DNS rebinding) is then same-origin in the browser, but its Host header gives it away.
   */
  adminAuth?: boolean;
  /** How many readings to keep for the chart. Default 720. */
  readingsCapacity?: number;
  /** Prices and forecast, when a later issue provides them. */
  prices?: () => Promise<PricesResponse> | PricesResponse;
  /** This device's accrued rewards and carbon credits (MeterReadings), when deployed. */
  rewards?: () => Promise<Rewards>;
  /** Buying ERGON: the operator's checkout page, or the demo provider on the embedded dev chain. */
  purchase?:
    | { provider: 'checkout'; checkoutUrl: string; maxErgon: number }
    | { provider: 'demo'; maxErgon: number; pay(request: PurchaseRequest): Promise<WebhookAnswer> };
  /** The payment channel's state, when the gateway bills through one. */
  channel?: () => ChannelInfo | null;
  /** The energy market, when the deployment has one and the gateway can relay. */
  market?: DappMarket;
  /** Capabilities added by other parts of the gateway (channel, rewards, market, purchase). */
  extraCapabilities?: () => Capability[];
}

export interface Dapp {
  readonly routes: HttpRoute[];
  readonly history: ReadingHistory;
  state(): Promise<DappState>;
  stop(): void;
}

export const DEFAULT_READINGS_LIMIT = 120;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}

/** localhost, *.localhost, or an IPv4 / IPv6 literal: names no outside DNS can point here. */
export function isLocalHost(host: string | undefined): boolean {
  if (!host) return false;
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return (
    hostname === 'localhost' ||
    hostname.endsWith('.localhost') ||
    /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) ||
    hostname.startsWith('[')
  );
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** `?limit=N`: an integer from 1 to the history's capacity; anything else is an InputError. */
export function parseLimit(raw: string | null, capacity: number): number {
  if (raw === null || raw === '') return Math.min(DEFAULT_READINGS_LIMIT, capacity);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > capacity)
    throw new InputError('limit', raw, `an integer from 1 to ${capacity}`);
  return n;
}

export function createDapp(options: DappOptions): Dapp {
  const { context } = options;
  const history = new ReadingHistory(options.readingsCapacity ?? 720);
  const latest = context.meter.latest();
  if (latest) history.push(latest);
  const unsubscribe = context.meter.subscribe((r: MeterReading) => history.push(r));
  const demo =
    options.embedded && options.demoMember
      ? new DemoWallet(options.demoMember, context.chainId, options.rpc)
      : null;
  const proxy = createRpcProxy(options.rpc);
  const purchaseInfo: PurchaseInfo | null = options.purchase
    ? {
        provider: options.purchase.provider,
        checkoutUrl: options.purchase.provider === 'checkout' ? options.purchase.checkoutUrl : null,
        maxErgon: options.purchase.maxErgon,
      }
    : null;

  /**
   * Routes that sign or spend answer only the gateway's own page: Node-RED answers CORS preflights
   * for any origin, and without adminAuth only a loopback name or an IP literal (a page on another
   * host name that resolves here — DNS rebinding — is same-origin in the browser, but its Host
   * header gives it away). Returns the refusal, or null.
   */
  function ownPageOnly(req: HttpRequest): { error: string } | null {
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, req.headers.host))
      return {
        error: `origin: ${origin} is not allowed; expected the gateway's own page (http://${req.headers.host ?? ''}${DAPP_BASE})`,
      };
    if (!options.adminAuth && !isLocalHost(req.headers.host))
      return {
        error: `host: ${req.headers.host ?? '(none)'} is not allowed; expected localhost or an IP address (or set nodeRed.adminAuth)`,
      };
    return null;
  }

  function marketOf(): DappMarket {
    if (!options.market)
      throw new StateError(
        'market',
        `the energy market is not available on this gateway (${options.chainLabel}: no EnergyMarket in the deployment, or no account to relay with)`,
      );
    return options.market;
  }

  function capabilities(): Capability[] {
    const list: Capability[] = ['balance', 'relay', 'readings'];
    if (demo) list.push('demoWallet');
    if (options.prices) list.push('prices');
    if (options.rewards) list.push('rewards');
    if (options.purchase) list.push('purchase');
    if (options.channel) list.push('channel');
    if (options.market) list.push('market');
    for (const c of options.extraCapabilities?.() ?? []) if (!list.includes(c)) list.push(c);
    return list;
  }

  async function state(): Promise<DappState> {
    const base: DappState = {
      capabilities: capabilities(),
      device: {
        serial: context.serial,
        deviceId: context.deviceId,
        wallet: context.wallet,
        mode: options.mode,
      },
      chain: { chainId: context.chainId, embedded: options.embedded, rpcPath: API.rpc, blockNumber: null },
      contracts: { ...context.contracts },
      balance: null,
      lowThresholdErgon: context.lowThresholdErgon,
      relay: context.relay.state(),
      meter: context.meter.latest(),
      demoMember: demo ? demo.address : null,
      ...(purchaseInfo ? { purchase: purchaseInfo } : {}),
      ...(options.channel ? { channel: options.channel() } : {}),
    };
    try {
      // Two independent chain reads: one round trip, not two.
      const [balance, rewards] = await Promise.all([context.balance.read(), options.rewards?.()]);
      return {
        ...base,
        balance,
        ...(rewards ? { rewards } : {}),
        chain: { ...base.chain, blockNumber: balance.blockNumber },
      };
    } catch (err) {
      return { ...base, ...(options.rewards ? { rewards: null } : {}), error: (err as Error).message };
    }
  }

  async function prices(): Promise<PricesResponse> {
    const found = options.prices ? await options.prices() : null;
    const result = found ?? { prices: [], forecast: [], forecastSource: null };
    return result;
  }

  /** Runs a JSON handler: HepekErrors of the request are 400 with their message, the rest 500. */
  function json(produce: (req: HttpRequest) => Promise<unknown> | unknown) {
    return async (req: HttpRequest, res: ServerResponse) => {
      try {
        sendJson(res, 200, await produce(req));
      } catch (err) {
        sendJson(res, err instanceof InputError ? 400 : 500, { error: (err as Error).message });
      }
    };
  }

  /** JSON-RPC over POST; a batch is not offered (wallets send one call at a time). */
  function jsonRpc(answer: (method: string, params: unknown[]) => Promise<unknown>) {
    return async (req: HttpRequest, res: ServerResponse) => {
      const body = req.body as { id?: unknown; method?: unknown; params?: unknown } | undefined;
      const id = body && typeof body === 'object' && 'id' in body ? body.id : null;
      try {
        if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.method !== 'string')
          throw new RpcError(
            -32600,
            'the body must be one JSON-RPC request {"method": string, "params": array}',
          );
        const params = body.params === undefined ? [] : body.params;
        if (!Array.isArray(params)) throw new RpcError(-32602, `params: must be an array`);
        sendJson(res, 200, { jsonrpc: '2.0', id, result: await answer(body.method, params) });
      } catch (err) {
        const code = err instanceof RpcError ? err.code : err instanceof HepekError ? -32602 : -32603;
        const data = (err as { data?: unknown }).data;
        sendJson(res, 200, {
          jsonrpc: '2.0',
          id,
          error: { code, message: (err as Error).message, ...(data === undefined ? {} : { data }) },
        });
      }
    };
  }

  const routes: HttpRoute[] = [
    { method: 'get', path: API.state, permission: 'hepek.read', handle: json(state) },
    {
      method: 'get',
      path: API.readings,
      permission: 'hepek.read',
      handle: json((req): ReadingsResponse => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const limit = parseLimit(url.searchParams.get('limit'), history.capacity);
        return { readings: history.last(limit), capacity: history.capacity };
      }),
    },
    { method: 'get', path: API.prices, permission: 'hepek.read', handle: json(prices) },
    { method: 'post', path: API.rpc, permission: 'hepek.read', handle: jsonRpc(proxy) },
    {
      method: 'post',
      path: API.demoWallet,
      permission: 'hepek.write',
      handle: (req, res) => {
        const refusal = ownPageOnly(req);
        if (refusal) return sendJson(res, 403, refusal);
        if (!demo) {
          sendJson(res, 403, {
            error: `the demo member wallet exists only on the embedded dev chain (chain.rpcUrl null); this gateway uses ${options.chainLabel}: connect a browser wallet instead`,
          });
          return;
        }
        return jsonRpc((method, params) => demo.request(method, params))(req, res);
      },
    },
    {
      method: 'post',
      path: API.purchase,
      permission: 'hepek.write',
      handle: async (req, res) => {
        const refusal = ownPageOnly(req);
        if (refusal) return sendJson(res, 403, refusal);
        const purchase = options.purchase;
        if (purchase?.provider !== 'demo')
          return sendJson(res, 403, {
            error: purchaseInfo
              ? `purchases go through the operator's payment page here (${purchaseInfo.checkoutUrl}), not the demo provider`
              : `buying ERGON is not available on this gateway (${options.chainLabel}; set purchases.checkoutUrl)`,
          });
        const body = req.body as PurchaseRequest | undefined;
        try {
          if (!body || typeof body !== 'object' || Array.isArray(body))
            throw new InputError('body', body ?? null, 'a JSON object {"amountErgon": "25.5"}');
          const answer = await purchase.pay(body);
          sendJson(res, answer.status, answer.body);
        } catch (err) {
          sendJson(res, err instanceof InputError ? 400 : 500, { error: (err as Error).message });
        }
      },
    },
    { method: 'get', path: API.market, permission: 'hepek.read', handle: json(() => marketOf().view()) },
    ...(
      [
        [API.marketList, (m: DappMarket, body: unknown) => m.list(body)],
        [API.marketCancel, (m: DappMarket, body: unknown) => m.cancel(body)],
        [API.marketBuy, (m: DappMarket, body: unknown) => m.buy(body)],
      ] as const
    ).map(([path, act]): HttpRoute => ({
      method: 'post',
      path,
      permission: 'hepek.write',
      handle: async (req, res) => {
        const refusal = ownPageOnly(req);
        if (refusal) return sendJson(res, 403, refusal);
        try {
          sendJson(res, 200, await act(marketOf(), req.body));
        } catch (err) {
          const status = err instanceof InputError ? 400 : err instanceof HepekError ? 409 : 500;
          sendJson(res, status, { error: (err as Error).message });
        }
      },
    })),
    // The page: public like the editor's own files; everything it shows comes from the API above.
    { method: 'get', path: DAPP_BASE, permission: null, handle: serveStatic(options.pageDir, DAPP_BASE) },
    {
      method: 'get',
      path: `${DAPP_BASE}/*`,
      permission: null,
      handle: serveStatic(options.pageDir, DAPP_BASE),
    },
  ];

  return { routes, history, state, stop: unsubscribe };
}
