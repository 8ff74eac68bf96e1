/**
 * Running an exported price model in onnxruntime-node (CPU). Loaded lazily so that code paths
 * without a model never pay for the native addon.
 */
import { readFileSync } from 'node:fs';
import { InputError, StateError } from '../errors';
import { HOURS } from './lear';

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

let ort: Ort | null = null;
function runtime(): Ort {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ort ??= require('onnxruntime-node') as Ort;
  return ort;
}

export interface QuantileForecast {
  p10: number[];
  p50: number[];
  p90: number[];
}

export class OnnxPriceModel {
  private constructor(
    private readonly session: Session,
    readonly featureCount: number,
  ) {}

  /** Opens model bytes or a model.onnx path. */
  static async open(source: string | Uint8Array): Promise<OnnxPriceModel> {
    const bytes = typeof source === 'string' ? readModel(source) : source;
    let session: Session;
    try {
      session = await runtime().InferenceSession.create(bytes, {
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
      });
    } catch (err) {
      throw new StateError(typeof source === 'string' ? source : 'model', 'is not a loadable ONNX model', {
        cause: err,
      });
    }
    const meta = session.inputMetadata?.[0] as { shape?: (number | string)[] } | undefined;
    const width = Number(meta?.shape?.[1]);
    return new OnnxPriceModel(session, Number.isFinite(width) ? width : NaN);
  }

  /** Forecasts for `rows` feature rows laid out one after the other in `features`. */
  async run(features: Float64Array, rows = 1): Promise<QuantileForecast[]> {
    const p = features.length / rows;
    if (!Number.isInteger(p) || (Number.isFinite(this.featureCount) && p !== this.featureCount))
      throw new InputError(
        'features',
        `${features.length} values for ${rows} row(s)`,
        `${this.featureCount} per row`,
      );
    const input = new (runtime().Tensor)('float64', features, [rows, p]);
    const out = await this.session.run({ features: input });
    const take = (name: string, r: number) =>
      Array.from((out[name]!.data as Float64Array).subarray(r * HOURS, (r + 1) * HOURS));
    return Array.from({ length: rows }, (_, r) => ({
      p10: take('p10', r),
      p50: take('p50', r),
      p90: take('p90', r),
    }));
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

function readModel(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new StateError(file, 'cannot be read', { cause: err });
  }
}
