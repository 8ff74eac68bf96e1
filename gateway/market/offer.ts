/**
 * An EnergyMarket offer in JSON-safe form — what the CLI prints, the nodes pass on and the DApp
 * shows. No imports: the page's bundle uses it too (gateway/web/api.ts).
 */
export interface OfferView {
  offerId: number;
  sellerDeviceId: string;
  sellerWallet: string;
  /** Wh on offer (listed less cancelled). */
  wattHours: number;
  takenWh: number;
  /** Wh still to take. */
  availableWh: number;
  /** ERGON base units per kWh, decimal string (uint256). */
  pricePerKWh: string;
  /** Unix seconds. */
  deliveryStart: number;
  deliveryEnd: number;
  expiry: number;
  proven: boolean;
  deliveredWh: number;
}
