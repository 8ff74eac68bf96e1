/**
 * DSMR telegrams/s: the whole stream path (splitter + decoder + CRC16/ARC) over a P1 byte stream
 * cut into 4 KiB chunks, against two baselines measured in the same run on the same telegrams:
 * a plain split/regex parse (what a first parser looks like) and a CRC-only pass (the floor: every
 * byte must be read once anyway).
 *
 *   npm run bench -- dsmr            # bench/out/dsmr.json
 *
 * Telegrams: the valid ones of test/fixtures/dsmr and, when present, of ../shared/data/dsmr
 * (LF → CRLF and a final CR LF, as a meter sends them).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromDist } from './dist';
import { report } from './report';

// The compiled code (see bench/dist.ts); the baseline uses the same compiled CRC.
const { lfToCrlf } = fromDist<typeof import('../gateway/meters/dsmr/cli')>('gateway/meters/dsmr/cli');
const { crc16Arc } = fromDist<typeof import('../gateway/meters/dsmr/crc16')>('gateway/meters/dsmr/crc16');
const { decodeTelegram } = fromDist<typeof import('../gateway/meters/dsmr/parser')>(
  'gateway/meters/dsmr/parser',
);
const { TelegramStream } = fromDist<typeof import('../gateway/meters/dsmr/splitter')>(
  'gateway/meters/dsmr/splitter',
);

const ROOT = path.resolve(__dirname, '..');
const DATA = path.join(process.env.HEPEK_DATA ?? path.resolve(ROOT, '..', 'shared', 'data'), 'dsmr');
const STREAM_TELEGRAMS = Number(process.env.HEPEK_BENCH_TELEGRAMS ?? 50_000);
const ROUNDS = 5;

function corpus(): Buffer[] {
  const dirs = [path.join(ROOT, 'test', 'fixtures', 'dsmr'), ...(existsSync(DATA) ? [DATA] : [])];
  const out: Buffer[] = [];
  for (const dir of dirs)
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt'))) {
      let bytes = lfToCrlf(readFileSync(path.join(dir, file)));
      // A meter ends the CRC line with CR LF; some files stop right after it.
      if (bytes.at(-1) !== 0x0a) bytes = Buffer.concat([bytes, Buffer.from('\r\n')]);
      if (!decodeTelegram(bytes).error) out.push(bytes);
    }
  return out;
}

/** A plain parser: split lines, one regex per line, parseFloat, a map of OBIS → values. */
function regexParse(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const line = /^(\d+-\d+:\d+[.:]\d+[.:]\d+(?:[.*]\d+)?)((?:\([^)]*\))+)$/;
  for (const l of text.split('\r\n')) {
    const m = line.exec(l);
    if (!m) continue;
    const values = [...m[2]!.matchAll(/\(([^)]*)\)/g)].map((g) => g[1]!);
    for (const v of values) {
      const [num] = v.split('*');
      if (num && /^[\d.]+$/.test(num)) parseFloat(num);
    }
    out[m[1]!] = values;
  }
  const bang = text.lastIndexOf('!');
  if (bang > 0) crc16Arc(Buffer.from(text.slice(text.indexOf('/'), bang + 1), 'latin1'));
  return out;
}

interface Rate {
  /** Telegrams per second of wall-clock time. */
  wall: number;
  /** Telegrams per second of this thread's CPU time: what the parser costs, whatever else runs. */
  cpu: number;
}

/**
 * Runs `fn` (which handles `count` telegrams) ROUNDS times after a warm-up; the median of each
 * rate. The machine is shared (2 cores, many jobs), so wall-clock rates swing with its load; the
 * CPU-time rate is what one core does when it runs the parser.
 */
function rate(count: number, fn: () => void): Rate {
  fn();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const cpu0 = process.cpuUsage();
    const start = process.hrtime.bigint();
    fn();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const used = process.cpuUsage(cpu0);
    wall.push(count / seconds);
    cpu.push(count / ((used.user + used.system) / 1e6));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { wall: median(wall), cpu: median(cpu) };
}

const telegrams = corpus();
const sequence = Array.from({ length: STREAM_TELEGRAMS }, (_, i) => telegrams[i % telegrams.length]!);
const stream = Buffer.concat(sequence);
const texts = sequence.map((b) => b.toString('latin1'));
const avgBytes = Math.round(stream.length / sequence.length);

let sink = 0;
const crcOnly = rate(sequence.length, () => {
  for (const t of sequence) sink ^= crc16Arc(t, 0, t.length);
});
const regex = rate(sequence.length, () => {
  for (const t of texts) sink ^= Object.keys(regexParse(t)).length;
});
const decodeOnly = rate(sequence.length, () => {
  for (const t of sequence) sink ^= decodeTelegram(t).telegram!.crc.computed.length;
});
const CHUNK = 4096;
const streamed = rate(sequence.length, () => {
  const s = new TelegramStream();
  let accepted = 0;
  for (let i = 0; i < stream.length; i += CHUNK)
    for (const r of s.push(stream.subarray(i, i + CHUNK))) if (r.ok) accepted++;
  if (accepted !== sequence.length) throw new Error(`stream accepted ${accepted} of ${sequence.length}`);
});

const round = (x: number) => Math.round(x);
const both = (r: Rate) => `${round(r.cpu)} (wall clock ${round(r.wall)})`;
report(
  'dsmr',
  [
    ['telegrams (distinct valid / streamed)', `${telegrams.length} / ${sequence.length}`],
    ['average telegram size, bytes', `${avgBytes}`],
    ['load average (1 min)', os.loadavg()[0]!.toFixed(1)],
    ['baseline: split/regex parse, telegrams per CPU-s', both(regex)],
    ['floor: CRC16/ARC only, telegrams per CPU-s', both(crcOnly)],
    ['decoder (decodeTelegram + CRC), telegrams per CPU-s', both(decodeOnly)],
    ['stream (splitter + decoder, 4 KiB chunks), telegrams per CPU-s', both(streamed)],
    ['stream / regex baseline (CPU)', (streamed.cpu / regex.cpu).toFixed(2)],
    ['stream / CRC-only floor (CPU)', (streamed.cpu / crcOnly.cpu).toFixed(3)],
    ['stream throughput, MB per CPU-s', ((streamed.cpu * avgBytes) / 1e6).toFixed(1)],
    ['goal ≥ 50,000 telegrams/s', streamed.cpu >= 50_000 ? 'met' : 'NOT met'],
  ],
  {
    telegramsPerSec: round(streamed.cpu),
    telegramsPerSecWallClock: round(streamed.wall),
    decoderTelegramsPerSec: round(decodeOnly.cpu),
    baselineRegexTelegramsPerSec: round(regex.cpu),
    crcOnlyTelegramsPerSec: round(crcOnly.cpu),
    ratioVsRegex: Number((streamed.cpu / regex.cpu).toFixed(3)),
    averageTelegramBytes: avgBytes,
    loadAverage: Number(os.loadavg()[0]!.toFixed(2)),
  },
);
if (sink === 0.5) process.stdout.write('');
