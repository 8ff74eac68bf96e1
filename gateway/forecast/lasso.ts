/**
 * LASSO by covariance coordinate descent: everything works on the Gram matrix G = XᵀX/n and
 * c = Xᵀy/n of centred data, so one Gram serves all 24 hourly targets and a coordinate update
 * costs O(p) only when the coefficient moves. The penalty is chosen along a geometric lambda path
 * (warm-started) by AIC in scikit-learn 0.24's form, n·MSE/var(y) + 2·df, which is what epftoolbox's
 * LEAR used (LassoLarsIC); the LARS knots are replaced by the grid.
 */

export interface GramSystem {
  /** Features. */
  p: number;
  /** Samples. */
  n: number;
  /** XᵀX / n of centred X, p×p row-major (full, symmetric). */
  gram: Float64Array;
}

export interface LassoOptions {
  /** Grid points from lambda_max down to lambda_max·minRatio. */
  nLambda: number;
  minRatio: number;
  /** Stop once AIC has risen this many grid points in a row (the curve is U-shaped). */
  patience: number;
  /** Convergence: largest coefficient step scaled by sqrt(G_jj). */
  tol: number;
  maxSweeps: number;
  /**
   * The penalty finally used is the AIC choice times this factor. epftoolbox picked the penalty
   * with LassoLarsIC on unit-norm columns and then fitted Lasso with that penalty on the unscaled
   * columns, which is 1/sqrt(n) of the chosen penalty in our scale; `shrink: 'sqrt-n'` reproduces it.
   */
  shrink: number | 'sqrt-n';
}

export const DEFAULT_LASSO: LassoOptions = {
  nLambda: 40,
  minRatio: 1e-4,
  patience: 6,
  tol: 1e-3,
  maxSweeps: 400,
  shrink: 'sqrt-n',
};

/**
 * Solves at one penalty starting from `start` (e.g. yesterday's coefficients for the same hour and
 * window): recalibrating daily then costs a few sweeps instead of a whole path.
 */
export function lassoAt(
  sys: GramSystem,
  cov: Float64Array,
  lambda: number,
  start: Float64Array | null,
  opts: LassoOptions = DEFAULT_LASSO,
): Float64Array {
  const { p, gram } = sys;
  const beta = start ? Float64Array.from(start) : new Float64Array(p);
  const r = Float64Array.from(cov);
  const active = new Uint8Array(p);
  for (let j = 0; j < p; j++)
    if (beta[j] !== 0) {
      active[j] = 1;
      const row = j * p;
      const b = beta[j]!;
      for (let i = 0; i < p; i++) r[i] = r[i]! - b * gram[row + i]!;
    }
  descend(sys, lambda, beta, r, active, opts);
  return beta;
}

/** Coordinate descent at one penalty, in place: full sweep, then the active set until it settles. */
function descend(
  sys: GramSystem,
  lambda: number,
  beta: Float64Array,
  r: Float64Array,
  active: Uint8Array,
  opts: LassoOptions,
): void {
  const { p, gram } = sys;
  let sweeps = 0;
  let full = true;
  while (sweeps++ < opts.maxSweeps) {
    let maxStep = 0;
    for (let j = 0; j < p; j++) {
      if (!full && !active[j]) continue;
      const gjj = gram[j * p + j]!;
      if (gjj <= 1e-12) continue;
      const old = beta[j]!;
      const z = r[j]! + gjj * old;
      const next = z > lambda ? (z - lambda) / gjj : z < -lambda ? (z + lambda) / gjj : 0;
      const delta = next - old;
      if (delta === 0) continue;
      beta[j] = next;
      active[j] = next !== 0 ? 1 : 0;
      const row = j * p;
      for (let i = 0; i < p; i++) r[i] = r[i]! - delta * gram[row + i]!;
      const scaled = Math.abs(delta) * Math.sqrt(gjj);
      if (scaled > maxStep) maxStep = scaled;
    }
    if (maxStep < opts.tol) {
      if (full) break; // a full sweep moved nothing: converged
      full = true; // the active set converged: check every coordinate once more
    } else full = false;
  }
}

export interface LassoFit {
  beta: Float64Array;
  lambda: number;
  nonzero: number;
}

/**
 * Fits one target: `cov` = Xᵀy/n and `yy` = yᵀy/n of the centred target. `beta` is overwritten
 * (pass a fresh zero array).
 */
