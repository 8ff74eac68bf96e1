import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Prints `rows` as an aligned table and writes `values` (plain numbers) to bench/out/<name>.json. */
export function report(name: string, rows: Array<[string, string]>, values: Record<string, number>): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\n${name}\n${'-'.repeat(width + 20)}\n`);
  for (const [key, value] of rows) process.stdout.write(`${key.padEnd(width)}  ${value}\n`);
  const dir = path.join(__dirname, 'out');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(values, null, 2)}\n`);
  process.stdout.write(`\nwrote bench/out/${name}.json\n`);
}

/** A whole-number flag `--name N` (≥ 1) of a bench, or `fallback`; a bad value exits 2 naming it. */
export function countFlag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 1) {
    process.stderr.write(`${name}: ${process.argv[i + 1]} is not allowed; expected a whole number ≥ 1\n`);
    process.exit(2);
  }
  return v;
}
