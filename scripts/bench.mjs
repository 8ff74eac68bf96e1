#!/usr/bin/env node
// Runs one benchmark: `npm run bench -- <name>` runs bench/<name>.bench.ts, which prints a table
// and writes bench/out/<name>.json. Without a name it lists the benchmarks.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const names = readdirSync(path.join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.replace(/\.bench\.ts$/, ''));
const [name, ...args] = process.argv.slice(2);
if (!name || !names.includes(name)) {
  process.stderr.write(
    `${name ? `no benchmark "${name}". ` : ''}Usage: npm run bench -- <name> [args]\nBenchmarks: ${names.join(', ')}\n`,
  );
  process.exit(name ? 2 : 0);
}
const file = path.join(root, 'bench', `${name}.bench.ts`);
if (!existsSync(file)) process.exit(2);
const result = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
