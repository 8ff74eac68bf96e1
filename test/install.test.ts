/**
 * HEPEK installed into an existing Node-RED, as a user does it: `npm install /path/to/repo` in a
 * Node-RED user dir, then a plain `node-red` (not our runtime) shows our nodes in the palette,
 * loaded without errors, and our flows under Import ▸ Examples.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, getJson, removeDir, ROOT, tempDir, until } from './helpers/gateway';

interface NodeSet {
  module: string;
  types: string[];
  enabled: boolean;
  err?: string;
}

const install = suite<{ dir: string }>('install into an existing Node-RED');
install.before.each((ctx) => {
  ctx.dir = tempDir('nr-user');
});
install.after.each((ctx) => removeDir(ctx.dir));

install('npm install /path/to/repo makes the nodes and examples appear in Node-RED', async (ctx) => {
  writeFileSync(
    path.join(ctx.dir, 'package.json'),
    JSON.stringify({ name: 'node-red-project', private: true }),
  );
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ROOT], {
    cwd: ctx.dir,
    encoding: 'utf8',
  });
  assert.is(npm.status, 0, `npm install failed:\n${npm.stdout}\n${npm.stderr}`);
  assert.ok(existsSync(path.join(ctx.dir, 'node_modules', 'hepek', 'package.json')));
  const installed = JSON.parse(readFileSync(path.join(ctx.dir, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  assert.ok(installed.dependencies.hepek, 'recorded as a dependency of the Node-RED user dir');

  const port = await freePort();
  const redJs = require.resolve('node-red/red.js', { paths: [ROOT] });
  const red = spawn(process.execPath, [redJs, '--userDir', ctx.dir, '--port', String(port)], {
    cwd: ctx.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  red.stdout!.on('data', (d) => (log += d));
  red.stderr!.on('data', (d) => (log += d));
  try {
    const base = `http://127.0.0.1:${port}`;
    const sets = (await until(
      'Node-RED palette',
      async () => {
        const all = (await getJson(`${base}/nodes`)) as NodeSet[];
        return all.some((s) => s.module === 'hepek') ? all : undefined;
      },
      60_000,
    )) as NodeSet[];
    const ours = sets.filter((s) => s.module === 'hepek');
    const types = ours.flatMap((s) => s.types);
    for (const type of ['hepek-config', 'hepek-meter-read', 'hepek-relay', 'hepek-balance'])
      assert.ok(types.includes(type), `${type} in the palette`);
    for (const set of ours) {
      assert.ok(set.enabled);
      assert.is(set.err, undefined, `no load error for ${set.types.join(',')}`);
    }
    const examples = (await getJson(`${base}/library/examples/flows/hepek/default`)) as Array<{
      type: string;
    }>;
    assert.ok(
      examples.some((n) => n.type === 'hepek-meter-read'),
      'the default flow is offered as an example',
    );
    assert.not.match(log, /\[error\].*hepek/i, 'Node-RED logged no error about hepek');
  } finally {
    const exited = new Promise((resolve) => red.on('exit', resolve));
    red.kill('SIGINT');
    await exited;
  }
});

install.run();
