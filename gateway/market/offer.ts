/**
 * An EnergyMarket offer in JSON-safe form — what the CLI prints, the nodes pass on and the DApp
 * shows, and the cost rule the contract applies. No imports: the page's bundle uses it too.
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

/**
 * What `wattHours` cost at `pricePerKWh` (ERGON base units per kWh), rounded down — exactly the
 * escrow the contract pulls and the payment it makes for delivered Wh.
 */
export function costOf(wattHours: bigint, pricePerKWh: bigint): bigint {
  return (wattHours * pricePerKWh) / 1000n;
}
