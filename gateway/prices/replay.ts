/**
 * A day-ahead price feed for the simulated household: replays a real hourly price dataset (the
 * epftoolbox layout, e.g. `../shared/data/prices/NP.csv`) on the meter's clock, the way the
 * simulator replays a real load profile. The day the replay began on the meter's clock is dataset
 * day `startDate` (default: the dataset's first day with 7 days of history), kept in `stateFile`
 * so a restart continues; past the dataset's end it starts over.
 *
 * Like a real day-ahead market, tomorrow's prices are known only from `publishHour` (13:00) on;
 * until then the forecaster fills tomorrow in. The forecast of day d uses only what was known
 * before d's auction: the 7 days of prices before d and the exogenous day-ahead series up to d
 * (the model's own no-leakage contract, gateway/forecast/service.ts).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors';
import { readDataset, type PriceDataset } from '../forecast/dataset';
import { HOURS } from '../forecast/lear';
import type { PriceForecastService } from '../forecast/service';
import type { PricePoint, PricesResponse } from '../web/api';

const DAY_MS = 86_400_000;
/** Days of history a forecast needs: prices of the 7 days before, exogenous 8 days up to d. */
const HISTORY_DAYS = 7;

export interface PriceReplayOptions {
  file: string;
  /** The dataset day the replay starts at, `YYYY-MM-DD`; null = its first usable day. */
  startDate: string | null;
  /** Where the meter-clock day the replay began is kept (JSON `{simStartDay, startDate}`). */
  stateFile: string;
  /** The meter's clock, ms since the epoch. */
  nowMs: () => number;
  /** The forecaster; null = prices only. */
  forecaster: PriceForecastService | null;
  /** The hour (meter clock, UTC) from which tomorrow's prices are published. Default 13. */
  publishHour?: number;
}

/** A `sim.priceFile` setting as a path: the shared datasets by market name, else the path itself. */
export function resolvePriceFile(setting: string, dataDir: string): string {
  return /^(NP|PJM|BE)$/.test(setting) ? path.join(dataDir, 'prices', `${setting}.csv`) : setting;
}

export class PriceReplay {
  private readonly forecasts = new Map<number, PricePoint[]>();

  private constructor(
    private readonly data: PriceDataset,
    private readonly options: PriceReplayOptions,
    private readonly simStartDay: number,
    private readonly startIndex: number,
  ) {}

  static open(options: PriceReplayOptions): PriceReplay {
    let data: PriceDataset;
    try {
      data = readDataset(options.file);
    } catch (err) {
      throw new ConfigError(
        'sim.priceFile',
        options.file,
        'a readable hourly price CSV in the epftoolbox layout',
        {
          cause: err,
        },
      );
    }
    if (data.days.length < HISTORY_DAYS + 2)
      throw new ConfigError('sim.priceFile', options.file, `a dataset of at least ${HISTORY_DAYS + 2} days`);
    let startIndex = HISTORY_DAYS;
    if (options.startDate !== null) {
      startIndex = data.days.indexOf(options.startDate);
      if (startIndex < HISTORY_DAYS)
        throw new ConfigError(
          'sim.priceStartDate',
          options.startDate,
          `a day of the dataset with 7 days before it (${data.days[HISTORY_DAYS]} .. ${data.days.at(-1)})`,
        );
    }
    let simStartDay = Math.floor(options.nowMs() / DAY_MS);
    if (existsSync(options.stateFile)) {
      try {
        const state = JSON.parse(readFileSync(options.stateFile, 'utf8')) as {
          simStartDay?: number;
          startDate?: string | null;
        };
        if (Number.isSafeInteger(state.simStartDay) && (state.startDate ?? null) === options.startDate)
          simStartDay = state.simStartDay!;
      } catch {
        // A damaged state file: start the replay over from today.
      }
    }
    writeFileSync(options.stateFile, `${JSON.stringify({ simStartDay, startDate: options.startDate })}\n`);
    return new PriceReplay(data, options, simStartDay, startIndex);
  }

