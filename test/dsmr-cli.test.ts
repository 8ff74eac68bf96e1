import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, removeDir, tempDir } from './helpers/gateway';

const FIXTURES = path.resolve(__dirname, 'fixtures', 'dsmr');
const fixture = (name: string) => path.join(FIXTURES, name);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `hepek` (dist/, built by `npm test`) with optional stdin. */
function hepek(args: string[], stdin?: Buffer): Promise<Run> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
    proc.stdin.end(stdin ?? Buffer.alloc(0));
  });
}

const cli = suite<{ dir: string }>('hepek parse-telegram', { dir: '' });
cli.before.each((ctx) => {
  ctx.dir = tempDir('dsmr-cli');
});
cli.after.each((ctx) => removeDir(ctx.dir));

cli('a good telegram: exit 0, JSON with the contract keys in Wh and W', async () => {
  const run = await hepek(['parse-telegram', fixture('dsmr50-gas-water.txt')]);
  assert.is(run.code, 0, run.stderr);
  assert.is(run.stderr, '');
  const json = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.equal(json.energyImportWh, { t1: 123456, t2: 789012, total: 912468 });
  assert.equal(json.energyExportWh, { t1: 10001, t2: 20002, total: 30003 });
  assert.is(json.powerImportW, 1234);
  assert.is(json.powerExportW, 0);
  assert.is(json.timestamp, '2025-06-21T12:30:05.000Z');
  assert.equal(
    (json.mbus as Record<string, unknown>[]).map(({ channel, type, value, unit, timestamp }) => ({
      channel,
      type,
      value,
      unit,
      timestamp,
    })),
    [
      { channel: 1, type: 'gas', value: 1234.567, unit: 'm3', timestamp: '2025-06-21T12:00:00.000Z' },
      { channel: 2, type: 'water', value: 42.125, unit: 'm3', timestamp: '2025-06-21T12:15:00.000Z' },
    ],
  );
  assert.equal(json.crc, { given: '4D4E', computed: '4D4E', valid: true });
  assert.is(json.version, '5.0');
});

cli('a file with bare LF line ends is read as CRLF: the CRC still verifies', async ({ dir }) => {
  const lf = path.join(dir, 'lf.txt');
  writeFileSync(lf, readFileSync(fixture('dsmr50-gas-water.txt'), 'latin1').replace(/\r\n/g, '\n'), 'latin1');
  const [viaLf, viaCrlf] = await Promise.all([
    hepek(['parse-telegram', lf]),
    hepek(['parse-telegram', fixture('dsmr50-gas-water.txt')]),
  ]);
  assert.is(viaLf.code, 0, viaLf.stderr);
  assert.is(viaLf.stdout, viaCrlf.stdout);
});

cli('a bad CRC: exit 1 naming the given and the computed CRC, nothing on stdout', async () => {
  const run = await hepek(['parse-telegram', fixture('dsmr50-bad-crc.txt')]);
  assert.is(run.code, 1);
  assert.is(run.stdout, '');
  assert.match(
    run.stderr,
    /^hepek: parse-telegram: crc-mismatch: crc: "4D4E" is not allowed; expected [0-9A-F]{4}, /,
  );
});

cli('--lenient prints the values of a refused telegram, warns on stderr, exits 0', async () => {
  const run = await hepek(['parse-telegram', '--lenient', fixture('dsmr50-bad-crc.txt')]);
  assert.is(run.code, 0);
  const json = JSON.parse(run.stdout) as { crc: { valid: boolean }; energyImportWh: { t1: number } };
  assert.is(json.crc.valid, false);
  assert.is(json.energyImportWh.t1, 123457);
  assert.match(run.stderr, 'warning (--lenient): crc-mismatch');
});

cli('- reads the telegram from stdin', async () => {
  const run = await hepek(['parse-telegram', '-'], readFileSync(fixture('emucs-gas-water.txt')));
  assert.is(run.code, 0, run.stderr);
  assert.is((JSON.parse(run.stdout) as { variant: string }).variant, 'e-mucs');
});

cli('refusals and bad usage: exit codes 1 and 2 with the reason', async ({ dir }) => {
  const empty = path.join(dir, 'empty.txt');
  writeFileSync(empty, 'no telegram here\n');
  const cases: [name: string, args: string[], code: number, stderr: RegExp][] = [
    ['DSMR 5 without CRC', [fixture('dsmr50-no-crc.txt')], 1, /crc-missing/],
    [
      'no telegram, even lenient',
      ['--lenient', empty],
      1,
      /no-telegram: telegram: .* expected a DSMR P1 telegram/,
    ],
    ['missing file', [path.join(dir, 'nope.txt')], 1, /cannot read .*nope\.txt: ENOENT/],
    ['no argument', [], 2, /<file\|->: null is not allowed; expected a telegram file, or - for stdin/],
    [
      'unknown flag',
      ['--strict', empty],
      2,
      /--strict: "--strict" is not allowed; expected --lenient or a file/,
    ],
    ['two files', [empty, empty], 2, /expected one file/],
  ];
  for (const [name, args, code, stderr] of cases) {
    const run = await hepek(['parse-telegram', ...args]);
    assert.is(run.code, code, name);
    assert.match(run.stderr, stderr, name);
    assert.is(run.stdout, '', name);
  }
});

cli('a DSMR 2.2 telegram (no CRC) is accepted with crc.valid null', async () => {
  const run = await hepek(['parse-telegram', fixture('dsmr22-gas.txt')]);
  assert.is(run.code, 0, run.stderr);
  const crc = (JSON.parse(run.stdout) as { crc: { given: unknown; computed: string; valid: unknown } }).crc;
  assert.is(crc.given, null);
  assert.is(crc.valid, null);
  assert.match(crc.computed, /^[0-9A-F]{4}$/);
});

cli.run();
