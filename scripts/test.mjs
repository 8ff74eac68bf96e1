#!/usr/bin/env node
// Runs every test/**/*.test.ts in its own Node process (Node-RED's runtime is a per-process
// singleton, so the node tests and the end-to-end tests cannot share one), two at a time, and
// adds up uvu's totals into the one closing line CI reads: `N passed, N failed, N skipped`.
//
//   npm test                      all test files
//   npm test -- test/settings     only files whose path contains one of the arguments
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import os from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const concurrency = Number(process.env.HEPEK_TEST_JOBS ?? Math.max(1, Math.min(2, os.cpus().length)));

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const files = walk(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

function strip(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code, signal) => {
      const text = strip(output);
      const num = (label) => {
        const all = [...text.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'gm'))];
        return all.reduce((sum, m) => sum + Number(m[1]), 0);
      };
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped');
      let failed = Math.max(0, total - passed - skipped);
      // A file that crashed or exited non-zero without counting a failure still failed.
      if ((code !== 0 || signal) && failed === 0) failed = 1;
      resolve({ file, code, signal, text, passed, failed, skipped, ms: Date.now() - started });
    });
  });
}

const results = [];
let next = 0;
async function worker() {
  while (next < files.length) {
    const file = files[next++];
    const r = await runFile(file);
    results.push(r);
    const verdict = r.failed ? 'FAIL' : 'ok  ';
    process.stdout.write(
      `${verdict} ${file}  (${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped, ${(r.ms / 1000).toFixed(1)} s)\n`,
    );
    if (r.failed || process.env.HEPEK_TEST_VERBOSE)
      process.stdout.write(r.text.replace(/^/gm, '    ') + '\n');
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));

const sum = (k) => results.reduce((s, r) => s + r[k], 0);
if (files.length === 0) {
  process.stdout.write(`no test files matched ${JSON.stringify(filters)}\n`);
  process.stdout.write('0 passed, 1 failed\n');
  process.exit(1);
}
const line = `${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped`;
process.stdout.write(`\n${line}\n`);
process.exit(sum('failed') > 0 ? 1 : 0);
