/**
 * The gateway's price forecaster: a shipped ONNX model (models/<name>/model.onnx with its card)
 * fed from plain hourly arrays. Used by the `hepek-price-forecast` node; the optimiser can call it
 * the same way.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError, StateError } from '../errors';
import { packageRoot } from '../paths';
import { OnnxPriceModel, type QuantileForecast } from './inference';
import { featureCount, HOURS, weekday, writeFeatures } from './lear';
import { type ModelCard } from './train';

/** The model shipped by default: Nord Pool, trained on the whole epftoolbox NP dataset. */
export const DEFAULT_PRICE_MODEL = 'models/price-np/model.onnx';

export interface PriceForecastRequest {
  /** The forecast day, `YYYY-MM-DD`. */
  date: string;
  /** Hourly prices (price per MWh) of at least the 7 days before `date`, oldest first, ending at 23:00 of the day before. */
  prices: number[];
  /** One array per exogenous series (MW): at least 8 days of hourly values, ending at 23:00 of `date` itself. */
  exogenous: number[][];
}

export interface PriceForecast extends QuantileForecast {
  date: string;
  unit: string;
  model: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function numbers(value: unknown, field: string, min: number): number[] {
  if (!Array.isArray(value) || value.length < min)
    throw new InputError(field, value, `an array of at least ${min} hourly numbers`);
  value.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new InputError(`${field}[${i}]`, v, 'a finite number');
  });
  return value as number[];
}

/** The model's feature row for a request, or an InputError naming the field. */
export function requestFeatures(request: unknown, nExog: number, field = 'payload'): Float64Array {
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    throw new InputError(field, request, 'an object {date, prices, exogenous}');
  const r = request as Partial<PriceForecastRequest>;
  if (typeof r.date !== 'string' || !DATE.test(r.date) || Number.isNaN(Date.parse(r.date)))
    throw new InputError(`${field}.date`, r.date, 'the forecast day as YYYY-MM-DD');
  const prices = numbers(r.prices, `${field}.prices`, 7 * HOURS);
  if (!Array.isArray(r.exogenous) || r.exogenous.length !== nExog)
    throw new InputError(
      `${field}.exogenous`,
      r.exogenous,
      `an array of ${nExog} exogenous series (the model's inputs)`,
    );
  const exog = r.exogenous.map((s, e) => numbers(s, `${field}.exogenous[${e}]`, 8 * HOURS));
  const out = new Float64Array(featureCount(nExog));
  writeFeatures(prices, exog, weekday(r.date), out);
  return out;
}

export class PriceForecastService {
  private constructor(
    private readonly model: OnnxPriceModel,
    readonly card: ModelCard,
    readonly file: string,
  ) {}

  /** Opens a model.onnx (relative paths are from the package root) and the card.json beside it. */
  static async open(file = DEFAULT_PRICE_MODEL): Promise<PriceForecastService> {
    const full = path.isAbsolute(file) ? file : path.join(packageRoot(), file);
    const cardFile = path.join(path.dirname(full), 'card.json');
    let card: ModelCard;
    try {
      card = JSON.parse(readFileSync(cardFile, 'utf8')) as ModelCard;
    } catch (err) {
      throw new StateError(cardFile, 'is missing or not JSON; every model ships with its card', {
        cause: err,
      });
    }
    return new PriceForecastService(await OnnxPriceModel.open(full), card, full);
  }

  /** Number of exogenous series the model expects. */
  get exogenousCount(): number {
    return (this.card.inputs.shape[1] as number) === featureCount(0)
      ? 0
      : ((this.card.inputs.shape[1] as number) - featureCount(0)) / (3 * HOURS);
  }

  async forecast(request: unknown, field = 'payload'): Promise<PriceForecast> {
    const features = requestFeatures(request, this.exogenousCount, field);
    const [q] = await this.model.run(features);
    return { date: (request as PriceForecastRequest).date, ...q!, unit: 'per MWh', model: this.card.name };
  }

  async close(): Promise<void> {
    await this.model.close();
  }
}
