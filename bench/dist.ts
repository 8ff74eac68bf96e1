/**
 * Benchmarks measure the code that ships: dist/ as `npm run build` compiles it (tsc), which is
 * what `hepek start` and an installed Node-RED run — not the tsx-transpiled sources the tests use
 * (tsx wraps every function for its name, which costs several times over in tight loops). The
 * build runs first when dist/ is missing or older than any source under gateway/ or nodes/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(full));
    else if (/\.(ts|html|json)$/.test(entry.name)) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

export function ensureBuilt(): void {
  const marker = path.join(ROOT, 'dist', 'gateway', 'cli.js');
  const sources = Math.max(newestMtime(path.join(ROOT, 'gateway')), newestMtime(path.join(ROOT, 'nodes')));
  if (existsSync(marker) && statSync(marker).mtimeMs >= sources) return;
  process.stdout.write('bench: dist/ is older than the sources; building first\n');
  const result = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error('bench: the build failed');
}

/** `require` of a compiled module by its source path relative to the root, e.g. `gateway/meters/dsmr/parser`. */
export function fromDist<T>(source: string): T {
  ensureBuilt();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(ROOT, 'dist', source)) as T;
}
