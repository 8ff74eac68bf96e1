/**
 * The HEPEK DApp page. Everything it shows comes from the gateway's API (gateway/web/api.ts) or
 * from the chain through ethers; a section whose capability the gateway does not report says so
 * instead of showing a number.
 */
import { Contract, FetchRequest, JsonRpcProvider, formatUnits, getAddress, parseUnits } from 'ethers';
import { domainOf, type StructName } from '../../chain/typed-data';
import { costOf } from '../../market/offer';
import {
  API,
  type Capability,
  type ChannelInfo,
  type DappState,
  type MarketActionResponse,
  type MarketOffer,
  type MarketResponse,
  type PricesResponse,
  type PurchaseInfo,
  type PurchaseResponse,
  type ReadingsResponse,
} from '../api';
import { lineChart } from './charts';
import { DemoWallet, injectedWallet, signStructWith, type Eip1193, type TypedDataView } from './wallet';
import './style.css';

const TOKEN_KEY = 'hepek.adminToken';
const STATE_EVERY_MS = 5000;
const READINGS_EVERY_MS = 2000;
const PRICES_EVERY_MS = 60_000;
const MARKET_EVERY_MS = 5000;

class LoginRequired extends Error {}

function authHeaders(): Record<string, string> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: 'application/json', ...authHeaders() } });
  if (response.status === 401) throw new LoginRequired();
  const body = (await response.json().catch(() => null)) as (T & { error?: string }) | null;
  if (!response.ok && !(body && typeof body === 'object'))
    throw new Error(`${path}: HTTP ${response.status}`);
  if (!response.ok && body?.error && path !== API.state) throw new Error(body.error);
  return body as T;
}

/** Node-RED's own login (adminAuth `credentials`): the same token the editor uses. */
async function login(username: string, password: string): Promise<void> {
  const response = await fetch('/auth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: 'node-red-admin',
      grant_type: 'password',
      scope: '*',
      username,
      password,
    }),
  });
  if (!response.ok) throw new Error('wrong username or password');
  const { access_token } = (await response.json()) as { access_token: string };
  sessionStorage.setItem(TOKEN_KEY, access_token);
}

// ---------------------------------------------------------------------------------------------
// DOM helpers

type Child = Node | string | null | undefined | false;

function h(
  tag: string,
  attrs: Record<string, string | boolean | ((e: Event) => void)> = {},
  ...children: Child[]
) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(key, '');
    else if (value !== false) el.setAttribute(key, value);
  }
  for (const child of children)
    if (child !== null && child !== undefined && child !== false)
      el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  return el;
}

function svg(markup: string): Node {
  const holder = document.createElement('div');
  holder.className = 'chart-box';
  holder.innerHTML = markup; // built by lineChart from numbers, every text escaped
  return holder;
}

function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

function ergon(wei: string | bigint): string {
  return formatUnits(wei, 18);
}

function kWh(wh: number): string {
  return `${(wh / 1000).toFixed(3)} kWh`;
}

function time(iso: string): string {
  return new Date(iso).toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' });
}

