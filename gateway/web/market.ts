/**
 * The DApp's market: what the page shows (open offers, this device's offers, this HEPEK wallet's
 * takes and the settlements of both) and the three actions — list, cancel, buy — approved by the
 * device's owner.
 *
 * An action arrives as the exact EIP-712 struct the contract will get (`Offer`, `Cancel`, `Buy`)
 * with the owner's signature over it in the market's domain, so the wallet prompt shows every field
 * of the trade. The gateway recovers the signer, checks it is the device's owner in the
 * GatewayRegistry now, checks the nonce is the next one (an approval is used once), then signs the
 * same struct with the device key and relays it. The owner's signature itself is worthless on
 * chain: EnergyMarket accepts these structs only from the device key.
 */
import { ZeroAddress, getAddress, toBeHex, verifyTypedData, zeroPadValue, type Provider } from 'ethers';
import { InputError, StateError } from '../errors';
import { STRUCTS, type Buy, type Cancel, type Offer, type StructName } from '../chain/typed-data';
import { GatewayRegistry__factory, type GatewayRegistry } from '../chain/types';
import { marketDomain, type GatewayMarket } from '../market';
import type { MarketActionResponse, MarketResponse, MarketSettlement } from './api';

/** How many of the newest offers the page looks at. */
export const MARKET_SCAN = 50;
/** Consumer = 0 in the GatewayRegistry's DeviceMode; prosumers and generators may sell. */
const CONSUMER_MODE = 0n;

export interface DappMarket {
  view(): Promise<MarketResponse>;
  list(body: unknown): Promise<MarketActionResponse>;
  cancel(body: unknown): Promise<MarketActionResponse>;
  buy(body: unknown): Promise<MarketActionResponse>;
}

export interface DappMarketOptions {
  market: GatewayMarket;
  provider: Provider;
  chainId: number;
  /** GatewayRegistry address. */
  registry: string;
  /** The first block to read settlements from (the deployment's block when known). */
  fromBlock?: number;
  /** Chain seconds per real second (MarketResponse.clockRate). */
  clockRate: () => number;
}

const UINT = /^(0|[1-9]\d{0,77})$/;

function uintField(obj: Record<string, unknown>, prefix: string, name: string): bigint {
  const v = obj[name];
  if (typeof v !== 'string' || !UINT.test(v))
    throw new InputError(`${prefix}.${name}`, v ?? null, 'a non-negative integer as a decimal string');
  return BigInt(v);
}

function objectField(body: unknown, name: string, example: string): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new InputError(
      'body',
      body ?? null,
      `a JSON object {"${name}": {…}, "signature": "0x…"} (${example})`,
    );
  const v = (body as Record<string, unknown>)[name];
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new InputError(name, v ?? null, `the EIP-712 ${example} struct as an object`);
  return v as Record<string, unknown>;
}

function signatureField(body: unknown): string {
  const v = (body as Record<string, unknown>).signature;
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(v))
    throw new InputError(
      'signature',
      v ?? null,
      "the owner's 65-byte eth_signTypedData_v4 signature (0x + 130 hex)",
    );
  return v;
}

