/** Pure logic of `hepek-price-forecast`: its config, its status and the message it sends. */
import { ConfigError } from '../../gateway/errors';
import { DEFAULT_PRICE_MODEL, type PriceForecast } from '../../gateway/forecast/service';
import type { NodeMessage, NodeStatus } from '../shared/red';

export interface PriceForecastConfig {
  /** model.onnx path; relative paths are from HEPEK's package root. */
  model: string;
}

export function priceForecastConfig(def: { model?: unknown }): PriceForecastConfig {
  const raw = def.model;
  if (raw === undefined || raw === '') return { model: DEFAULT_PRICE_MODEL };
  if (typeof raw !== 'string' || !raw.trim().endsWith('.onnx'))
    throw new ConfigError('model', raw, 'a path to a model.onnx (blank for the shipped Nord Pool model)');
  return { model: raw.trim() };
}

export function forecastStatus(forecast: PriceForecast): NodeStatus {
  const mean = forecast.p50.reduce((a, b) => a + b, 0) / forecast.p50.length;
  return { fill: 'green', shape: 'dot', text: `${forecast.date}: mean ${mean.toFixed(1)} ${forecast.unit}` };
}

/** The incoming message with the forecast as payload (the request moves to msg.request). */
export function forecastMessage(msg: NodeMessage, forecast: PriceForecast): NodeMessage {
  msg.request = msg.payload;
  msg.topic = msg.topic ?? 'price-forecast';
  msg.payload = forecast;
  return msg;
}
