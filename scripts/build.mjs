#!/usr/bin/env node
// The build: contracts (solc → artifacts/ and typed bindings) → TypeScript (tsc → dist/) → each
// node's .html and locales/ next to its compiled .js (where Node-RED's loader looks) → flows/
// copied to examples/ (where Import ▸ Examples looks) → settings.schema.json from settings.ts →
// the DApp page (Vite) into dist/web/.
//
//   npm run build              incremental (contracts are skipped when unchanged)
//   npm run build -- --force   recompile the contracts too
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { compileContracts } from './compile-contracts.mjs';
import { buildWeb } from './build-web.mjs';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const require = createRequire(import.meta.url);
const force = process.argv.includes('--force');
const started = Date.now();

function step(name, fn) {
  const t = Date.now();
  fn();
  process.stdout.write(`build: ${name} (${Date.now() - t} ms)\n`);
}

await compileContracts({ force, quiet: true });
process.stdout.write(`build: contracts (${Date.now() - started} ms)\n`);

step('typescript', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
});

step('node editor files', () => {
  const nodesDir = path.join(root, 'nodes');
  for (const type of readdirSync(nodesDir)) {
    const src = path.join(nodesDir, type);
    if (!statSync(src).isDirectory()) continue;
    const dest = path.join(root, 'dist', 'nodes', type);
    for (const name of readdirSync(src)) {
      if (name.endsWith('.html') || name === 'locales' || name === 'icons') {
        mkdirSync(dest, { recursive: true });
        cpSync(path.join(src, name), path.join(dest, name), { recursive: true });
      }
    }
  }
});

step('examples', () => {
  const examples = path.join(root, 'examples');
  rmSync(examples, { recursive: true, force: true });
  mkdirSync(examples);
  for (const name of readdirSync(path.join(root, 'flows')))
    if (name.endsWith('.json')) cpSync(path.join(root, 'flows', name), path.join(examples, name));
});

step('homebridge plugin', () => {
  // gateway/integrations/homekit is its own package (homebridge-hepek, main dist/index.js); its
  // sources compile with the rest and are copied into the package here.
  const from = path.join(root, 'dist', 'gateway', 'integrations', 'homekit', 'src');
  const to = path.join(root, 'gateway', 'integrations', 'homekit', 'dist');
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from))
    if (name.endsWith('.js')) cpSync(path.join(from, name), path.join(to, name));
});

step('settings.schema.json', () => {
  const { settingsJsonSchema } = require(path.join(root, 'dist', 'settings.js'));
  writeFileSync(
    path.join(root, 'settings.schema.json'),
    `${JSON.stringify(settingsJsonSchema(), null, 2)}\n`,
  );
});

{
  const t = Date.now();
  await buildWeb();
  process.stdout.write(`build: dapp (${Date.now() - t} ms)\n`);
}

if (!existsSync(path.join(root, 'dist', 'gateway', 'cli.js'))) {
  process.stderr.write('build: dist/gateway/cli.js is missing after tsc\n');
  process.exit(1);
}
process.stdout.write(`build: done in ${Date.now() - started} ms\n`);
