/**
 * Runs the real `hepek` CLI (bin/hepek.js → dist/) as a child process in a temp user dir on free
 * ports, the way a user runs it. `npm test` builds first, so dist/ is this checkout's code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { brokerCredentialsFor } from '../../gateway/broker/auth';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'bin', 'hepek.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `hepek-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The operator's broker secret every test gateway runs with (`$HEPEK_BROKER_SECRET`), so a test
 * can derive the logins the gateway's broker admits.
 */
export const TEST_BROKER_SECRET = 'hepek-test-broker-secret-0123456789abcdef';

/** The gateway's full-access service account on a test gateway's broker. */
export const GATEWAY_LOGIN = brokerCredentialsFor(TEST_BROKER_SECRET, { service: 'gateway' });

export interface RunningCli {
  proc: ChildProcess;
  /** Everything printed so far (stdout + stderr). */
  output(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const started = Date.now();
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      HEPEK_KEYSTORE_PASSWORD: 'test-password',
      HEPEK_BROKER_SECRET: TEST_BROKER_SECRET,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  proc.stdout!.on('data', (d) => (text += d));
  proc.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal, ms: Date.now() - started })),
  );
  return { proc, output: () => text, exited };
}

export interface GatewayPorts {
  editor: number;
  broker: number;
}

/** The editor login the adminAuth tests configure and then log in with. */
export const ADMIN = { username: 'admin', password: 'hepek-admin-pw' };

/** Node-RED's `adminAuth` for ADMIN; it stores bcrypt hashes, never passwords. */
export const ADMIN_AUTH = {
  type: 'credentials',
  users: [
    {
      username: ADMIN.username,
      // bcrypt of ADMIN.password
      password: '$2b$08$7y51vHxTAKHGIGiYwFLcU.EFXnziUIXyk9A/Vy5C2.zScD.rlC8De',
      permissions: '*',
    },
  ],
};

/** A free editor port and a free broker port for one test gateway. */
export async function gatewayPorts(): Promise<GatewayPorts> {
  return { editor: await freePort(), broker: await freePort() };
}

/** Where the gateway's editor and HTTP endpoints answer. */
export function editorUrl(ports: GatewayPorts): string {
  return `http://127.0.0.1:${ports.editor}`;
}

/** `hepek start` on a settings file from `writeSettings`, the way a user starts the gateway. */
export function startGateway(settings: string, env: NodeJS.ProcessEnv = {}): RunningCli {
  return runCli(['start', '--settings', settings], env);
}

/** Writes a settings file for a test gateway; `extra` is deep-merged by the gateway itself. */
export function writeSettings(dir: string, ports: GatewayPorts, extra: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'settings.json');
  const base: Record<string, unknown> = {
    userDir: path.join(dir, 'user'),
    identity: { scryptN: 1024 },
    nodeRed: { port: ports.editor },
    broker: { port: ports.broker },
    meter: { speed: 600, intervalMs: 200 },
    log: { level: 'warn' },
  };
  for (const [key, value] of Object.entries(extra))
    base[key] =
      typeof value === 'object' && value !== null && !Array.isArray(value) && typeof base[key] === 'object'
        ? { ...(base[key] as object), ...value }
        : value;
  writeFileSync(file, JSON.stringify(base, null, 2));
  return file;
}

/** Polls until `probe` returns a value, or fails after `timeoutMs` with the CLI's output. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  cli?: RunningCli,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (cli && cli.proc.exitCode !== null)
      throw new Error(`${what}: the gateway exited with ${cli.proc.exitCode}\n${cli.output()}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `${what}: not within ${timeoutMs} ms (${(lastError as Error | undefined)?.message ?? 'no value'})\n${cli?.output() ?? ''}`,
  );
}

export async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/** Waits (up to 90 s: the first start deploys the contracts) for the gateway's /hepek/status. */
export function waitForStatus(
  cli: RunningCli,
  ports: GatewayPorts,
  what = 'the gateway status',
): Promise<unknown> {
  return until(what, () => getJson(`${editorUrl(ports)}/hepek/status`), 90_000, cli);
}

/** The parts of /hepek/status that say what the HEPEK holds. */
export interface HeldStatus {
  balance: { ergonWei: string };
  channel?: { payer: { depositWei: string | null } | null };
}

/**
 * Wallet + open channel's deposit, wei. Billing spends only inside the deposit, so this stays exact
 * while the spendable balance drifts down with every acknowledged voucher.
 */
export function heldWei(status: HeldStatus): bigint {
  return BigInt(status.balance.ergonWei) + BigInt(status.channel?.payer?.depositWei ?? 0);
}

/** Sends SIGTERM and waits for the exit. */
export async function stopCli(cli: RunningCli): Promise<{ code: number | null; ms: number }> {
  if (cli.proc.exitCode !== null) return { code: cli.proc.exitCode, ms: 0 };
  const sent = Date.now();
  cli.proc.kill('SIGTERM');
  const hardKill = setTimeout(() => cli.proc.kill('SIGKILL'), 15_000);
  const { code } = await cli.exited;
  clearTimeout(hardKill);
  return { code, ms: Date.now() - sent };
}
