/**
 * `hepek parse-telegram <file|-> [--lenient]`: decodes one P1 telegram and prints it as JSON.
 * Exit 0 when the telegram is accepted, 1 with the reason when it is refused (bad or missing CRC,
 * cut off, no telegram), 2 on bad usage. `--lenient` prints the values of a refused telegram
 * anyway (the reason goes to stderr) and exits 0; input with no telegram at all still exits 1.
 * Bare LF line endings (a file saved on Unix) are read as CRLF, as the meter sends them.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../errors';
import { decodeTelegram } from './parser';

export const PARSE_TELEGRAM_USAGE = 'hepek parse-telegram <file|-> [--lenient]';

export interface CommandIo {
  readStdin(): Promise<Buffer>;
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIo: CommandIo = {
  async readStdin() {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  },
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Every LF not preceded by CR becomes CRLF; CRLF stays as it is. */
export function lfToCrlf(bytes: Buffer): Buffer {
  let bare = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a && (i === 0 || bytes[i - 1] !== 0x0d)) bare++;
  if (bare === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + bare);
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === 0x0a && (i === 0 || bytes[i - 1] !== 0x0d)) out[o++] = 0x0d;
    out[o++] = c;
  }
  return out;
}

export async function parseTelegramCommand(args: string[], io: CommandIo = processIo): Promise<number> {
  let lenient = false;
  let source: string | undefined;
  for (const arg of args) {
    if (arg === '--lenient') lenient = true;
    else if (arg.startsWith('--'))
      throw new ConfigError(arg, arg, `--lenient or a file for "${PARSE_TELEGRAM_USAGE}"`);
    else if (source === undefined) source = arg;
    else throw new ConfigError('<file|->', arg, `one file (or - for stdin): ${PARSE_TELEGRAM_USAGE}`);
  }
  if (source === undefined)
    throw new ConfigError('<file|->', null, `a telegram file, or - for stdin: ${PARSE_TELEGRAM_USAGE}`);

  let bytes: Buffer;
  if (source === '-') bytes = await io.readStdin();
  else {
    try {
      bytes = readFileSync(source);
    } catch (err) {
      io.stderr(
        `hepek: parse-telegram: cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`,
      );
      return 1;
    }
  }
  const { telegram, error } = decodeTelegram(lfToCrlf(bytes));
  if (error && (!lenient || !telegram)) {
    io.stderr(`hepek: parse-telegram: ${error.problem}: ${error.message}\n`);
    return 1;
  }
  if (error) io.stderr(`hepek: parse-telegram: warning (--lenient): ${error.problem}: ${error.message}\n`);
  io.stdout(`${JSON.stringify(telegram, null, 2)}\n`);
  return 0;
}