export function lassoAic(
  sys: GramSystem,
  cov: Float64Array,
  yy: number,
  opts: LassoOptions = DEFAULT_LASSO,
  standard: StandardGram | null = null,
): LassoFit {
  if (standard) return lassoAicStandardised(sys, standard, cov, yy, opts);
  const { p, n, gram } = sys;
  const beta = new Float64Array(p);
  const best = new Float64Array(p);
  // r = cov − G·beta, kept current so a coordinate check costs O(1).
  const r = Float64Array.from(cov);
  let lambdaMax = 0;
  for (let j = 0; j < p; j++) lambdaMax = Math.max(lambdaMax, Math.abs(cov[j]!));
  if (lambdaMax === 0 || yy <= 0) return { beta, lambda: lambdaMax, nonzero: 0 };
  const active = new Uint8Array(p);
  let bestAic = n; // beta = 0: MSE = var(y), df = 0 → n·1 + 0
  let bestLambda = lambdaMax;
  let rises = 0;
  const solve = (lambda: number) => descend(sys, lambda, beta, r, active, opts);
  const step = Math.pow(opts.minRatio, 1 / (opts.nLambda - 1));
  let lambda = lambdaMax;
  for (let k = 1; k < opts.nLambda; k++) {
    lambda *= step;
    solve(lambda);
    // RSS/n = yy − 2βᵀc + βᵀGβ = yy − βᵀc − βᵀr (since Gβ = c − r)
    let bc = 0;
    let br = 0;
    let df = 0;
    for (let j = 0; j < p; j++) {
      const b = beta[j]!;
      if (b !== 0) {
        bc += b * cov[j]!;
        br += b * r[j]!;
        df++;
      }
    }
    const mse = Math.max(yy - bc - br, 0);
    const aic = (n * mse) / yy + 2 * df;
    if (aic < bestAic) {
      bestAic = aic;
      bestLambda = lambda;
      best.set(beta);
      rises = 0;
    } else if (++rises >= opts.patience) break;
  }
  const shrink = opts.shrink === 'sqrt-n' ? 1 / Math.sqrt(n) : opts.shrink;
  let result = best;
  let finalLambda = bestLambda;
  if (shrink !== 1) {
    // Continue down the path (warm) from wherever it stopped to the shrunk penalty.
    finalLambda = bestLambda * shrink;
    if (finalLambda > lambda) {
      beta.set(best);
      active.fill(0);
      r.set(cov);
      for (let j = 0; j < p; j++)
        if (best[j] !== 0) {
          active[j] = 1;
          const row = j * p;
          for (let i = 0; i < p; i++) r[i] = r[i]! - best[j]! * gram[row + i]!;
        }
      lambda = bestLambda;
    }
    while (lambda > finalLambda) {
      lambda = Math.max(lambda * step, finalLambda);
      solve(lambda);
    }
    result = beta;
  }
  let nonzero = 0;
  for (let j = 0; j < p; j++) if (result[j] !== 0) nonzero++;
  return { beta: result, lambda: finalLambda, nonzero };
}

/**
 * The Gram matrix of the same columns scaled to unit variance (what LassoLarsIC's `normalize=True`
 * selects on), computed once per window and shared by the 24 hours.
 */
export interface StandardGram {
  sys: GramSystem;
  /** Standard deviation of each column (1 for a constant column). */
  scale: Float64Array;
}

export function standardGram(sys: GramSystem): StandardGram {
  const { p, n, gram } = sys;
  const scale = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    const v = gram[j * p + j]!;
    scale[j] = v > 1e-12 ? Math.sqrt(v) : 1;
  }
  const g = new Float64Array(p * p);
  for (let j = 0; j < p; j++)
    for (let k = 0; k < p; k++) g[j * p + k] = gram[j * p + k]! / (scale[j]! * scale[k]!);
  return { sys: { p, n, gram: g }, scale };
}

/**
 * epftoolbox's LEAR step exactly in our terms: the AIC path runs on unit-variance columns
 * (LassoLarsIC with normalize=True), whose penalty α_LARS = λ_std/√n is then used by a plain Lasso
 * on the unscaled columns. The final fit continues warm from the AIC choice (rescaled) down to α.
 */
function lassoAicStandardised(
  sys: GramSystem,
  standard: StandardGram,
  cov: Float64Array,
  yy: number,
  opts: LassoOptions,
): LassoFit {
  const { p, n } = sys;
  const { scale } = standard;
  const covStd = new Float64Array(p);
  for (let j = 0; j < p; j++) covStd[j] = cov[j]! / scale[j]!;
  const path = lassoAic(standard.sys, covStd, yy, { ...opts, shrink: 1 });
  const alpha = path.lambda / Math.sqrt(n);
  const beta = new Float64Array(p);
  let nz = 0;
  let sumScale = 0;
  for (let j = 0; j < p; j++) {
    beta[j] = path.beta[j]! / scale[j]!;
    if (beta[j] !== 0) {
      nz++;
      sumScale += scale[j]!;
    }
  }
  // The standardised fit at λ_std is the unscaled fit at per-column penalties λ_std·s_j: start the
  // continuation at their mean over the active columns and step geometrically down to α.
  let lambda = path.lambda * (nz > 0 ? sumScale / nz : 1);
  const step = Math.pow(opts.minRatio, 1 / (opts.nLambda - 1));
  const r = Float64Array.from(cov);
  const active = new Uint8Array(p);
  for (let j = 0; j < p; j++)
    if (beta[j] !== 0) {
      active[j] = 1;
      const row = j * p;
      const b = beta[j]!;
      for (let i = 0; i < p; i++) r[i] = r[i]! - b * sys.gram[row + i]!;
    }
  if (lambda <= alpha) lambda = alpha * 1.0000001;
  while (lambda > alpha) {
    lambda = Math.max(lambda * step, alpha);
    descend(sys, lambda, beta, r, active, opts);
  }
  let nonzero = 0;
  for (let j = 0; j < p; j++) if (beta[j] !== 0) nonzero++;
  return { beta, lambda: alpha, nonzero };
}