function clock(t: number): string {
  return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function unavailable(title: string, testId: string, what: string): HTMLElement {
  return h(
    'section',
    { class: 'card unavailable', 'data-testid': testId },
    h('h2', {}, title),
    h('p', { class: 'muted' }, 'Not available on this gateway yet.'),
    h('p', { class: 'small' }, what),
  );
}

// ---------------------------------------------------------------------------------------------
// State

interface Connected {
  kind: 'demo' | 'injected';
  wallet: Eip1193;
  account: string;
  chainId: number;
  memberErgonWei: bigint | null;
  owner: string | null;
}

const view = {
  state: null as DappState | null,
  readings: null as ReadingsResponse | null,
  prices: null as PricesResponse | null,
  connected: null as Connected | null,
  error: null as string | null,
  needLogin: false,
  confirm: null as { view: TypedDataView; resolve: (ok: boolean) => void } | null,
  purchase: {
    amount: '25',
    busy: false,
    result: null as PurchaseResponse | null,
    error: null as string | null,
  },
};

const PURCHASE_AMOUNTS = ['10', '25', '100'];

const market = {
  data: null as MarketResponse | null,
  sell: { wattHours: '500', price: '0.25', start: 0, duration: 1 },
  busy: null as string | null,
  result: null as string | null,
  error: null as string | null,
};

const SELL_WH = ['250', '500', '1000'];
const SELL_PRICES = ['0.20', '0.25', '0.30'];
const QUARTER_S = 900;
const SELL_DURATIONS_S = [QUARTER_S, 3600, 3 * 3600];
/** Real seconds a listing may take to be mined: the window starts this much (on the chain's clock) later. */
const LISTING_LEAD_REAL_S = 60;

let reader: JsonRpcProvider | null = null;

/** Chain reads go through the gateway's read-only proxy, whatever wallet is connected. */
function chainReader(chainId: number): JsonRpcProvider {
  if (reader) return reader;
  const request = new FetchRequest(new URL(API.rpc, location.href).href);
  request.setHeader('content-type', 'application/json');
  for (const [k, v] of Object.entries(authHeaders())) request.setHeader(k, v);
  reader = new JsonRpcProvider(request, chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  return reader;
}

const TOKEN_ABI = ['function balanceOf(address owner) view returns (uint256)'];
const REGISTRY_ABI = ['function ownerOf(bytes32 deviceId) view returns (address)'];

async function refreshMember(): Promise<void> {
  const c = view.connected;
  const s = view.state;
  if (!c || !s) return;
  const provider = chainReader(s.chain.chainId);
  const token = new Contract(s.contracts.ErgonToken!, TOKEN_ABI, provider);
  const registry = new Contract(s.contracts.GatewayRegistry!, REGISTRY_ABI, provider);
  c.memberErgonWei = (await token.getFunction('balanceOf')(c.account)) as bigint;
  c.owner = getAddress((await registry.getFunction('ownerOf')(s.device.deviceId)) as string);
}

function askToSign(typed: TypedDataView): Promise<boolean> {
  return new Promise((resolve) => {
    view.confirm = { view: typed, resolve };
    render();
  });
}

async function connect(kind: 'demo' | 'injected'): Promise<void> {
  try {
    const wallet = kind === 'demo' ? new DemoWallet(authHeaders, askToSign) : injectedWallet();
    if (!wallet) throw new Error('no browser wallet found (window.ethereum)');
    const accounts = (await wallet.request({ method: 'eth_requestAccounts' })) as string[];
    if (!accounts[0]) throw new Error('the wallet returned no account');
    const chainId = Number(BigInt((await wallet.request({ method: 'eth_chainId' })) as string));
    view.connected = {
      kind,
      wallet,
      account: getAddress(accounts[0]),
      chainId,
      memberErgonWei: null,
      owner: null,
    };
    view.error = null;
    await refreshMember();
  } catch (err) {
    view.error = `Connecting failed: ${(err as Error).message}`;
  }
  render();
}

/**
 * Points the browser wallet at this gateway's chain: switch if it knows the chain, else add it with
 * the gateway's read-only RPC proxy as its URL (how a wallet reaches the in-process dev chain).
 */
async function switchChain(c: Connected, s: DappState): Promise<void> {
  const chainId = `0x${s.chain.chainId.toString(16)}`;
  try {
    try {
      await c.wallet.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] });
    } catch (err) {
      // 4902: the wallet does not know this chain yet.
      if ((err as { code?: number }).code !== 4902) throw err;
      await c.wallet.request({
        method: 'wallet_addEthereumChain',
        params: [
          {
            chainId,
            chainName: s.chain.embedded
              ? `HEPEK dev chain ${s.chain.chainId}`
              : `HEPEK chain ${s.chain.chainId}`,
            rpcUrls: [new URL(s.chain.rpcPath, location.href).href],
            nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
          },
        ],
      });
    }
    c.chainId = Number(BigInt((await c.wallet.request({ method: 'eth_chainId' })) as string));
    view.error = null;
  } catch (err) {
    view.error = `Switching the chain failed: ${(err as Error).message}`;
  }
  render();
}

// ---------------------------------------------------------------------------------------------
// Rendering

function has(cap: Capability): boolean {
  return view.state?.capabilities.includes(cap) ?? false;
}

function header(s: DappState | null): HTMLElement {
  return h(
    'header',
    { class: 'top' },
    h('div', { class: 'brand' }, h('span', { class: 'bolt', 'aria-hidden': 'true' }, '⚡'), 'HEPEK'),
    s
      ? h(
          'div',
          { class: 'chips' },
          h('span', { class: 'chip', 'data-testid': 'serial' }, s.device.serial),
          h(
            'span',
            { class: 'chip' },
            s.chain.embedded ? `dev chain ${s.chain.chainId}` : `chain ${s.chain.chainId}`,
          ),
        )
      : null,
  );
}

function walletCard(s: DappState): HTMLElement {
  const c = view.connected;
  if (!c) {
    const injected = injectedWallet();
    return h(
      'section',
      { class: 'card', 'data-testid': 'wallet' },
      h('h2', {}, 'Your wallet'),
      h('p', { class: 'muted' }, 'Connect to see what you own and, later, to trade.'),
      h(
        'div',
        { class: 'actions' },
        injected
          ? h('button', { class: 'primary', onclick: () => void connect('injected') }, 'Browser wallet')
          : null,
        has('demoWallet')
          ? h(
              'button',
              {
                class: injected ? '' : 'primary',
                'data-testid': 'connect-demo',
                onclick: () => void connect('demo'),
              },
              'Demo wallet',
            )
          : null,
      ),
      !injected && !has('demoWallet')
        ? h(
            'p',
            { class: 'small' },
            'No browser wallet found. Open this page in a wallet app or install one.',
          )
        : null,
    );
  }
  const wrongChain = c.chainId !== s.chain.chainId;
  const owns = c.owner !== null && c.owner === c.account;
  return h(
    'section',
    { class: 'card', 'data-testid': 'wallet' },
    h('h2', {}, c.kind === 'demo' ? 'Demo wallet' : 'Browser wallet'),
    h('p', { class: 'mono', 'data-testid': 'wallet-address', title: c.account }, c.account),
    wrongChain
      ? h(
          'div',
          { class: 'warn', 'data-testid': 'wrong-chain' },
          h('p', {}, `Your wallet is on chain ${c.chainId}; this gateway uses chain ${s.chain.chainId}.`),
          h(
            'button',
            { 'data-testid': 'switch-chain', onclick: () => void switchChain(c, s) },
            'Switch wallet to this chain',
          ),
        )
      : null,
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Your ERGON'),
      h('dd', { 'data-testid': 'member-ergon' }, c.memberErgonWei === null ? '…' : ergon(c.memberErgonWei)),
      h('dt', {}, 'This HEPEK'),
      h(
        'dd',
        { 'data-testid': 'ownership' },
        c.owner === null ? '…' : owns ? 'yours' : `owned by ${short(c.owner)}`,
      ),
    ),
    h('button', { class: 'link', onclick: () => ((view.connected = null), render()) }, 'Disconnect'),
  );
}

