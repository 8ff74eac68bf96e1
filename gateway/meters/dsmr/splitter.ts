/**
 * Splits a P1 byte stream into telegrams, incrementally: feed it chunks as they arrive (any size,
 * cut anywhere) and it returns each complete telegram once, from its `/` through the line end
 * after `!` and the CRC. It re-synchronises by itself: bytes before a `/` (a stream joined
 * mid-telegram, garbage between telegrams) are skipped and counted; a telegram cut off by the next
 * `/` at a line start is reported as truncated; a runaway telegram is dropped at `maxBytes`.
 * It never throws.
 */
import { decodeTelegram, TelegramError } from './parser';
import type { DsmrTelegram } from './types';

const SLASH = 0x2f;
const BANG = 0x21;
const LF = 0x0a;
const CR = 0x0d;

/** Larger than any real telegram (DSMR 5 with a 1024-character text message is about 3 KiB). */
export const DEFAULT_MAX_TELEGRAM_BYTES = 16 * 1024;

/**
 * `bytes` of a telegram that lay within one chunk is a view of that chunk (copy it to keep it
 * past the chunk's life); a telegram assembled from several chunks is its own copy.
 */
export type SplitEvent =
  | { kind: 'telegram'; bytes: Buffer }
  | { kind: 'truncated'; bytes: Buffer }
  | { kind: 'too-long'; length: number };

const enum State {
  /** Looking for `/` at the start of a line. */
  Hunt,
  /** Inside a telegram, before `!`. */
  Body,
  /** After `!`: the CRC up to the line end. */
  Crc,
}

export interface SplitterStats {
  telegrams: number;
  truncated: number;
  tooLong: number;
  /** Bytes outside any telegram (joined mid-telegram, garbage between telegrams). */
  skippedBytes: number;
}

export class TelegramSplitter {
  private state: State = State.Hunt;
  /** Whether the next byte starts a line (true at the start of the stream). */
  private atLineStart = true;
  private parts: Buffer[] = [];
  private length = 0;
  private crcChars = 0;
  readonly stats: SplitterStats = { telegrams: 0, truncated: 0, tooLong: 0, skippedBytes: 0 };

  constructor(private readonly maxBytes = DEFAULT_MAX_TELEGRAM_BYTES) {}

  /** Feeds a chunk; returns the telegrams (and problems) it completed, in stream order. */
  push(chunk: Uint8Array): SplitEvent[] {
    const events: SplitEvent[] = [];
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = buf.length;
    // Start of the current telegram's bytes within this chunk (-1: not inside one).
    let from = this.state === State.Hunt ? -1 : 0;
    let i = 0;
    // Only line starts matter inside a telegram, so it jumps from line feed to line feed.
    while (i < n) {
      if (this.state === State.Hunt) {
        // Between telegrams any `/` may start one: line noise need not end in a line feed.
        const slash = buf.indexOf(SLASH, i);
        if (slash < 0) {
          this.stats.skippedBytes += n - i;
          break;
        }
        this.stats.skippedBytes += slash - i;
        this.state = State.Body;
        this.atLineStart = false;
        from = slash;
        i = slash + 1;
      } else if (this.state === State.Body) {
        if (this.atLineStart) {
          const c = buf[i]!;
          if (c === SLASH) {
            // The next telegram started before this one's `!`.
            this.take(buf, from, i);
            events.push({ kind: 'truncated', bytes: this.drain() });
            this.stats.truncated++;
            this.state = State.Body;
            this.atLineStart = false;
            from = i;
            i++;
            continue;
          }
          if (c === BANG) {
            this.state = State.Crc;
            this.crcChars = 0;
            this.atLineStart = false;
            i++;
            continue;
          }
        }
        // A plain loop beats a native indexOf call on lines of 20-40 bytes.
        let lf = i;
        while (lf < n && buf[lf] !== LF) lf++;
        if (lf === n) lf = -1;
        const next = lf < 0 ? n : lf + 1;
        this.atLineStart = lf >= 0;
        if (this.length + (next - from) >= this.maxBytes) {
          events.push({ kind: 'too-long', length: this.length + (next - from) });
          this.stats.tooLong++;
          this.reset();
          this.atLineStart = lf >= 0;
          from = -1;
        }
        i = next;
      } else {
        const c = buf[i]!;
        if (c === LF) {
          this.take(buf, from, i + 1);
          events.push({ kind: 'telegram', bytes: this.drain() });
          this.stats.telegrams++;
          this.atLineStart = true;
          from = -1;
        } else if (c !== CR && (++this.crcChars > 4 || !isHex(c))) {
          // No line end after the CRC (e.g. a meter that omits it): the telegram ends with this
          // byte, so the decoder sees it (junk instead of a CRC is refused), and the byte is
          // looked at again as the possible start of what follows.
          this.take(buf, from, i + 1);
          events.push({ kind: 'telegram', bytes: this.drain() });
          this.stats.telegrams++;
          from = -1;
          continue; // same i, now hunting
        }
        i++;
      }
    }
    // The start of a telegram that continues in the next chunk is copied: the caller may reuse
    // this chunk's memory once push returns.
    if (from >= 0 && this.state !== State.Hunt && n > from) {
      this.parts.push(Buffer.from(buf.subarray(from, n)));
      this.length += n - from;
    }
    return events;
  }

