/**
 * Client side of EnergyMarket for the gateway, the nodes and the CLI: read open offers, list and
 * cancel as the seller's device (device-signed, relayed), buy as a HEPEK wallet (signed terms and a
 * permit, relayed — the device key needs no ETH), prove and settle (anyone). Units: Wh, ERGON base
 * units per kWh, unix seconds.
 */
import type { ContractTransactionReceipt, Signer } from 'ethers';
import { InputError, StateError } from '../errors';
import { signPermit } from '../chain/channels';
import type { Buy, Offer, TypedDataSigner } from '../chain/typed-data';
import {
  EnergyMarket__factory,
  ErgonToken__factory,
  type EnergyMarket,
  type ErgonToken,
} from '../chain/types';
import type { OfferView } from './offer';
import { costOf, signBuy, signCancel, signOffer } from './sign';

export type { OfferView } from './offer';

/** What a seller lists; the nonce is read from the chain. */
export interface OfferRequest {
  wattHours: bigint;
  pricePerKWh: bigint;
  deliveryStart: bigint;
  deliveryEnd: bigint;
  /** Default: deliveryStart. */
  expiry?: bigint;
}

/** One buyer's settlement. */
export interface SettlementView {
  offerId: number;
  buyerWallet: string;
  deliveredWh: number;
  /** ERGON base units, decimal strings. */
  paid: string;
  refunded: string;
}

export interface MarketClientOptions {
  chainId: bigint | number;
  /** EnergyMarket address. */
  market: string;
  /** ErgonToken address (for permits). */
  token: string;
  /** Sends the transactions (pays the gas): the hub, a member account, any funded key. */
  relayer: Signer;
}

function isRevert(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: string }).code === 'CALL_EXCEPTION';
}

export class MarketClient {
  readonly market: EnergyMarket;
  readonly token: ErgonToken;

  constructor(readonly options: MarketClientOptions) {
    this.market = EnergyMarket__factory.connect(options.market, options.relayer);
    this.token = ErgonToken__factory.connect(options.token, options.relayer);
  }

  private get where() {
    return { chainId: this.options.chainId, market: this.options.market };
  }

  /** The chain's clock: the latest block's timestamp, unix seconds. */
  async chainNow(): Promise<bigint> {
    const provider = this.options.relayer.provider;
    if (!provider) throw new StateError('market', 'the relayer has no provider');
    const block = await provider.getBlock('latest');
    if (!block) throw new StateError('market', 'the chain returned no latest block');
    return BigInt(block.timestamp);
  }

  /** One offer, or a clear error for an unknown id. */
  async offer(offerId: bigint): Promise<OfferView> {
    const o = await this.market.offerOf(offerId);
    if (o.sellerWallet === '0x0000000000000000000000000000000000000000')
      throw new InputError('offerId', offerId, `an offer id from 1 to ${await this.market.offerCount()}`);
    return {
      offerId: Number(offerId),
      sellerDeviceId: o.sellerDeviceId,
      sellerWallet: o.sellerWallet,
      wattHours: Number(o.wattHours),
      takenWh: Number(o.takenWh),
      availableWh: Number(o.wattHours - o.takenWh),
      pricePerKWh: o.pricePerKWh.toString(),
      deliveryStart: Number(o.deliveryStart),
      deliveryEnd: Number(o.deliveryEnd),
      expiry: Number(o.expiry),
      proven: o.proven,
      deliveredWh: Number(o.deliveredWh),
    };
  }

  /** Every offer (newest last). */
  async allOffers(): Promise<OfferView[]> {
    const count = await this.market.offerCount();
    const out: OfferView[] = [];
    for (let id = 1n; id <= count; id++) out.push(await this.offer(id));
    return out;
  }

  /** Offers a buyer can still take now: Wh left and not expired. */
  async openOffers(): Promise<OfferView[]> {
    const now = await this.chainNow();
    // A take is mined in a later block than `now`, so an offer expiring next second is not offered.
    return (await this.allOffers()).filter((o) => o.availableWh > 0 && BigInt(o.expiry) > now + 1n);
  }

  /** Lists as the seller's device: signs an `Offer` and relays it. Returns the new offer's id. */
  async list(device: TypedDataSigner, sellerDeviceId: string, req: OfferRequest): Promise<bigint> {
    return this.listTerms(device, {
      sellerDeviceId,
      wattHours: req.wattHours,
      pricePerKWh: req.pricePerKWh,
      deliveryStart: req.deliveryStart,
      deliveryEnd: req.deliveryEnd,
      expiry: req.expiry ?? req.deliveryStart,
      nonce: await this.market.nonces(sellerDeviceId),
    });
  }

  /** Lists exactly `terms` (nonce included) as the seller's device. Returns the new offer's id. */
  async listTerms(device: TypedDataSigner, terms: Offer): Promise<bigint> {
    const sig = await signOffer(device, this.where, terms);
    const receipt = await this.send(() => this.market.listFor(terms, sig.r, sig.vs));
    return this.eventArg(receipt, 'OfferListed', 'offerId') as bigint;
  }