  /** The unit of the dataset's prices. */
  get unit(): string {
    return 'per MWh';
  }

  /** Dataset day index for a meter-clock day (days since the epoch). */
  datasetDay(simDay: number): number {
    const usable = this.data.days.length - HISTORY_DAYS;
    const offset =
      (((simDay - this.simStartDay + this.startIndex - HISTORY_DAYS) % usable) + usable) % usable;
    return HISTORY_DAYS + offset;
  }

  private dayPoints(simDay: number, values: ArrayLike<number>): PricePoint[] {
    const out: PricePoint[] = [];
    for (let h = 0; h < HOURS; h++)
      if (Number.isFinite(values[h]!))
        out.push({
          start: new Date(simDay * DAY_MS + h * 3_600_000).toISOString(),
          priceEurPerMWh: values[h]!,
        });
    return out;
  }

  private pricesOf(simDay: number): Float64Array {
    const d = this.datasetDay(simDay);
    return this.data.prices.subarray(d * HOURS, (d + 1) * HOURS);
  }

  /** The price in force at `ms` on the meter's clock (per MWh). */
  priceAt(ms: number): number {
    const day = Math.floor(ms / DAY_MS);
    return this.pricesOf(day)[Math.floor((ms - day * DAY_MS) / 3_600_000)]!;
  }

  /** The price (and forecast, when there is one) of the hour starting at `ms`, in ERGON/kWh (1 ERGON = 1 EUR). */
  async hourPrice(ms: number): Promise<{ priceErgonPerKWh?: number; forecastErgonPerKWh?: number }> {
    const out: { priceErgonPerKWh?: number; forecastErgonPerKWh?: number } = {};
    const price = this.priceAt(ms);
    if (Number.isFinite(price)) out.priceErgonPerKWh = price / 1000;
    const day = Math.floor(ms / DAY_MS);
    const forecast = (await this.forecastDay(day)).find((p) => Date.parse(p.start) === ms);
    if (forecast) out.forecastErgonPerKWh = forecast.priceEurPerMWh / 1000;
    return out;
  }

  /** The forecaster's P50 for a meter-clock day, from what was known before its auction. */
  async forecastDay(simDay: number): Promise<PricePoint[]> {
    const cached = this.forecasts.get(simDay);
    if (cached) return cached;
    if (!this.options.forecaster) return [];
    const d = this.datasetDay(simDay);
    const prices = Array.from(this.data.prices.subarray((d - HISTORY_DAYS) * HOURS, d * HOURS));
    const exogenous = this.data.exog.map((series) =>
      Array.from(series.subarray((d - HISTORY_DAYS) * HOURS, (d + 1) * HOURS)),
    );
    // The dataset's own date: its weekday is the one the replayed prices follow.
    const date = this.data.days[d]!;
    const forecast = await this.options.forecaster.forecast({ date, prices, exogenous }, 'prices.forecast');
    const points = this.dayPoints(simDay, forecast.p50);
    this.forecasts.set(simDay, points);
    if (this.forecasts.size > 8) this.forecasts.delete(this.forecasts.keys().next().value!);
    return points;
  }

  /** Yesterday's and today's prices, tomorrow's once published; the forecast for today and tomorrow. */
  async prices(): Promise<PricesResponse> {
    const now = this.options.nowMs();
    const today = Math.floor(now / DAY_MS);
    const published = now - today * DAY_MS >= (this.options.publishHour ?? 13) * 3_600_000;
    const known = [today - 1, today, ...(published ? [today + 1] : [])].flatMap((day) =>
      this.dayPoints(day, this.pricesOf(day)),
    );
    const forecast = this.options.forecaster
      ? [...(await this.forecastDay(today)), ...(await this.forecastDay(today + 1))]
      : [];
    return {
      prices: known,
      forecast,
      forecastSource: this.options.forecaster ? this.options.forecaster.card.name : null,
    };
  }
}
