/** A separate JSON-RPC node process (`hardhat node`) on a free loopback port, for tests that need one. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, ROOT, until } from './gateway';

export interface HardhatNode {
  readonly url: string;
  readonly proc: ChildProcess;
  /** Kills the node (SIGKILL: an outage, not a shutdown) and waits for it to be gone. */
  kill(): Promise<void>;
}

export async function startHardhatNode(dir: string, chainId = 31337): Promise<HardhatNode> {
  const port = await freePort();
  const config = path.join(dir, 'hardhat.config.js');
  writeFileSync(config, `module.exports = { networks: { hardhat: { chainId: ${chainId} } } };\n`);
  const cli = require.resolve('hardhat/internal/cli/cli.js', { paths: [ROOT] });
  // cwd is the repo: Hardhat refuses to run from a folder where it is not installed locally.
  const proc = spawn(
    process.execPath,
    [cli, '--config', config, 'node', '--hostname', '127.0.0.1', '--port', String(port)],
    {
      cwd: ROOT,
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  const kill = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  };
  try {
    await until(
      'hardhat node answering',
      async () => {
        if (proc.exitCode !== null) throw new Error(`hardhat node exited: ${output}`);
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        });
        return response.ok ? true : undefined;
      },
      30_000,
    );
  } catch (err) {
    await kill();
    throw err;
  }
  return { url, proc, kill };
}
