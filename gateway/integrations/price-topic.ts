/**
 * The `hepek/<serial>/price` payload (gateway/integrations/topics.ts) from the gateway's price feed:
 * the price of the hour in force, the next hour's (the published day-ahead price, else the
 * forecast's P50) and the forecast from this hour on. ERGON/kWh (1 ERGON buys 1 kWh at the
 * reference tariff; prices come in per MWh, DESIGN.md §2), times ISO 8601.
 */
import type { PricePoint, PricesResponse } from '../web/api';

export interface PricePayload {
  currentErgonPerKWh: number | null;
  nextErgonPerKWh: number | null;
  /** Whether `nextErgonPerKWh` is the published price or the forecast. */
  nextSource: 'published' | 'forecast' | null;
  forecast: Array<{ start: string; ergonPerKWh: number }>;
}

const HOUR_MS = 3_600_000;

function at(points: PricePoint[], ms: number): number | null {
  const p = points.find((x) => Date.parse(x.start) === ms);
  return p ? p.priceEurPerMWh / 1000 : null;
}

/** The payload at `nowMs` on the meter's clock. */
export function pricePayload(feed: PricesResponse, nowMs: number): PricePayload {
  const hour = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
  const published = at(feed.prices, hour + HOUR_MS);
  const forecastNext = at(feed.forecast, hour + HOUR_MS);
  return {
    currentErgonPerKWh: at(feed.prices, hour),
    nextErgonPerKWh: published ?? forecastNext,
    nextSource: published !== null ? 'published' : forecastNext !== null ? 'forecast' : null,
    forecast: feed.forecast
      .filter((p) => Date.parse(p.start) >= hour)
      .map((p) => ({ start: p.start, ergonPerKWh: p.priceEurPerMWh / 1000 })),
  };
}