function balanceCard(s: DappState): HTMLElement {
  const b = s.balance;
  const relay = s.relay;
  return h(
    'section',
    { class: 'card', 'data-testid': 'hepek-wallet' },
    h('h2', {}, 'HEPEK wallet'),
    h('p', { class: 'mono small', title: s.device.wallet }, s.device.wallet),
    b
      ? h(
          'div',
          { class: 'big' },
          h('span', { 'data-testid': 'ergon', 'data-wei': b.ergonWei }, ergon(b.ergonWei)),
          h('span', { class: 'unit' }, ' ERGON'),
        )
      : h('p', { class: 'warn', 'data-testid': 'chain-error' }, s.error ?? 'The chain does not answer.'),
    b
      ? h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Spendable'),
          h(
            'dd',
            { 'data-testid': 'spendable', 'data-wei': b.spendableWei },
            `${ergon(b.spendableWei)} ERGON`,
          ),
          h('dt', {}, 'Unspent in channel'),
          h('dd', {}, `${ergon(b.channelUnspentWei)} ERGON`),
          h('dt', {}, 'Low threshold'),
          h('dd', {}, `${s.lowThresholdErgon} ERGON`),
          h('dt', {}, 'At block'),
          h('dd', { 'data-testid': 'block' }, String(b.blockNumber)),
        )
      : null,
    h(
      'div',
      { class: `relay ${relay.on ? 'on' : 'off'}`, 'data-testid': 'relay', 'data-on': String(relay.on) },
      h('strong', {}, relay.on ? 'Supply on' : 'Supply cut'),
      h('span', { class: 'small' }, ` · ${relay.reason} · since ${time(relay.changedAt)}`),
    ),
  );
}

function readingsCard(): HTMLElement {
  const readings = view.readings?.readings ?? [];
  const latest = readings.at(-1);
  const chart = lineChart(
    [
      {
        name: 'grid',
        color: 'var(--grid)',
        points: readings.map((r) => ({ t: Date.parse(r.timestamp), v: r.powerW })),
      },
      {
        name: 'PV',
        color: 'var(--pv)',
        points: readings.map((r) => ({ t: Date.parse(r.timestamp), v: r.pvW })),
      },
    ],
    { unit: 'W', time: clock },
  );
  return h(
    'section',
    { class: 'card', 'data-testid': 'readings' },
    h('h2', {}, 'Meter'),
    latest
      ? h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Grid power'),
          h('dd', { 'data-testid': 'power' }, `${Math.round(latest.powerW)} W`),
          h('dt', {}, 'Imported'),
          h('dd', { 'data-testid': 'import' }, kWh(latest.importWh)),
          h('dt', {}, 'Exported'),
          h('dd', {}, kWh(latest.exportWh)),
          h('dt', {}, 'Reading of'),
          h(
            'dd',
            { 'data-testid': 'reading-time', 'data-timestamp': latest.timestamp },
            time(latest.timestamp),
          ),
        )
      : h('p', { class: 'muted' }, 'Waiting for the first reading…'),
    chart ? svg(chart) : null,
    chart
      ? h(
          'p',
          { class: 'legend small' },
          h('span', { class: 'key grid' }),
          ' grid power (+ import, − export)  ',
          h('span', { class: 'key pv' }),
          ` PV · last ${readings.length} readings`,
        )
      : null,
  );
}

function pricesCard(): HTMLElement {
  const p = view.prices;
  const points = (list: PricesResponse['prices']) =>
    list.map((x) => ({ t: Date.parse(x.start), v: x.priceEurPerMWh }));
  const chart =
    p &&
    lineChart(
      [
        { name: 'price', color: 'var(--price)', points: points(p.prices) },
        { name: 'forecast', color: 'var(--forecast)', points: points(p.forecast), dashed: true },
      ],
      { unit: '€/MWh', time: clock },
    );
  return h(
    'section',
    { class: 'card', 'data-testid': 'prices' },
    h('h2', {}, 'Price vs forecast'),
    chart
      ? svg(chart)
      : h(
          'p',
          { class: 'muted', 'data-testid': 'prices-empty' },
          'No prices or forecast on this gateway yet. They appear here once a price source and the forecaster run.',
        ),
    chart && p?.forecast.length === 0 ? h('p', { class: 'small' }, 'No forecast yet.') : null,
    chart && p?.forecastSource ? h('p', { class: 'small' }, `Forecast: ${p.forecastSource}`) : null,
  );
}

