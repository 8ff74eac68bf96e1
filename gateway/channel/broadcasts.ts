/**
 * What a gateway does with the hub's retained broadcasts (docs/money-path.md "Hub-signed
 * structs"): tariffs it bills on and DEMAND events it acts on, each checked with
 * gateway/hub/protocol.ts's verifiers before it counts. Pure: no MQTT, no clock — callers pass the
 * payload and "now" (the simulator's clock when the meter is simulated).
 */
import type { TypedDataDomain } from 'ethers';
import type { Tariff } from '../chain/typed-data';
import { isDemandActive, type DemandEvent } from '../demand/types';
import { decodeJson, tariffInForce, verifyDemand, verifyTariff, type HubTrust } from '../hub/protocol';
import type { PriceAt } from './payer';

/** The verified tariffs of a region, newest `validFrom` first; the payer's price source. */
export class TariffBook {
  private tariffs: Tariff[] = [];
  /** Why the last broadcast was ignored, or null. */
  lastRefusal: string | null = null;

  constructor(private readonly domain: TypedDataDomain) {}

  /** Verifies a retained tariff payload; returns the tariff, or null (and the reason) when ignored. */
  accept(payload: Buffer | string, trust: HubTrust): Tariff | null {
    try {
      const tariff = verifyTariff(this.domain, decodeJson(payload, 'tariff'), trust);
      this.tariffs = [tariff, ...this.tariffs.filter((t) => t.id !== tariff.id)]
        .sort((a, b) => b.validFrom - a.validFrom)
        // Keep the current one and what is coming; an old one is never in force again.
        .slice(0, 8);
      this.lastRefusal = null;
      return tariff;
    } catch (err) {
      this.lastRefusal = (err as Error).message;
      return null;
    }
  }

  /** The known tariffs, newest validFrom first. */
  list(): readonly Tariff[] {
    return this.tariffs;
  }

  /** The price of a cycle that ends at `timeS` (unix seconds), or null when no tariff has begun. */
  readonly priceAt: PriceAt = (timeS) => {
    const found = tariffInForce(this.tariffs, timeS);
    return found ? { tariffId: found.tariff.id, weiPerKWh: found.weiPerKWh } : null;
  };
}

/** What a DEMAND broadcast came to: a verified event, a cleared topic, or an ignored message. */
export type DemandVerdict =
  { kind: 'event'; event: DemandEvent } | { kind: 'cleared' } | { kind: 'ignored'; reason: string };

/** Checks a retained `hepek/hub/demand/<region>` payload; forged, expired or foreign events are ignored. */
export function judgeDemand(
  domain: TypedDataDomain,
  payload: Buffer | string,
  trust: HubTrust,
): DemandVerdict {
  if (payload.length === 0) return { kind: 'cleared' };
  try {
    return { kind: 'event', event: verifyDemand(domain, decodeJson(payload, 'demand'), trust) };
  } catch (err) {
    return { kind: 'ignored', reason: (err as Error).message };
  }
}

/** The DEMAND state at `nowS`: active inside [start, end) of an unexpired event with level > 0. */
export interface DemandState {
  active: boolean;
  event: DemandEvent | null;
}

export function demandStateAt(event: DemandEvent | null, nowS: number): DemandState {
  return { active: event !== null && isDemandActive(event, nowS), event };
}

/**
 * The verified DEMAND feed of one region: every retained payload is judged (hub signature, expiry,
 * region) before it replaces the current event; an ignored one keeps the current event and is
 * reported with its reason. Listeners see every verdict.
 */
export class DemandFeed {
  private event: DemandEvent | null = null;
  /** Why the last broadcast was ignored, or null. */
  lastIgnored: string | null = null;
  private readonly listeners = new Set<(verdict: DemandVerdict) => void>();

  constructor(
    private readonly domain: TypedDataDomain,
    private readonly trust: () => HubTrust,
    private readonly onListenerError: (err: Error) => void = () => {},
  ) {}

  accept(payload: Buffer | string): DemandVerdict {
    const verdict = judgeDemand(this.domain, payload, this.trust());
    if (verdict.kind === 'event') this.event = verdict.event;
    else if (verdict.kind === 'cleared') this.event = null;
    else this.lastIgnored = verdict.reason;
    for (const listener of this.listeners) {
      try {
        listener(verdict);
      } catch (err) {
        this.onListenerError(err as Error);
      }
    }
    return verdict;
  }

  current(): DemandEvent | null {
    return this.event;
  }

  stateAt(nowS: number): DemandState & { lastIgnored: string | null } {
    return { ...demandStateAt(this.event, nowS), lastIgnored: this.lastIgnored };
  }

  subscribe(listener: (verdict: DemandVerdict) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
