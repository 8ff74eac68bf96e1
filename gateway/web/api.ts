/**
 * The DApp's JSON API: paths, capability names and body shapes, shared by the gateway (server.ts)
 * and the page (page/), so the two cannot drift. Plain TypeScript, no Node or DOM imports.
 *
 * Amounts of ERGON travel as decimal strings of base units (18 decimals); the page formats them
 * with ethers. Times are ISO 8601 strings.
 */
import type { MeterReading, RelayState, SpendableBalance } from '../context';
import type { OfferView } from '../market/offer';

export const DAPP_BASE = '/dapp';
export const API = {
  state: `${DAPP_BASE}/api/state`,
  readings: `${DAPP_BASE}/api/readings`,
  prices: `${DAPP_BASE}/api/prices`,
  rpc: `${DAPP_BASE}/api/rpc`,
  demoWallet: `${DAPP_BASE}/api/demo-wallet`,
  purchase: `${DAPP_BASE}/api/purchase`,
  market: `${DAPP_BASE}/api/market`,
  marketList: `${DAPP_BASE}/api/market/list`,
  marketCancel: `${DAPP_BASE}/api/market/cancel`,
  marketBuy: `${DAPP_BASE}/api/market/buy`,
} as const;

/**
 * What a gateway can show. The page draws a section only when its capability is listed, and
 * otherwise says "not available on this gateway yet" — so later issues add a name here and a
 * source in the gateway, never a fake number in the page.
 */