function channelCard(s: DappState, c: ChannelInfo | null): HTMLElement {
  const relay = s.relay;
  return h(
    'section',
    { class: 'card', 'data-testid': 'channel' },
    h('h2', {}, 'Payment channel'),
    c && c.channelId !== null && c.depositWei !== null
      ? h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Channel'),
          h(
            'dd',
            { class: 'mono', 'data-testid': 'channel-id', 'data-id': c.channelId, title: c.channelId },
            c.channelId.length > 14
              ? `#${c.channelId.slice(0, 8)}…${c.channelId.slice(-4)}`
              : `#${c.channelId}`,
          ),
          h('dt', {}, 'Hub'),
          h('dd', { class: 'mono', title: c.hub }, short(c.hub)),
          h('dt', {}, 'Deposit'),
          h(
            'dd',
            { 'data-testid': 'channel-deposit', 'data-wei': c.depositWei },
            `${ergon(c.depositWei)} ERGON`,
          ),
          h('dt', {}, 'Spent'),
          h('dd', { 'data-testid': 'channel-spent', 'data-wei': c.spentWei }, `${ergon(c.spentWei)} ERGON`),
          h('dt', {}, 'Remaining'),
          h(
            'dd',
            { 'data-testid': 'channel-remaining', 'data-wei': c.remainingWei },
            `${ergon(c.remainingWei)} ERGON`,
          ),
          h('dt', {}, 'Billing cycles'),
          h('dd', { 'data-testid': 'channel-cycles' }, String(c.cycles)),
          h('dt', {}, 'Billed import'),
          h('dd', {}, kWh(c.billedImportWh)),
          h('dt', {}, 'Relay'),
          h('dd', { 'data-testid': 'channel-relay' }, relay.on ? 'supply on' : 'supply cut'),
        )
      : h('p', { class: 'muted', 'data-testid': 'channel-opening' }, 'Opening the channel…'),
    c && c.pending > 0 ? h('p', { class: 'small' }, `${c.pending} waiting for the hub's answer`) : null,
    c?.lastRefusal ? h('p', { class: 'warn small' }, `The hub refused: ${c.lastRefusal}`) : null,
    h(
      'p',
      { class: 'small' },
      'Each billing cycle the HEPEK signs a voucher for its import × the hub-signed tariff.',
    ),
  );
}

function rewardsCard(s: DappState): HTMLElement {
  const r = s.rewards;
  return h(
    'section',
    { class: 'card', 'data-testid': 'rewards' },
    h('h2', {}, 'Rewards and carbon credits'),
    r
      ? h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Accrued export reward'),
          h('dd', { 'data-testid': 'accrued', 'data-wei': r.accruedWei }, `${ergon(r.accruedWei)} ERGON`),
          h('dt', {}, 'Carbon credits'),
          h(
            'dd',
            { 'data-testid': 'carbon', 'data-mg': r.carbonMg },
            `${formatUnits(r.carbonMg, 6)} kg CO2e`,
          ),
          h('dt', {}, 'Readings on chain'),
          h('dd', {}, r.lastSeq === '0' ? 'none yet' : `up to #${r.lastSeq}`),
        )
      : h('p', { class: 'warn' }, s.error ?? 'The chain does not answer.'),
    h('p', { class: 'small' }, 'Export earns ERGON and carbon credits once signed readings reach the chain.'),
  );
}

/** Buy through the demo provider (dev chain): the gateway's real webhook path, signed in-process. */
function perKWh(wei: string): string {
  return `${ergon(wei)} ERGON/kWh`;
}

