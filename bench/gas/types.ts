/**
 * One measured row of the gas benchmark. Every module bench/gas/*.ts (except this one) exports
 * `measure(): Promise<GasRow[]>`; bench/gas.bench.ts runs them all and writes bench/out/gas.json
 * with `<key>` for steady-state rows and `<key>FirstTime` for first-time rows.
 */
export interface GasRow {
  /** The issue's key, e.g. `openWithPermit`. */
  key: string;
  /** Gas used (receipt.gasUsed, after refunds), or for a ratio row the ratio. */
  gas: number;
  /** A first-time case (fresh accounts and storage) rather than the steady state. */
  firstTime?: boolean;
  /** What exactly was measured, shown in the table. */
  note?: string;
}

/** What a module exports. */
export interface GasModule {
  measure(): Promise<GasRow[]>;
}