  /**
   * Withdraws the untaken rest of the device's offer (device-signed `Cancel`, relayed), at the
   * device's next market nonce unless `nonce` is given.
   */
  async cancel(
    device: TypedDataSigner,
    sellerDeviceId: string,
    offerId: bigint,
    nonce?: bigint,
  ): Promise<void> {
    const n = nonce ?? (await this.market.nonces(sellerDeviceId));
    const sig = await signCancel(device, this.where, { offerId, nonce: n });
    await this.send(() => this.market.cancelFor(offerId, n, sig.r, sig.vs));
  }

  /**
   * Takes `wattHours` of an offer for the HEPEK wallet `device`: signs the terms (exact Wh and the
   * offer's price) and a permit for the escrow, and relays both. Refuses before signing when the
   * offer's price is above `maxPricePerKWh`.
   */
  async buy(
    device: TypedDataSigner & { address: string },
    offerId: bigint,
    wattHours: bigint,
    maxPricePerKWh?: bigint,
  ): Promise<{ escrow: bigint }> {
    const offer = await this.offer(offerId);
    const price = BigInt(offer.pricePerKWh);
    if (maxPricePerKWh !== undefined && price > maxPricePerKWh)
      throw new InputError(
        'pricePerKWh',
        price,
        `at most the limit ${maxPricePerKWh} ERGON base units per kWh`,
      );
    if (wattHours <= 0n || wattHours > BigInt(offer.availableWh))
      throw new InputError('wattHours', wattHours, `1 to ${offer.availableWh} Wh (left on offer ${offerId})`);
    return this.buyTerms(device, {
      offerId,
      wattHours,
      buyerWallet: device.address,
      pricePerKWh: price,
      nonce: await this.market.buyNonces(device.address),
      deadline: BigInt(offer.expiry),
    });
  }

  /**
   * Takes exactly `terms` for the HEPEK wallet `device` (its address must be `terms.buyerWallet`):
   * signs them and a permit for the escrow (valid until `terms.deadline`), and relays both.
   */
  async buyTerms(device: TypedDataSigner & { address: string }, terms: Buy): Promise<{ escrow: bigint }> {
    if (terms.buyerWallet.toLowerCase() !== device.address.toLowerCase())
      throw new InputError('buyerWallet', terms.buyerWallet, `this HEPEK wallet ${device.address}`);
    const escrow = costOf(terms.wattHours, terms.pricePerKWh);
    const sig = await signBuy(device, this.where, terms);
    const permit = await signPermit(device, {
      chainId: this.options.chainId,
      token: this.options.token,
      owner: device.address,
      spender: this.options.market,
      value: escrow,
      nonce: await this.token.nonces(device.address),
      deadline: terms.deadline,
    });
    await this.send(() => this.market.buyFor(terms, sig.r, sig.vs, permit));
    return { escrow };
  }

  /** Proves an offer's delivery with two accepted readings of the seller's device. */
  async prove(offerId: bigint, startSeq: bigint, endSeq: bigint): Promise<number> {
    const receipt = await this.send(() => this.market.proveDelivery(offerId, startSeq, endSeq));
    return Number(this.eventArg(receipt, 'DeliveryProven', 'deliveredWh'));
  }

  /** Settles every unsettled buyer of an offer (or only `buyer`); returns what each got. */
  async settle(offerId: bigint, buyer?: string): Promise<SettlementView[]> {
    const buyers = buyer ? [buyer] : [...(await this.market.buyersOf(offerId))];
    const out: SettlementView[] = [];
    for (const b of buyers) {
      if ((await this.market.positionOf(offerId, b)).wattHours === 0n) continue;
      const receipt = await this.send(() => this.market.settle(offerId, b));
      const refunded = this.eventArgOrNull(receipt, 'EscrowRefunded', 'amount') ?? 0n;
      out.push({
        offerId: Number(offerId),
        buyerWallet: b,
        deliveredWh: Number(this.eventArg(receipt, 'OfferSettled', 'deliveredWh')),
        paid: String(this.eventArg(receipt, 'OfferSettled', 'paid')),
        refunded: String(refunded),
      });
    }
    return out;
  }

  /** Sends a transaction and waits; a revert becomes an InputError naming the contract's error. */
  private async send(tx: () => Promise<{ wait(): Promise<ContractTransactionReceipt | null> }>) {
    try {
      const receipt = await (await tx()).wait();
      if (!receipt) throw new StateError('market', 'no receipt');
      return receipt;
    } catch (err) {
      if (!isRevert(err)) throw err;
      const data = (err as { data?: string }).data;
      const parsed = data ? this.market.interface.parseError(data) : null;
      const reason = parsed ? `${parsed.name}(${parsed.args.join(', ')})` : (err as Error).message;
      throw new InputError('market', reason, 'a transaction EnergyMarket accepts', { cause: err });
    }
  }

  private eventArgOrNull(receipt: ContractTransactionReceipt, event: string, arg: string): unknown {
    const address = this.options.market.toLowerCase();
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== address) continue;
      const parsed = this.market.interface.parseLog(log);
      if (parsed?.name === event) return parsed.args[arg] as unknown;
    }
    return null;
  }

  private eventArg(receipt: ContractTransactionReceipt, event: string, arg: string): unknown {
    const value = this.eventArgOrNull(receipt, event, arg);
    if (value === null) throw new StateError('market', `the transaction emitted no ${event}`);
    return value;
  }
}