function windowText(o: { deliveryStart: number; deliveryEnd: number }): string {
  const t = (s: number) => new Date(s * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return `${new Date(o.deliveryStart * 1000).toLocaleDateString([], { dateStyle: 'short' })} ${t(o.deliveryStart)}–${t(o.deliveryEnd)}`;
}

/** The delivery windows the page offers: from the soonest quarter hour the contract accepts. */
function sellStarts(m: MarketResponse): number[] {
  const earliest = m.now + m.toleranceS + LISTING_LEAD_REAL_S * m.clockRate;
  const soonest = Math.ceil(earliest / QUARTER_S) * QUARTER_S;
  return [soonest, soonest + 3600, soonest + 3 * 3600];
}

/** Why the connected wallet cannot approve trades of this HEPEK, or null when it can. */
function cannotTrade(m: MarketResponse): string | null {
  const c = view.connected;
  const s = view.state;
  if (!c) return 'Connect the wallet that owns this HEPEK to trade.';
  if (s && c.chainId !== s.chain.chainId) return 'Switch your wallet to this gateway’s chain first.';
  if (m.owner === null) return 'This HEPEK is not claimed yet: nobody can approve its trades.';
  if (getAddress(m.owner) !== c.account)
    return `Only the owner ${short(m.owner)} approves this HEPEK’s trades.`;
  return null;
}

async function refreshMarket(): Promise<void> {
  if (!has('market')) return;
  await poll<MarketResponse>(API.market, (m) => (market.data = m));
}

/**
 * One trade: the owner's wallet signs exactly the struct the contract will get (EIP-712, every
 * field shown), then the gateway checks the owner, signs it with the device key and relays it.
 */
async function trade(
  what: string,
  name: StructName,
  value: Record<string, bigint | string>,
  path: string,
  key: 'offer' | 'cancel' | 'buy',
  done: (answer: MarketActionResponse) => string,
): Promise<void> {
  const m = market.data;
  const c = view.connected;
  const s = view.state;
  if (!m || !c || !s) return;
  market.busy = what;
  market.error = null;
  market.result = null;
  render();
  try {
    const signature = await signStructWith(
      c.wallet,
      c.account,
      name,
      domainOf('market', s.chain.chainId, m.market),
      value,
    );
    const body = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...authHeaders() },
      body: JSON.stringify({ [key]: body, signature }),
    });
    if (response.status === 401) throw new LoginRequired();
    const answer = (await response.json()) as MarketActionResponse;
    if (!response.ok || answer.error) throw new Error(answer.error ?? `HTTP ${response.status}`);
    market.result = done(answer);
    await refreshMarket();
    await poll<DappState>(API.state, (st) => {
      view.state = st;
      view.error = st.error ?? null;
    });
  } catch (err) {
    if (err instanceof LoginRequired) view.needLogin = true;
    else if ((err as { code?: number }).code === 4001) market.error = `${what}: you rejected the signature.`;
    else market.error = `${what} failed: ${(err as Error).message}`;
  } finally {
    market.busy = null;
    render();
  }
}

function buyOffer(o: MarketOffer): Promise<void> {
  const m = market.data!;
  const s = view.state!;
  const wattHours = BigInt(o.availableWh);
  return trade(
    `Buying offer #${o.offerId}`,
    'Buy',
    {
      offerId: BigInt(o.offerId),
      wattHours,
      buyerWallet: s.device.wallet,
      pricePerKWh: BigInt(o.pricePerKWh),
      nonce: BigInt(m.buyNonce),
      deadline: BigInt(o.expiry),
    },
    API.marketBuy,
    'buy',
    (a) =>
      `Bought ${o.availableWh} Wh of offer #${o.offerId}; ${ergon(a.escrowWei ?? '0')} ERGON in escrow until delivery is proven.`,
  );
}

function listEnergy(): Promise<void> {
  const m = market.data!;
  const s = view.state!;
  const start = sellStarts(m)[market.sell.start]!;
  const end = start + SELL_DURATIONS_S[market.sell.duration]!;
  return trade(
    'Listing',
    'Offer',
    {
      sellerDeviceId: s.device.deviceId,
      wattHours: BigInt(market.sell.wattHours),
      pricePerKWh: parseUnits(market.sell.price, 18),
      deliveryStart: BigInt(start),
      deliveryEnd: BigInt(end),
      expiry: BigInt(start),
      nonce: BigInt(m.deviceNonce),
    },
    API.marketList,
    'offer',
    (a) =>
      `Listed offer #${a.offerId ?? '?'}: ${market.sell.wattHours} Wh at ${market.sell.price} ERGON/kWh.`,
  );
}

function cancelOffer(o: MarketOffer): Promise<void> {
  const m = market.data!;
  return trade(
    `Cancelling offer #${o.offerId}`,
    'Cancel',
    { offerId: BigInt(o.offerId), nonce: BigInt(m.deviceNonce) },
    API.marketCancel,
    'cancel',
    () => `Cancelled the untaken ${o.availableWh} Wh of offer #${o.offerId}.`,
  );
}

function presets<T extends string | number>(
  label: string,
  testId: string,
  options: readonly T[],
  selected: T,
  text: (v: T) => string,
  pick: (v: T) => void,
): HTMLElement {
  return h(
    'div',
    { class: 'actions', role: 'group', 'aria-label': label },
    h('span', { class: 'small muted preset-label' }, label),
    ...options.map((v, i) =>
      h(
        'button',
        {
          class: v === selected ? 'amount selected' : 'amount',
          'aria-pressed': String(v === selected),
          'data-testid': `${testId}-${i}`,
          onclick: () => (pick(v), render()),
        },
        text(v),
      ),
    ),
  );
}

/** A titled part of a card, or nothing when it has no items. */
function titled(testId: string, title: string, items: HTMLElement[]): HTMLElement | null {
  return items.length > 0 ? h('div', { 'data-testid': testId }, h('h3', {}, title), ...items) : null;
}

function offerStatus(o: MarketOffer, now: number): string {
  if (o.proven) return `delivered ${o.deliveredWh} Wh`;
  if (o.takenWh > 0 && now >= o.deliveryStart) return `${o.takenWh} Wh sold · delivering`;
  if (o.availableWh > 0 && o.expiry > now) return o.takenWh > 0 ? `${o.takenWh} Wh sold · open` : 'open';
  if (o.takenWh > 0) return `${o.takenWh} Wh sold`;
  return o.wattHours === 0 ? 'cancelled' : 'expired';
}

