/**
 * Forecast error metrics as the epftoolbox benchmark defines them (see ../shared/data/README.md).
 * All take hourly series of equal length; NaN pairs are refused, not skipped, so a metric never
 * silently covers fewer hours than the caller thinks.
 */

import { InputError } from '../errors';

function check(actual: ArrayLike<number>, forecast: ArrayLike<number>): void {
  if (actual.length === 0) throw new InputError('actual.length', 0, 'at least one value to score');
  if (actual.length !== forecast.length)
    throw new InputError('forecast.length', forecast.length, `${actual.length}, the length of actual`);
  for (let i = 0; i < actual.length; i++) {
    if (Number.isNaN(actual[i])) throw new InputError(`actual[${i}]`, actual[i], 'a number, not NaN');
    if (Number.isNaN(forecast[i])) throw new InputError(`forecast[${i}]`, forecast[i], 'a number, not NaN');
  }
}

/** Mean absolute error, in the price unit. */
export function mae(actual: ArrayLike<number>, forecast: ArrayLike<number>): number {
  check(actual, forecast);
  let sum = 0;
  for (let i = 0; i < actual.length; i++) sum += Math.abs(actual[i]! - forecast[i]!);
  return sum / actual.length;
}

/** Symmetric MAPE in %: mean of 2|y−ŷ|/(|y|+|ŷ|); a pair with y = ŷ = 0 counts as 0. */
export function smape(actual: ArrayLike<number>, forecast: ArrayLike<number>): number {
  check(actual, forecast);
  let sum = 0;
  for (let i = 0; i < actual.length; i++) {
    const den = Math.abs(actual[i]!) + Math.abs(forecast[i]!);
    if (den > 0) sum += (2 * Math.abs(actual[i]! - forecast[i]!)) / den;
  }
  return (100 * sum) / actual.length;
}

/**
 * Relative MAE: MAE of the forecast over the whole test period divided by the MAE of the weekly
 * seasonal-naive forecast (the price of the same hour one week earlier) over the test period with
 * its first week dropped, since the naive forecast needs that week. This reproduces the published
 * rMAE of the epftoolbox forecasts (NP DNN 0.407). Null when the period is one week or shorter.
 */
export function rmae(actual: ArrayLike<number>, forecast: ArrayLike<number>): number | null {
  check(actual, forecast);
  const week = 168;
  if (actual.length <= week) return null;
  let naive = 0;
  for (let i = week; i < actual.length; i++) naive += Math.abs(actual[i]! - actual[i - week]!);
  naive /= actual.length - week;
  return naive === 0 ? null : mae(actual, forecast) / naive;
}
