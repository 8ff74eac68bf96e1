/**
 * ONNX export of the shipped forecasters (built with onnx-proto, run with onnxruntime-node), in
 * double precision so the graph reproduces the TypeScript model to rounding. A graph takes one
 * input `features` [N, p] (the LEAR feature layout, raw units) and has outputs `p10`, `p50`, `p90`
 * [N, 24]. asinh and sinh are written with Log/Exp/Sqrt because onnxruntime's Asinh/Sinh kernels
 * are float-only.
 */
import { onnx } from 'onnx-proto';
import { HOURS, type LinearBranch } from './lear';
import { type MlpModel } from './mlp';

const DOUBLE = onnx.TensorProto.DataType.DOUBLE;

/** Everything an exported price model holds; also its JSON form (`model.json`) for the TypeScript side. */
export interface PriceModel {
  p: number;
  branches: LinearBranch[];
  mlp: MlpModel[];
  mlpWeight: number;
  /** P10 and P90 offsets from P50 per hour, price unit. */
  bandLow: Float64Array;
  bandHigh: Float64Array;
}

/** The model's P10/P50/P90 for one feature row, in TypeScript (the reference the ONNX graph must equal). */
export function predictPriceModel(model: PriceModel, x: ArrayLike<number>, offset = 0) {
  const lear = new Float64Array(HOURS);
  for (const b of model.branches) {
    const f = linearForward(b, x, offset);
    for (let h = 0; h < HOURS; h++) lear[h] = lear[h]! + f[h]! / model.branches.length;
  }
  const p50 = Float64Array.from(lear);
  if (model.mlp.length > 0) {
    const mlp = new Float64Array(HOURS);
    for (const m of model.mlp) {
      const f = mlpForward(m, x, offset);
      for (let h = 0; h < HOURS; h++) mlp[h] = mlp[h]! + f[h]! / model.mlp.length;
    }
    for (let h = 0; h < HOURS; h++) p50[h] = (1 - model.mlpWeight) * lear[h]! + model.mlpWeight * mlp[h]!;
  }
  const p10 = p50.map((v, h) => v + model.bandLow[h]!);
  const p90 = p50.map((v, h) => v + model.bandHigh[h]!);
  return { p10, p50, p90 };
}

function transform(
  center: Float64Array,
  scale: Float64Array,
  mask: Uint8Array,
  x: ArrayLike<number>,
  o: number,
) {
  const z = new Float64Array(center.length);
  for (let j = 0; j < z.length; j++) {
    const v = x[o + j]!;
    z[j] = mask[j] ? Math.asinh((v - center[j]!) / scale[j]!) : v;
  }
  return z;
}

function linearForward(b: LinearBranch, x: ArrayLike<number>, o: number): Float64Array {
  const z = transform(b.xCenter, b.xScale, b.transformed, x, o);
  const out = new Float64Array(HOURS);
  for (let h = 0; h < HOURS; h++) {
    let u = b.bias[h]!;
    for (let j = 0; j < b.p; j++) u += b.weights[h * b.p + j]! * z[j]!;
    out[h] = Math.sinh(u) * b.yScale[h]! + b.yCenter[h]!;
  }
  return out;
}

function mlpForward(m: MlpModel, x: ArrayLike<number>, o: number): Float64Array {
  let a = transform(m.xCenter, m.xScale, m.transformed, x, o);
  const hidden = (w: Float64Array, bias: Float64Array, rows: number) => {
    const cols = a.length;
    const s = new Float64Array(rows);
    for (let k = 0; k < rows; k++) {
      let v = bias[k]!;
      for (let j = 0; j < cols; j++) v += w[k * cols + j]! * a[j]!;
      s[k] = v > 0 ? v : 0;
    }
    a = s;
  };
  hidden(m.w1, m.b1, m.hidden);
  if (m.hidden2 > 0) hidden(m.wh, m.bh, m.hidden2);
  const last = a.length;
  const out = new Float64Array(HOURS);
  for (let h = 0; h < HOURS; h++) {
    let s = m.b2[h]!;
    for (let k = 0; k < last; k++) s += m.w2[h * last + k]! * a[k]!;
    out[h] = Math.sinh(s) * m.yScale[h]! + m.yCenter[h]!;
  }
  return out;
}