function marketCard(s: DappState, m: MarketResponse | null): HTMLElement {
  if (!m)
    return h(
      'section',
      { class: 'card', 'data-testid': 'market' },
      h('h2', {}, 'Market'),
      h('p', { class: 'muted' }, 'Loading offers…'),
    );
  const blocked = cannotTrade(m);
  const busy = market.busy !== null;
  const others = m.offers.filter((o) => o.sellerDeviceId !== s.device.deviceId);
  const starts = sellStarts(m);
  const sell = market.sell;
  const start = starts[sell.start]!;
  const end = start + SELL_DURATIONS_S[sell.duration]!;
  const income = costOf(BigInt(sell.wattHours), parseUnits(sell.price, 18));
  return h(
    'section',
    { class: 'card', 'data-testid': 'market' },
    h('h2', {}, 'Market'),
    blocked ? h('p', { class: 'small muted', 'data-testid': 'market-blocked' }, blocked) : null,
    h('h3', {}, 'Offers'),
    others.length === 0
      ? h('p', { class: 'muted', 'data-testid': 'no-offers' }, 'No open offers from other HEPEKs right now.')
      : h(
          'ul',
          { class: 'offers' },
          ...others.map((o) => {
            const cost = costOf(BigInt(o.availableWh), BigInt(o.pricePerKWh));
            return h(
              'li',
              { class: 'offer', 'data-testid': `offer-${o.offerId}` },
              h(
                'div',
                {},
                h('strong', {}, `${o.availableWh} Wh`),
                ` at ${perKWh(o.pricePerKWh)}`,
                h('br', {}),
                h('span', { class: 'small' }, windowText(o)),
                h('br', {}),
                h(
                  'span',
                  { class: 'small mono', title: `seller ${o.sellerWallet}, device ${o.sellerDeviceId}` },
                  `seller ${short(o.sellerWallet)} · device ${short(o.sellerDeviceId)}`,
                ),
              ),
              h(
                'button',
                {
                  class: 'primary',
                  'data-testid': `buy-offer-${o.offerId}`,
                  disabled: busy || blocked !== null,
                  onclick: () => void buyOffer(o),
                },
                `Buy for ${ergon(cost)} ERGON`,
              ),
            );
          }),
        ),
    titled(
      'positions',
      'Bought, waiting for delivery',
      m.positions.map((p) =>
        h(
          'p',
          { class: 'small', 'data-testid': `position-${p.offerId}` },
          `Offer #${p.offerId}: ${p.wattHours} Wh, ${ergon(p.escrowWei)} ERGON in escrow`,
        ),
      ),
    ),
    m.canSell
      ? h(
          'div',
          { 'data-testid': 'sell' },
          h('h3', {}, 'List my energy'),
          presets(
            'Energy',
            'sell-wh',
            SELL_WH,
            sell.wattHours,
            (v) => `${v} Wh`,
            (v) => (sell.wattHours = v),
          ),
          presets(
            'Price',
            'sell-price',
            SELL_PRICES,
            sell.price,
            (v) => `${v}/kWh`,
            (v) => (sell.price = v),
          ),
          presets(
            'Starts',
            'sell-start',
            [0, 1, 2],
            sell.start,
            (i) => new Date(starts[i]! * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
            (i) => (sell.start = i),
          ),
          presets(
            'Lasts',
            'sell-duration',
            [0, 1, 2],
            sell.duration,
            (i) =>
              SELL_DURATIONS_S[i]! < 3600
                ? `${SELL_DURATIONS_S[i]! / 60} min`
                : `${SELL_DURATIONS_S[i]! / 3600} h`,
            (i) => (sell.duration = i),
          ),
          h(
            'p',
            { class: 'small' },
            `Deliver ${sell.wattHours} Wh ${windowText({ deliveryStart: start, deliveryEnd: end })} for up to ${ergon(income)} ERGON, paid for what the meter proves.`,
          ),
          h(
            'button',
            {
              class: 'primary',
              'data-testid': 'sell-list',
              disabled: busy || blocked !== null,
              onclick: () => void listEnergy(),
            },
            market.busy === 'Listing' ? 'Listing…' : 'List offer',
          ),
        )
      : h('p', { class: 'small muted' }, 'This HEPEK is a consumer: it buys, it does not sell.'),
    m.mine.length > 0
      ? h(
          'div',
          { 'data-testid': 'my-offers' },
          h('h3', {}, 'My offers'),
          h(
            'ul',
            { class: 'offers' },
            ...m.mine.map((o) =>
              h(
                'li',
                {
                  class: 'offer',
                  'data-testid': `my-offer-${o.offerId}`,
                  'data-available': String(o.availableWh),
                },
                h(
                  'div',
                  {},
                  h('strong', {}, `#${o.offerId} · ${o.wattHours} Wh`),
                  ` at ${perKWh(o.pricePerKWh)}`,
                  h('br', {}),
                  h('span', { class: 'small' }, `${windowText(o)} · ${offerStatus(o, m.now)}`),
                ),
                o.availableWh > 0 && o.expiry > m.now
                  ? h(
                      'button',
                      {
                        'data-testid': `cancel-offer-${o.offerId}`,
                        disabled: busy || blocked !== null,
                        onclick: () => void cancelOffer(o),
                      },
                      `Cancel ${o.availableWh} Wh`,
                    )
                  : null,
              ),
            ),
          ),
        )
      : null,
    titled(
      'settlements',
      'Settled',
      m.settlements.map((x) =>
        h(
          'p',
          {
            class: 'small',
            'data-testid': `settlement-${x.offerId}`,
            'data-side': x.side,
            'data-paid-wei': x.paidWei,
          },
          `${x.side === 'sold' ? 'Sold' : 'Bought'} offer #${x.offerId}: ${x.deliveredWh} Wh delivered, ${ergon(x.paidWei)} ERGON paid`,
        ),
      ),
    ),
    market.result ? h('p', { class: 'ok small', 'data-testid': 'market-result' }, market.result) : null,
    market.error ? h('p', { class: 'warn', 'data-testid': 'market-error' }, market.error) : null,
  );
}

async function buyErgon(): Promise<void> {
  const p = view.purchase;
  p.busy = true;
  p.error = null;
  p.result = null;
  render();
  try {
    const response = await fetch(API.purchase, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...authHeaders() },
      body: JSON.stringify({
        amountErgon: p.amount,
        ...(view.connected ? { member: view.connected.account } : {}),
      }),
    });
    if (response.status === 401) throw new LoginRequired();
    const body = (await response.json()) as PurchaseResponse;
    if (!response.ok || body.status !== 'minted') throw new Error(body.error ?? `HTTP ${response.status}`);
    p.result = body;
    await poll<DappState>(API.state, (s) => {
      view.state = s;
      view.error = s.error ?? null;
    });
    if (view.connected) await refreshMember().catch(() => undefined);
  } catch (err) {
    if (err instanceof LoginRequired) view.needLogin = true;
    else p.error = `Buying failed: ${(err as Error).message}`;
  } finally {
    p.busy = false;
    render();
  }
}