  /**
   * The end of the stream: a telegram complete up to its `!` and CRC but without the final line
   * end is returned; anything less is reported truncated.
   */
  end(): SplitEvent[] {
    if (this.state === State.Hunt) return [];
    const complete = this.state === State.Crc;
    const bytes = this.drain();
    if (complete) this.stats.telegrams++;
    else this.stats.truncated++;
    return [{ kind: complete ? 'telegram' : 'truncated', bytes }];
  }

  /** Forgets a partial telegram (e.g. after the serial port was reopened). */
  reset(): void {
    this.parts = [];
    this.length = 0;
    this.state = State.Hunt;
    this.atLineStart = true;
  }

  private take(buf: Buffer, from: number, to: number): void {
    if (to > from) {
      this.parts.push(buf.subarray(from, to));
      this.length += to - from;
    }
  }

  private drain(): Buffer {
    // A telegram within one chunk is a view of it (no copy): callers hand in fresh buffers
    // (serialport reads, message payloads) and keep the telegram no longer than the chunk.
    const out = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
    this.parts = [];
    this.length = 0;
    this.state = State.Hunt;
    return out;
  }
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/** The outcome of one telegram in a stream: its values, or why it was refused. */
export type StreamResult =
  | { ok: true; telegram: DsmrTelegram; bytes: Buffer }
  | { ok: false; error: TelegramError; bytes: Buffer | null };

/** Turns splitter events into decoded telegrams or typed refusals. Never throws. */
export function decodeEvents(events: SplitEvent[]): StreamResult[] {
  const out: StreamResult[] = [];
  for (const event of events) {
    if (event.kind === 'too-long') {
      out.push({
        ok: false,
        bytes: null,
        error: new TelegramError(
          'too-long',
          'telegram',
          `${event.length} bytes without !`,
          `a telegram of at most the splitter's limit; the stream lost its end marker and was re-synchronised`,
          null,
        ),
      });
      continue;
    }
    const { telegram, error } = decodeTelegram(event.bytes);
    if (event.kind === 'truncated') {
      out.push({
        ok: false,
        bytes: event.bytes,
        error:
          error && error.problem === 'truncated'
            ? error
            : new TelegramError(
                'truncated',
                'telegram',
                `${event.bytes.length} bytes from / without !`,
                'a complete telegram ending in ! and its CRC; the next telegram started first',
                telegram,
              ),
      });
    } else if (error || !telegram) {
      // A telegram cut off mid-line runs into the next one, whose `/` is then not at a line
      // start: the pair fails its CRC. Recover the next one when its own CRC proves it whole.
      const recovered = error?.problem === 'crc-mismatch' ? recoverTail(event.bytes) : null;
      if (recovered) {
        const cut = event.bytes.length - recovered.bytes.length;
        out.push({
          ok: false,
          bytes: event.bytes.subarray(0, cut),
          error: new TelegramError(
            'truncated',
            'telegram',
            `${cut} bytes from / without !`,
            'a complete telegram ending in ! and its CRC; the next telegram started first',
            decodeTelegram(event.bytes.subarray(0, cut)).telegram,
          ),
        });
        out.push(recovered);
      } else out.push({ ok: false, bytes: event.bytes, error: error! });
    } else out.push({ ok: true, telegram, bytes: event.bytes });
  }
  return out;
}

function recoverTail(bytes: Buffer): Extract<StreamResult, { ok: true }> | null {
  for (let i = bytes.indexOf(0x2f, 1); i > 0; i = bytes.indexOf(0x2f, i + 1)) {
    const tail = bytes.subarray(i);
    const { telegram, error } = decodeTelegram(tail);
    if (!error && telegram && telegram.crc.valid === true)
      return { ok: true, telegram, bytes: Buffer.from(tail) };
  }
  return null;
}

/** A splitter plus decoder: bytes in, decoded telegrams or refusals out. */
export class TelegramStream {
  readonly splitter: TelegramSplitter;
  constructor(maxBytes = DEFAULT_MAX_TELEGRAM_BYTES) {
    this.splitter = new TelegramSplitter(maxBytes);
  }
  push(chunk: Uint8Array | string): StreamResult[] {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    return decodeEvents(this.splitter.push(bytes));
  }
  end(): StreamResult[] {
    return decodeEvents(this.splitter.end());
  }
  reset(): void {
    this.splitter.reset();
  }
}