class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private counter = 0;

  name(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  constant(values: ArrayLike<number>, dims: number[], prefix = 'c'): string {
    const name = this.name(prefix);
    const data = Float64Array.from(values as ArrayLike<number>);
    this.initializers.push({
      name,
      dims,
      dataType: DOUBLE,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  op(opType: string, inputs: string[], output?: string): string {
    const out = output ?? this.name(opType.toLowerCase());
    this.nodes.push({ opType, input: inputs, output: [out], name: this.name(`n_${opType}`) });
    return out;
  }

  /** asinh(t) = sign(t)·log(|t| + sqrt(t² + 1)), stable for large negative t. */
  asinh(t: string): string {
    const one = this.constant([1], [], 'one');
    const abs = this.op('Abs', [t]);
    const root = this.op('Sqrt', [this.op('Add', [this.op('Mul', [abs, abs]), one])]);
    return this.op('Mul', [this.op('Sign', [t]), this.op('Log', [this.op('Add', [abs, root])])]);
  }

  /** sinh(u) = (exp(u) − exp(−u)) / 2. */
  sinh(u: string): string {
    const half = this.constant([0.5], [], 'half');
    const diff = this.op('Sub', [this.op('Exp', [u]), this.op('Exp', [this.op('Neg', [u])])]);
    return this.op('Mul', [diff, half]);
  }

  /** The transformed inputs: asinh((x − c)/s) where mask, x elsewhere. */
  transform(x: string, center: Float64Array, scale: Float64Array, mask: Uint8Array): string {
    const c = this.constant(
      center.map((v, j) => (mask[j] ? v : 0)),
      [center.length],
    );
    const s = this.constant(
      scale.map((v, j) => (mask[j] ? v : 1)),
      [scale.length],
    );
    const m = this.constant(Float64Array.from(mask), [mask.length], 'mask');
    const keep = this.constant(
      Float64Array.from(mask, (v) => 1 - v),
      [mask.length],
      'keep',
    );
    const t = this.asinh(this.op('Div', [this.op('Sub', [x, c]), s]));
    return this.op('Add', [this.op('Mul', [t, m]), this.op('Mul', [x, keep])]);
  }

  /** x·Wᵀ + b for W stored rows×cols row-major (ONNX MatMul wants cols×rows). */
  dense(x: string, w: Float64Array, rows: number, cols: number, b: Float64Array): string {
    const t = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c]!;
    return this.op('Add', [
      this.op('MatMul', [x, this.constant(t, [cols, rows], 'w')]),
      this.constant(b, [rows], 'b'),
    ]);
  }

  untransformY(u: string, yScale: Float64Array, yCenter: Float64Array): string {
    return this.op('Add', [
      this.op('Mul', [this.sinh(u), this.constant(yScale, [HOURS], 'ys')]),
      this.constant(yCenter, [HOURS], 'yc'),
    ]);
  }
}

function valueInfo(name: string, width: number): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: { elemType: DOUBLE, shape: { dim: [{ dimParam: 'N' }, { dimValue: width }] } },
    },
  };
}