function purchaseCard(info: PurchaseInfo): HTMLElement {
  const p = view.purchase;
  const checkout =
    info.provider === 'checkout' && info.checkoutUrl
      ? (() => {
          const url = new URL(info.checkoutUrl);
          url.searchParams.set('serial', view.state?.device.serial ?? '');
          url.searchParams.set('amountErgon', p.amount);
          return url.href;
        })()
      : null;
  return h(
    'section',
    { class: 'card', 'data-testid': 'purchase' },
    h('h2', {}, 'Buy ERGON'),
    h(
      'p',
      { class: 'small' },
      info.provider === 'demo'
        ? 'Dev chain: a demo payment provider pays, then the gateway’s webhook mints to the HEPEK wallet — the same path as a card payment.'
        : 'Pay by card or direct debit on the operator’s page; the ERGON is minted to the HEPEK wallet when the payment succeeds.',
    ),
    h(
      'div',
      { class: 'actions', role: 'group', 'aria-label': 'Amount' },
      ...PURCHASE_AMOUNTS.map((amount) =>
        h(
          'button',
          {
            class: amount === p.amount ? 'amount selected' : 'amount',
            'aria-pressed': String(amount === p.amount),
            'data-testid': `purchase-amount-${amount}`,
            onclick: () => ((p.amount = amount), render()),
          },
          `${amount} ERGON`,
        ),
      ),
    ),
    checkout
      ? h(
          'a',
          {
            class: 'button primary',
            href: checkout,
            target: '_blank',
            rel: 'noopener',
            'data-testid': 'checkout',
          },
          `Pay for ${p.amount} ERGON`,
        )
      : h(
          'button',
          {
            class: 'primary',
            'data-testid': 'purchase-buy',
            disabled: p.busy,
            onclick: () => void buyErgon(),
          },
          p.busy ? 'Paying…' : `Buy ${p.amount} ERGON`,
        ),
    p.result
      ? h(
          'p',
          { class: 'ok small', 'data-testid': 'purchase-result', 'data-wei': p.result.amountWei ?? '' },
          `Minted ${ergon(p.result.amountWei ?? '0')} ERGON to the HEPEK wallet · tx `,
          h('span', { class: 'mono', title: p.result.txHash ?? '' }, short(p.result.txHash ?? '')),
        )
      : null,
    p.error ? h('p', { class: 'warn', 'data-testid': 'purchase-error' }, p.error) : null,
    h('p', { class: 'small muted' }, `Up to ${info.maxErgon} ERGON per payment.`),
  );
}

