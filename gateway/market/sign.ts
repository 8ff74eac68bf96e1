/**
 * What a seller's device and a buyer's HEPEK wallet sign for EnergyMarket, and the market's units.
 * The structs come from typed-data.ts (the one definition); this adds the domain, the compact
 * signature form the contract takes and the cost rule it applies.
 */
import type { TypedDataDomain } from 'ethers';
import { InputError } from '../errors';
export { costOf } from './offer';
import { compact, type CompactSignature } from '../chain/channels';
import {
  domainOf,
  signStruct,
  type Buy,
  type Cancel,
  type Offer,
  type TypedDataSigner,
} from '../chain/typed-data';

/** Where a market lives: its chain id and address (the EIP-712 domain). */
export interface MarketDeployment {
  chainId: bigint | number;
  /** EnergyMarket address. */
  market: string;
}

/** The EIP-712 domain of an EnergyMarket deployment. */
export function marketDomain(d: MarketDeployment): TypedDataDomain {
  return domainOf('market', d.chainId, d.market);
}

/** Signs an `Offer` with the seller's device key, for EnergyMarket.listFor (relayed by anyone). */
export async function signOffer(
  device: TypedDataSigner,
  d: MarketDeployment,
  offer: Offer,
): Promise<CompactSignature> {
  if (offer.wattHours <= 0n) throw new InputError('offer.wattHours', offer.wattHours, 'Wh > 0');
  if (offer.pricePerKWh <= 0n)
    throw new InputError('offer.pricePerKWh', offer.pricePerKWh, 'ERGON base units per kWh > 0');
  if (!(offer.deliveryStart < offer.deliveryEnd))
    throw new InputError(
      'offer.deliveryEnd',
      offer.deliveryEnd,
      `unix seconds after deliveryStart ${offer.deliveryStart}`,
    );
  if (offer.expiry > offer.deliveryStart)
    throw new InputError('offer.expiry', offer.expiry, `unix seconds ≤ deliveryStart ${offer.deliveryStart}`);
  return compact(await signStruct(device, 'Offer', marketDomain(d), offer));
}

/** Signs a `Cancel` with the seller's device key, for EnergyMarket.cancelFor. */
export async function signCancel(
  device: TypedDataSigner,
  d: MarketDeployment,
  cancel: Cancel,
): Promise<CompactSignature> {
  return compact(await signStruct(device, 'Cancel', marketDomain(d), cancel));
}

/** Signs `Buy` terms with the buyer's HEPEK wallet (device key), for EnergyMarket.buyFor. */
export async function signBuy(
  device: TypedDataSigner,
  d: MarketDeployment,
  buy: Buy,
): Promise<CompactSignature> {
  if (buy.wattHours <= 0n) throw new InputError('buy.wattHours', buy.wattHours, 'Wh > 0');
  return compact(await signStruct(device, 'Buy', marketDomain(d), buy));
}