/** Serialises the model to ONNX bytes (opset 13). `metadata` lands in the model's metadata_props. */
export function exportPriceModel(model: PriceModel, metadata: Record<string, string> = {}): Uint8Array {
  const g = new GraphBuilder();
  const x = 'features';
  const average = (outputs: string[]): string => {
    let sum = outputs[0]!;
    for (const o of outputs.slice(1)) sum = g.op('Add', [sum, o]);
    return g.op('Mul', [sum, g.constant([1 / outputs.length], [], 'inv')]);
  };
  const lear = average(
    model.branches.map((b) => {
      const z = g.transform(x, b.xCenter, b.xScale, b.transformed);
      return g.untransformY(g.dense(z, b.weights, HOURS, b.p, b.bias), b.yScale, b.yCenter);
    }),
  );
  let p50: string;
  if (model.mlp.length > 0) {
    const mlp = average(
      model.mlp.map((m) => {
        const z = g.transform(x, m.xCenter, m.xScale, m.transformed);
        let a = g.op('Relu', [g.dense(z, m.w1, m.hidden, m.p, m.b1)]);
        if (m.hidden2 > 0) a = g.op('Relu', [g.dense(a, m.wh, m.hidden2, m.hidden, m.bh)]);
        const last = m.hidden2 > 0 ? m.hidden2 : m.hidden;
        return g.untransformY(g.dense(a, m.w2, HOURS, last, m.b2), m.yScale, m.yCenter);
      }),
    );
    p50 = g.op(
      'Add',
      [
        g.op('Mul', [lear, g.constant([1 - model.mlpWeight], [], 'wl')]),
        g.op('Mul', [mlp, g.constant([model.mlpWeight], [], 'wm')]),
      ],
      'p50',
    );
  } else p50 = g.op('Identity', [lear], 'p50');
  g.op('Add', [p50, g.constant(model.bandLow, [HOURS], 'lo')], 'p10');
  g.op('Add', [p50, g.constant(model.bandHigh, [HOURS], 'hi')], 'p90');
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'hepek forecast train',
    opsetImport: [{ domain: '', version: 13 }],
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'hepek_price_forecast',
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(x, model.p)],
      output: [valueInfo('p10', HOURS), valueInfo('p50', HOURS), valueInfo('p90', HOURS)],
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}

// JSON form: typed arrays as plain arrays, so the TypeScript model can be rebuilt from the file.
export function priceModelToJson(model: PriceModel): unknown {
  const plain = (v: unknown): unknown =>
    ArrayBuffer.isView(v)
      ? Array.from(v as Float64Array)
      : Array.isArray(v)
        ? v.map(plain)
        : typeof v === 'object' && v !== null
          ? Object.fromEntries(
              Object.entries(v)
                .filter(([k]) => k !== 'warm')
                .map(([k, x]) => [k, plain(x)]),
            )
          : v;
  return plain(model);
}

export function priceModelFromJson(json: unknown): PriceModel {
  const j = json as Record<string, unknown>;
  const f = (v: unknown) => Float64Array.from(v as number[]);
  const u = (v: unknown) => Uint8Array.from(v as number[]);
  const branch = (b: Record<string, unknown>): LinearBranch => ({
    p: b.p as number,
    xCenter: f(b.xCenter),
    xScale: f(b.xScale),
    transformed: u(b.transformed),
    weights: f(b.weights),
    bias: f(b.bias),
    yCenter: f(b.yCenter),
    yScale: f(b.yScale),
    windowDays: b.windowDays as number,
    lambdas: f(b.lambdas),
  });
  const mlp = (m: Record<string, unknown>): MlpModel => ({
    p: m.p as number,
    hidden: m.hidden as number,
    // Models written before the second hidden layer existed have one.
    hidden2: (m.hidden2 as number | undefined) ?? 0,
    xCenter: f(m.xCenter),
    xScale: f(m.xScale),
    transformed: u(m.transformed),
    w1: f(m.w1),
    b1: f(m.b1),
    wh: f(m.wh ?? []),
    bh: f(m.bh ?? []),
    w2: f(m.w2),
    b2: f(m.b2),
    yCenter: f(m.yCenter),
    yScale: f(m.yScale),
    seed: m.seed as number,
  });
  return {
    p: j.p as number,
    branches: (j.branches as Record<string, unknown>[]).map(branch),
    mlp: (j.mlp as Record<string, unknown>[]).map(mlp),
    mlpWeight: j.mlpWeight as number,
    bandLow: f(j.bandLow),
    bandHigh: f(j.bandHigh),
  };
}
