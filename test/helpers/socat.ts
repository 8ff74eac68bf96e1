/**
 * A real serial line for tests: a `socat` pty pair whose two ends appear at fixed paths (symlinks
 * in a temp dir), so a test can take the line down and bring it back at the same path. Bytes are
 * written into the `meter` end with serialport at the configured speed and framing, the way a P1
 * cable delivers them, and read from the `gateway` end by the code under test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { SerialPort } from 'serialport';
import type { SerialOptions } from '../../gateway/meters/serial';

export function hasSocat(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
}

export interface PtyPair {
  /** The end a test writes telegrams into (the meter side). */
  readonly meter: string;
  /** The end the code under test opens (the gateway side). */
  readonly gateway: string;
  /** Stops socat and waits for it to exit; both paths disappear. */
  stop(): Promise<void>;
}

/** Starts socat with both ends as symlinks in `dir`; resolves once it moves data. */
export function startPtyPair(dir: string, timeoutMs = 5000): Promise<PtyPair> {
  const meter = path.join(dir, 'meter');
  const gateway = path.join(dir, 'gateway');
  const proc: ChildProcess = spawn(
    'socat',
    ['-d', '-d', `pty,raw,echo=0,link=${meter}`, `pty,raw,echo=0,link=${gateway}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`socat did not start within ${timeoutMs} ms: ${log}`));
    }, timeoutMs);
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('starting data transfer loop')) {
        clearTimeout(timer);
        resolve({
          meter,
          gateway,
          async stop() {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
  });
}

/** The meter side: a serialport writer with the same framing the reader is configured for. */
export async function openMeterEnd(file: string, framing: Omit<SerialOptions, 'path'>): Promise<SerialPort> {
  const port = new SerialPort({ path: file, ...framing, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  return port;
}

/** Writes bytes and waits until the OS has taken them. */
export function writeAll(port: SerialPort, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    port.write(bytes, (err) => {
      if (err) return reject(err);
      port.drain((drainErr) => (drainErr ? reject(drainErr) : resolve()));
    });
  });
}

export function closePort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
}