export function createDappMarket(options: DappMarketOptions): DappMarket {
  const { market, provider, chainId } = options;
  const { client, deviceId, device } = market;
  const fromBlock = options.fromBlock ?? 0;
  const registry: GatewayRegistry = GatewayRegistry__factory.connect(options.registry, provider);
  const where = { chainId, market: client.options.market };
  let params: { tolerance: bigint; grace: bigint } | null = null;

  async function marketParams() {
    params ??= { tolerance: await client.market.TOLERANCE(), grace: await client.market.GRACE() };
    return params;
  }

  /** The owner's approval of `value` as struct `name`: recovers the signer and checks it owns the device now. */
  async function approved(name: StructName, value: object, signature: string): Promise<void> {
    let signer: string;
    try {
      signer = verifyTypedData(
        marketDomain(where),
        STRUCTS[name].types,
        value as Record<string, unknown>,
        signature,
      );
    } catch (err) {
      throw new InputError('signature', signature.slice(0, 20) + '…', `an EIP-712 ${name} signature`, {
        cause: err,
      });
    }
    const owner = await registry.ownerOf(deviceId);
    if (owner === ZeroAddress)
      throw new StateError('market', `device ${deviceId} is not claimed: nobody can approve its trades`);
    if (getAddress(signer) !== getAddress(owner))
      throw new InputError('signature', signer, `a signature by the device's owner ${owner}`);
  }

  function checkNonce(field: string, got: bigint, next: bigint): void {
    if (got !== next)
      throw new InputError(
        field,
        got.toString(),
        `the next nonce ${next} (this approval is used or stale: sign the terms again)`,
      );
  }

  async function view(): Promise<MarketResponse> {
    const [chainNow, p, count, info, deviceNonce, buyNonce] = await Promise.all([
      client.chainNow(),
      marketParams(),
      client.market.offerCount(),
      registry.deviceOf(deviceId),
      client.market.nonces(deviceId),
      client.market.buyNonces(device.address),
    ]);
    // The next block is stamped no earlier than the latest one and the wall clock (a dev node that
    // mines only on demand may have an old latest block).
    const now =
      chainNow > BigInt(Math.floor(Date.now() / 1000)) ? chainNow : BigInt(Math.floor(Date.now() / 1000));
    const ids: bigint[] = [];
    for (let id = count; id >= 1n && ids.length < MARKET_SCAN; id--) ids.push(id);
    const offers = await Promise.all(ids.map((id) => client.offer(id)));
    const mine = offers.filter((o) => o.sellerDeviceId === deviceId);
    const others = offers.filter((o) => o.sellerDeviceId !== deviceId);
    const held = await Promise.all(others.map((o) => client.market.positionOf(o.offerId, device.address)));
    const positions = others
      .map((o, i) => ({
        offerId: o.offerId,
        wattHours: Number(held[i]!.wattHours),
        escrowWei: held[i]!.escrow.toString(),
      }))
      .filter((x) => x.wattHours > 0);

    // OfferSettled(offerId indexed, buyerWallet indexed, …): this wallet's takes, and this device's offers.
    const event = client.market.interface.getEvent('OfferSettled');
    const address = client.options.market;
    const topic = (v: bigint | number | string) => zeroPadValue(toBeHex(v), 32);
    const [bought, sold] = await Promise.all([
      provider.getLogs({ address, fromBlock, topics: [event.topicHash, null, topic(device.address)] }),
      mine.length > 0
        ? provider.getLogs({
            address,
            fromBlock,
            topics: [event.topicHash, mine.map((o) => topic(o.offerId))],
          })
        : Promise.resolve([]),
    ]);
    const settlements: MarketSettlement[] = [
      ...bought.map((log) => ({ side: 'bought' as const, log })),
      ...sold.map((log) => ({ side: 'sold' as const, log })),
    ]
      .map(({ side, log }) => {
        const e = client.market.interface.decodeEventLog(event, log.data, log.topics);
        return {
          side,
          offerId: Number(e.offerId as bigint),
          buyerWallet: getAddress(e.buyerWallet as string),
          deliveredWh: Number(e.deliveredWh as bigint),
          paidWei: (e.paid as bigint).toString(),
          txHash: log.transactionHash,
          blockNumber: log.blockNumber,
        };
      })
      .sort((a, b) => b.blockNumber - a.blockNumber);

    return {
      now: Number(now),
      clockRate: options.clockRate(),
      toleranceS: Number(p.tolerance),
      graceS: Number(p.grace),
      market: client.options.market,
      owner: info.owner === ZeroAddress ? null : info.owner,
      canSell: info.mode !== CONSUMER_MODE,
      deviceNonce: deviceNonce.toString(),
      buyNonce: buyNonce.toString(),
      // A take is mined in a later block than `now`: an offer expiring next second is not offered.
      offers: offers.filter((o) => o.availableWh > 0 && o.expiry > Number(now) + 1),
      mine: mine,
      positions,
      settlements,
    };
  }

  async function list(body: unknown): Promise<MarketActionResponse> {
    const raw = objectField(body, 'offer', 'Offer');
    const signature = signatureField(body);
    if (raw.sellerDeviceId !== deviceId)
      throw new InputError('offer.sellerDeviceId', raw.sellerDeviceId ?? null, `this device ${deviceId}`);
    const offer: Offer = {
      sellerDeviceId: deviceId,
      wattHours: uintField(raw, 'offer', 'wattHours'),
      pricePerKWh: uintField(raw, 'offer', 'pricePerKWh'),
      deliveryStart: uintField(raw, 'offer', 'deliveryStart'),
      deliveryEnd: uintField(raw, 'offer', 'deliveryEnd'),
      expiry: uintField(raw, 'offer', 'expiry'),
      nonce: uintField(raw, 'offer', 'nonce'),
    };
    await approved('Offer', offer, signature);
    checkNonce('offer.nonce', offer.nonce, await client.market.nonces(deviceId));
    const offerId = await client.listTerms(device, offer);
    return { offerId: Number(offerId) };
  }

  async function cancel(body: unknown): Promise<MarketActionResponse> {
    const raw = objectField(body, 'cancel', 'Cancel');
    const signature = signatureField(body);
    const value: Cancel = {
      offerId: uintField(raw, 'cancel', 'offerId'),
      nonce: uintField(raw, 'cancel', 'nonce'),
    };
    const offer = await client.offer(value.offerId);
    if (offer.sellerDeviceId !== deviceId)
      throw new InputError('cancel.offerId', value.offerId.toString(), `an offer of this device ${deviceId}`);
    await approved('Cancel', value, signature);
    checkNonce('cancel.nonce', value.nonce, await client.market.nonces(deviceId));
    await client.cancel(device, deviceId, value.offerId, value.nonce);
    return { offerId: Number(value.offerId) };
  }

  async function buy(body: unknown): Promise<MarketActionResponse> {
    const raw = objectField(body, 'buy', 'Buy');
    const signature = signatureField(body);
    let buyerWallet: string;
    try {
      buyerWallet = getAddress(String(raw.buyerWallet));
    } catch {
      throw new InputError('buy.buyerWallet', raw.buyerWallet ?? null, `this HEPEK wallet ${device.address}`);
    }
    if (buyerWallet !== getAddress(device.address))
      throw new InputError('buy.buyerWallet', buyerWallet, `this HEPEK wallet ${device.address}`);
    const terms: Buy = {
      offerId: uintField(raw, 'buy', 'offerId'),
      wattHours: uintField(raw, 'buy', 'wattHours'),
      buyerWallet,
      pricePerKWh: uintField(raw, 'buy', 'pricePerKWh'),
      nonce: uintField(raw, 'buy', 'nonce'),
      deadline: uintField(raw, 'buy', 'deadline'),
    };
    const offer = await client.offer(terms.offerId);
    if (offer.sellerDeviceId === deviceId)
      throw new InputError(
        'buy.offerId',
        terms.offerId.toString(),
        "another device's offer (this is this device's own)",
      );
    if (terms.wattHours < 1n || terms.wattHours > BigInt(offer.availableWh))
      throw new InputError(
        'buy.wattHours',
        terms.wattHours.toString(),
        `1 to ${offer.availableWh} Wh (left on offer ${terms.offerId})`,
      );
    if (terms.pricePerKWh !== BigInt(offer.pricePerKWh))
      throw new InputError(
        'buy.pricePerKWh',
        terms.pricePerKWh.toString(),
        `the offer's price ${offer.pricePerKWh}`,
      );
    if (terms.deadline > BigInt(offer.expiry))
      throw new InputError(
        'buy.deadline',
        terms.deadline.toString(),
        `at most the offer's expiry ${offer.expiry}`,
      );
    await approved('Buy', terms, signature);
    checkNonce('buy.nonce', terms.nonce, await client.market.buyNonces(device.address));
    const { escrow } = await client.buyTerms(device, terms);
    return { offerId: Number(terms.offerId), escrowWei: escrow.toString() };
  }

  return { view, list, cancel, buy };
}
