/**
 * A real InfluxDB 1.x (`influxd` from Debian's `influxdb`) on free loopback ports with its data in
 * a temp folder, for tests. `restart()` keeps the data and the port, like a service restart.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, until } from './gateway';

export interface Influxd {
  readonly url: string;
  /** Kills influxd (SIGKILL: a crash, not a shutdown) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data, and waits until it answers /ping. */
  start(): Promise<void>;
  /** Runs an InfluxQL query over HTTP and returns the JSON. */
  query(
    db: string,
    q: string,
    auth?: { username: string; password: string },
  ): Promise<{ results: Array<{ series?: Array<{ values: unknown[][] }>; error?: string }> }>;
}

/** Whether `influxd` is on the PATH. */
export function haveInfluxd(): boolean {
  return spawnSync('influxd', ['version'], { stdio: 'ignore' }).status === 0;
}

/** `authEnabled`: influxd refuses requests without credentials (create the first admin with `query`). */
export async function startInfluxd(dir: string, opts: { authEnabled?: boolean } = {}): Promise<Influxd> {
  const [httpPort, rpcPort] = [await freePort(), await freePort()];
  for (const sub of ['meta', 'data', 'wal']) mkdirSync(path.join(dir, sub), { recursive: true });
  const config = path.join(dir, 'influxd.conf');
  writeFileSync(
    config,
    [
      'reporting-disabled = true',
      `bind-address = "127.0.0.1:${rpcPort}"`,
      '[meta]',
      `  dir = "${path.join(dir, 'meta')}"`,
      '[data]',
      `  dir = "${path.join(dir, 'data')}"`,
      `  wal-dir = "${path.join(dir, 'wal')}"`,
      '  query-log-enabled = false',
      '[retention]',
      '  enabled = false',
      '[monitor]',
      '  store-enabled = false',
      '[continuous_queries]',
      '  enabled = false',
      '[http]',
      '  enabled = true',
      `  bind-address = "127.0.0.1:${httpPort}"`,
      '  log-enabled = false',
      `  auth-enabled = ${opts.authEnabled ? 'true' : 'false'}`,
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${httpPort}`;
  let proc: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const start = async () => {
    output = '';
    const child = spawn('influxd', ['run', '-config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (output = (output + d).slice(-4000)));
    child.stderr!.on('data', (d) => (output = (output + d).slice(-4000)));
    exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    proc = child;
    await until(
      'influxd answering /ping',
      async () => {
        if (child.exitCode !== null) throw new Error(`influxd exited ${child.exitCode}: ${output}`);
        const response = await fetch(`${url}/ping`);
        return response.status === 204 ? true : undefined;
      },
      20_000,
    ).catch(async (err) => {
      await kill();
      throw err;
    });
  };
  const kill = async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
    proc = null;
  };
  const query = async (db: string, q: string, auth?: { username: string; password: string }) => {
    const headers: Record<string, string> = auth
      ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
      : {};
    const response = await fetch(`${url}/query`, {
      method: 'POST',
      body: new URLSearchParams({ db, q }),
      headers,
    });
    if (!response.ok) throw new Error(`influx query ${q}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as {
      results: Array<{ series?: Array<{ values: unknown[][] }>; error?: string }>;
    };
  };
  await start();
  return { url, kill, start, query };
}
