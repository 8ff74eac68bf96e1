/**
 * Gas used by HEPEK's contract calls, measured on the in-process dev chain (cancun, optimizer 200).
 * Runs every module bench/gas/*.ts except types.ts; each exports `measure(): Promise<GasRow[]>`.
 * Prints one table and writes bench/out/gas.json: `<key>` for steady-state rows and
 * `<key>FirstTime` for first-time rows, plain numbers.
 *
 *   npm run bench -- gas            all modules
 *   npm run bench -- gas channels   only bench/gas/channels.ts
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { report } from './report';
import type { GasModule, GasRow } from './gas/types';

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const dir = path.join(__dirname, 'gas');
  const modules = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'types.ts')
    .map((f) => f.replace(/\.ts$/, ''))
    .filter((name) => only.length === 0 || only.includes(name))
    .sort();
  if (modules.length === 0) throw new Error(`no gas module matches ${only.join(', ')}`);

  const rows: Array<[string, string]> = [];
  const values: Record<string, number> = {};
  for (const name of modules) {
    const mod = (await import(path.join(dir, `${name}.ts`))) as GasModule;
    if (typeof mod.measure !== 'function') throw new Error(`bench/gas/${name}.ts exports no measure()`);
    const measured: GasRow[] = await mod.measure();
    for (const row of measured) {
      const key = row.firstTime ? `${row.key}FirstTime` : row.key;
      if (key in values) throw new Error(`gas key ${key} is reported twice (bench/gas/${name}.ts)`);
      if (!Number.isFinite(row.gas)) throw new Error(`gas key ${key} is not a number: ${row.gas}`);
      values[key] = row.gas;
      const shown = Number.isInteger(row.gas) ? row.gas.toLocaleString('en-US') : row.gas.toFixed(1);
      rows.push([`${name}: ${key}`, `${shown.padStart(9)}${row.note ? `  ${row.note}` : ''}`]);
    }
  }
  report('gas', rows, values);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