function confirmSheet(): HTMLElement | null {
  const c = view.confirm;
  if (!c) return null;
  const done = (ok: boolean) => {
    view.confirm = null;
    c.resolve(ok);
    render();
  };
  return h(
    'div',
    { class: 'sheet', role: 'dialog', 'aria-modal': 'true', 'data-testid': 'sign-sheet' },
    h(
      'div',
      { class: 'sheet-body' },
      h('h2', {}, c.view.title),
      h('p', { class: 'small' }, 'The demo wallet signs exactly these fields (EIP-712):'),
      h(
        'dl',
        { class: 'facts typed' },
        ...c.view.rows.flatMap((r) => [
          h('dt', {}, `${r.label}`, h('span', { class: 'type' }, r.type)),
          h('dd', { class: 'mono' }, r.value),
        ]),
      ),
      h(
        'div',
        { class: 'actions' },
        h('button', { onclick: () => done(false) }, 'Reject'),
        h('button', { class: 'primary', 'data-testid': 'sign-approve', onclick: () => done(true) }, 'Sign'),
      ),
    ),
  );
}

function loginCard(): HTMLElement {
  const error = h('p', { class: 'warn', hidden: true });
  const form = h(
    'form',
    {
      class: 'card',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const data = new FormData(e.target as HTMLFormElement);
        login(String(data.get('username')), String(data.get('password')))
          .then(() => {
            view.needLogin = false;
            reader = null;
            return refresh();
          })
          .catch((err: Error) => {
            error.textContent = err.message;
            error.hidden = false;
          });
      },
    },
    h('h2', {}, 'Log in'),
    h('p', { class: 'small' }, 'This gateway asks for the same login as its Node-RED editor.'),
    h('label', {}, 'Username', h('input', { name: 'username', autocomplete: 'username', required: true })),
    h(
      'label',
      {},
      'Password',
      h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    ),
    error,
    h('button', { class: 'primary', type: 'submit' }, 'Log in'),
  );
  return form;
}

function render(): void {
  const app = document.getElementById('app')!;
  const s = view.state;
  const main = h('main', {});
  if (view.needLogin) main.append(loginCard());
  else if (!s) main.append(h('p', { class: 'muted card' }, view.error ?? 'Loading…'));
  else {
    if (view.error) main.append(h('p', { class: 'warn card', 'data-testid': 'error' }, view.error));
    main.append(
      walletCard(s),
      balanceCard(s),
      readingsCard(),
      pricesCard(),
      has('channel') && s.channel !== undefined
        ? channelCard(s, s.channel)
        : unavailable(
            'Payment channel',
            'channel',
            'Deposit, spent, remaining and billing cycles of the channel that pays for your energy.',
          ),
      has('rewards') && s.rewards !== undefined
        ? rewardsCard(s)
        : unavailable(
            'Rewards and carbon credits',
            'rewards',
            'Export rewards and carbon credits accrued by this HEPEK.',
          ),
      has('market')
        ? marketCard(s, market.data)
        : unavailable(
            'Market',
            'market',
            'Offers with seller and device, buy with one tap, list your energy, cancel.',
          ),
      has('purchase') && s.purchase
        ? purchaseCard(s.purchase)
        : unavailable('Buy ERGON', 'purchase', 'Top up the HEPEK wallet through the purchase path.'),
    );
  }
  patch(app, [header(s), main, ...[confirmSheet()].filter((x): x is HTMLElement => x !== null)]);
}

/**
 * Puts `next` into `parent`, keeping every existing child whose markup did not change (and, inside
 * <main>, every unchanged card): the page re-renders every few seconds, and a card the user is
 * tapping must not be swapped under the finger. Kept nodes keep their listeners, which act on the
 * same view state.
 */
function patch(parent: Element, next: Element[]): void {
  const old = [...parent.children];
  if (old.length !== next.length || old.some((el, i) => el.tagName !== next[i]!.tagName)) {
    parent.replaceChildren(...next);
    return;
  }
  next.forEach((el, i) => {
    const current = old[i]!;
    if (current.outerHTML === el.outerHTML) return;
    if (el.tagName === 'MAIN') patch(current, [...el.children]);
    else current.replaceWith(el);
  });
}

// ---------------------------------------------------------------------------------------------
// Polling

async function poll<T>(path: string, apply: (value: T) => void): Promise<void> {
  try {
    apply(await getJson<T>(path));
  } catch (err) {
    if (err instanceof LoginRequired) view.needLogin = true;
    else view.error = (err as Error).message;
  }
}

async function refresh(): Promise<void> {
  await poll<DappState>(API.state, (s) => {
    view.state = s;
    view.error = s.error ?? null;
  });
  await poll<ReadingsResponse>(API.readings, (r) => (view.readings = r));
  await poll<PricesResponse>(API.prices, (p) => (view.prices = p));
  await refreshMarket();
  if (view.connected) await refreshMember().catch(() => undefined);
  render();
}

function every(ms: number, task: () => Promise<void>): void {
  const run = () => {
    if (!view.needLogin && !view.confirm) void task().then(render);
  };
  setInterval(run, ms);
}

render();
void refresh();
every(STATE_EVERY_MS, async () => {
  await poll<DappState>(API.state, (s) => {
    view.state = s;
    view.error = s.error ?? null;
  });
  if (view.connected) await refreshMember().catch(() => undefined);
});
every(READINGS_EVERY_MS, () => poll<ReadingsResponse>(API.readings, (r) => (view.readings = r)));
every(MARKET_EVERY_MS, refreshMarket);
every(PRICES_EVERY_MS, () => poll<PricesResponse>(API.prices, (p) => (view.prices = p)));