export const CAPABILITIES = [
  /** ERGON and spendable balance of the HEPEK wallet. */
  'balance',
  /** The supply relay's state. */
  'relay',
  /** Recent meter readings (`API.readings`). */
  'readings',
  /** Day-ahead prices (`API.prices` → prices). */
  'prices',
  /** A price forecast (`API.prices` → forecast). */
  'forecast',
  /** The demo member wallet (embedded dev chain only). */
  'demoWallet',
  /** The HEPEK wallet's payment channel: deposit, spent, remaining, cycles. */
  'channel',
  /** Accrued export rewards and carbon credits (MeterReadings). */
  'rewards',
  /** The energy market: offers, buy, list, cancel. */
  'market',
  /** Buying ERGON through the purchase path. */
  'purchase',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface DappState {
  capabilities: Capability[];
  device: { serial: string; deviceId: string; wallet: string; mode: string };
  chain: {
    chainId: number;
    /** true on the in-process dev chain, where the demo member wallet exists. */
    embedded: boolean;
    /** Where a browser wallet reaches this chain: the gateway's read-only proxy, `API.rpc`. */
    rpcPath: string;
    /** The block `balance` was read at; null when the chain does not answer. */
    blockNumber: number | null;
  };
  contracts: Record<string, string>;
  /** null when the chain does not answer (then `error` says why). */
  balance: SpendableBalance | null;
  lowThresholdErgon: number;
  relay: RelayState;
  meter: MeterReading | null;
  /** Accrued export rewards and carbon credits of this device, when `rewards` is a capability. */
  rewards?: Rewards | null;
  /** The demo member's address, when `demoWallet` is a capability. */
  demoMember: string | null;
  /** How ERGON is bought here, when `purchase` is a capability. */
  purchase?: PurchaseInfo;
  /** The HEPEK wallet's payment channel, when `channel` is a capability (null before it opens). */
  channel?: ChannelInfo | null;
  error?: string;
}

/** MeterReadings' account of this device: what the owner can claim and the credits it earned. */
export interface Rewards {
  /** Accrued, unclaimed export reward, ERGON base units. */
  accruedWei: string;
  /** Carbon credits earned, mg CO2e (1,000,000 mg = 1 credit = 1 kg CO2e). */
  carbonMg: string;
  /** Sequence number of the last reading the contract accepted (0 = none yet). */
  lastSeq: string;
}

/**
 * Buying ERGON: `checkout` opens the operator's payment page (the provider then calls the
 * gateway's webhook); `demo` (embedded dev chain only) pays through the in-process demo provider
 * with POST `API.purchase`, which runs the same webhook.
 */
export interface PurchaseInfo {
  provider: 'checkout' | 'demo';
  /** The payment page, for `checkout`: open it with ?serial=…&amountErgon=… added. */
  checkoutUrl: string | null;
  /** The largest purchase one payment may mint, ERGON. */
  maxErgon: number;
}

/** The payment channel that pays the hub each billing cycle (gateway/channel/). */
export interface ChannelInfo {
  /** The channel id (uint256 as a decimal string); null while it is being opened. */
  channelId: string | null;
  /** The hub (payee). */
  hub: string;
  /** Deposited, ERGON base units; null while it is being opened. */
  depositWei: string | null;
  /** Spent: the newest voucher the hub acknowledged. */
  spentWei: string;
  /** Remaining: deposit − spent. */
  remainingWei: string;
  /** Billing cycles paid so far. */
  cycles: number;
  /** The import counter the newest voucher was computed from, Wh. */
  billedImportWh: number;
  /** Vouchers or requests not yet acknowledged. */
  pending: number;
  /** The hub's last refusal, in words; null when none. */
  lastRefusal: string | null;
}

/** POST `API.purchase` body (demo provider). */
export interface PurchaseRequest {
  /** ERGON as a decimal string, e.g. "25.5". */
  amountErgon: string;
  /** The connected member wallet; the webhook checks it owns this HEPEK. */
  member?: string;
}

/** What the webhook answered: `status: "minted"` with the mint's transaction, else `error`. */
export interface PurchaseResponse {
  status?: 'minted';
  paymentId?: string;
  wallet?: string;
  amountWei?: string;
  txHash?: string;
  blockNumber?: number;
  error?: string;
}

export interface ReadingsResponse {
  /** Oldest first, at most `limit`. */
  readings: MeterReading[];
  /** How many the gateway keeps. */
  capacity: number;
}

export interface PricePoint {
  /** Start of the period, ISO 8601. */
  start: string;
  priceEurPerMWh: number;
}

export interface PricesResponse {
  /** Known prices (empty until a price source exists). */
  prices: PricePoint[];
  /** The newest forecast (empty until a forecaster runs). */
  forecast: PricePoint[];
  /** Where the forecast comes from, e.g. a model name; null when there is none. */
  forecastSource: string | null;
}

/** A JSON-RPC 2.0 request as the page's wallets send it. */
export interface RpcRequest {
  jsonrpc?: '2.0';
  id?: number | string | null;
  method: string;
  params?: unknown[];
}

/** An EnergyMarket offer (Wh, ERGON base units per kWh as a decimal string, unix seconds). */
export type MarketOffer = OfferView;

/** What this HEPEK wallet holds in an offer's escrow until it is settled. */
export interface MarketPosition {
  offerId: number;
  wattHours: number;
  escrowWei: string;
}

/** A settled take (`OfferSettled`): `bought` by this HEPEK wallet, or `sold` from this device's offer. */
export interface MarketSettlement {
  side: 'bought' | 'sold';
  offerId: number;
  buyerWallet: string;
  deliveredWh: number;
  paidWei: string;
  txHash: string;
  blockNumber: number;
}

/** GET `API.market`. */
export interface MarketResponse {
  /** The chain's time: the later of its latest block and the wall clock (the next block is no earlier), unix seconds. */
  now: number;
  /**
   * Chain seconds per real second: the simulator's speed when the dev chain follows an accelerated
   * simulated meter, else 1. The page keeps a delivery window this many real seconds ahead.
   */
  clockRate: number;
  /** EnergyMarket's tolerance: a window must start at least this long after the listing, s. */
  toleranceS: number;
  /** After the window end the seller has this long to prove delivery, s. */
  graceS: number;
  /** EnergyMarket address (the EIP-712 domain's verifying contract). */
  market: string;
  /** Who approves this HEPEK's trades: the device's owner in the GatewayRegistry (null = unclaimed). */
  owner: string | null;
  /** This device may sell (prosumer or generator). */
  canSell: boolean;
  /** The device's next market nonce (Offer, Cancel) and the HEPEK wallet's next buy nonce, decimal. */
  deviceNonce: string;
  buyNonce: string;
  /** Offers a buyer can still take now, this device's own included (the page does not offer those). */
  offers: MarketOffer[];
  /** This device's recent offers, whatever their state, newest first. */
  mine: MarketOffer[];
  /** This HEPEK wallet's unsettled takes. */
  positions: MarketPosition[];
  /** Settlements of this HEPEK wallet's takes and this device's offers, newest first. */
  settlements: MarketSettlement[];
}

/**
 * The market POSTs: the exact EIP-712 struct (integers as decimal strings) and the owner's
 * `eth_signTypedData_v4` signature over it in the market's domain. The gateway checks the signer is
 * the device's owner, then signs the same struct with the device key and relays it — so the owner
 * approves exactly the terms the contract gets, and the owner's own signature is worthless on chain.
 */
export interface MarketListRequest {
  offer: {
    sellerDeviceId: string;
    wattHours: string;
    pricePerKWh: string;
    deliveryStart: string;
    deliveryEnd: string;
    expiry: string;
    nonce: string;
  };
  signature: string;
}
export interface MarketCancelRequest {
  cancel: { offerId: string; nonce: string };
  signature: string;
}
export interface MarketBuyRequest {
  buy: {
    offerId: string;
    wattHours: string;
    buyerWallet: string;
    pricePerKWh: string;
    nonce: string;
    deadline: string;
  };
  signature: string;
}
export interface MarketActionResponse {
  offerId?: number;
  /** The escrow a buy locked, ERGON base units. */
  escrowWei?: string;
  error?: string;
}
