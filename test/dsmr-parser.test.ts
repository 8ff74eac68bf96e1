import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { crc16Arc } from '../gateway/meters/dsmr/crc16';
import { lfToCrlf } from '../gateway/meters/dsmr/cli';
import { decodeTelegram, parseTelegram, TelegramError } from '../gateway/meters/dsmr/parser';
import { telegramToReading } from '../gateway/meters/dsmr/reading';
import { TelegramStream, type StreamResult } from '../gateway/meters/dsmr/splitter';
import { dsmrTimestampIso, parseDsmrTimestamp } from '../gateway/meters/dsmr/timestamp';

const ROOT = path.resolve(__dirname, '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'dsmr');
const DATA = path.join(process.env.HEPEK_DATA ?? path.resolve(ROOT, '..', 'shared', 'data'), 'dsmr');

const fixture = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));

/** The oracle: CRC16/ARC bit by bit, straight from its definition (no table). */
function crcBitwise(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}
const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');

function refusal(fn: () => unknown): TelegramError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, TelegramError);
    return err as TelegramError;
  }
  throw new assert.Assertion({ message: 'expected a TelegramError', operator: 'throws' } as never);
}

// ---------------------------------------------------------------------------------------------
const crc = suite('CRC16/ARC');

crc('the table implementation equals the bitwise definition on random bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => crc16Arc(bytes) === crcBitwise(bytes)));
});

crc('the catalogue check value: CRC-16/ARC("123456789") = 0xBB3D', () => {
  assert.is(crc16Arc(Buffer.from('123456789')), 0xbb3d);
});

crc.run();

// ---------------------------------------------------------------------------------------------
const own = suite('own fixtures (test/fixtures/dsmr, written from the P1 companion standard)');

own('DSMR 5.0 with gas and water: registers in Wh, power in W, M-Bus with their own stamps', () => {
  const t = parseTelegram(fixture('dsmr50-gas-water.txt'));
  assert.equal(t.energyImportWh, { t1: 123456, t2: 789012, total: 912468 });
  assert.equal(t.energyExportWh, { t1: 10001, t2: 20002, total: 30003 });
  assert.is(t.powerImportW, 1234);
  assert.is(t.powerExportW, 0);
  assert.is(t.timestamp, '2025-06-21T12:30:05.000Z', 'S = CEST, UTC+2');
  assert.is(t.version, '5.0');
  assert.is(t.equipmentId, 'HEPK00001', 'hex-decoded');
  assert.is(t.textMessage, 'Hello');
  assert.is(t.tariff, 2);
  assert.is(t.powerFailures, 3);
  assert.is(t.longPowerFailures, 1);
  assert.equal(t.phases.l1, { voltageV: 231.5, currentA: 5, powerImportW: 1234, powerExportW: 0 });
  assert.equal(
    t.mbus.map(({ channel, type, value, unit, timestamp }) => ({ channel, type, value, unit, timestamp })),
    [
      { channel: 1, type: 'gas', value: 1234.567, unit: 'm3', timestamp: '2025-06-21T12:00:00.000Z' },
      { channel: 2, type: 'water', value: 42.125, unit: 'm3', timestamp: '2025-06-21T12:15:00.000Z' },
    ],
  );
  assert.equal(t.crc, { given: '4D4E', computed: '4D4E', valid: true });
  assert.equal(t.warnings, []);
  assert.is(t.other['1-0:99.97.0'], '(0)(0-0:96.7.19)', 'unknown objects are kept raw');
});

own('an all-zeros clock is null, not an error; three-phase export', () => {
  const t = parseTelegram(fixture('dsmr50-export-zero-clock.txt'));
  assert.is(t.timestamp, null);
  assert.equal(t.energyExportWh, { t1: 500500, t2: 600600, total: 1101100 });
  assert.is(t.powerExportW, 3210);
  assert.equal(
    [t.phases.l1, t.phases.l2, t.phases.l3].map((p) => [p.voltageV, p.powerExportW]),
    [
      [230, 1000],
      [231, 1100],
      [232, 1110],
    ],
  );
  // Without a meter clock the reading is stamped with the time it arrived.
  const reading = telegramToReading(t, Date.UTC(2025, 0, 1));
  assert.equal(reading, {
    timestamp: '2025-01-01T00:00:00.000Z',
    importWh: 3000000,
    exportWh: 1101100,
    powerW: -3210,
    loadW: 0,
    pvW: 0,
  });
});

own('a bad CRC is refused with the given and the computed CRC; lenient still decodes', () => {
  const bytes = fixture('dsmr50-bad-crc.txt');
  const computed = hex4(crcBitwise(bytes.subarray(0, bytes.indexOf('!') + 1)));
  const err = refusal(() => parseTelegram(bytes));
  assert.is(err.problem, 'crc-mismatch');
  assert.is(err.code, 'HEPEK_INPUT');
  assert.is(
    err.message,
    `crc: "4D4E" is not allowed; expected ${computed}, the CRC16/ARC computed over the telegram from / through !; the telegram is corrupt and refused`,
  );
  assert.equal(err.telegram?.crc, { given: '4D4E', computed, valid: false });
  const lenient = parseTelegram(bytes, { lenient: true });
  assert.is(lenient.energyImportWh.t1, 123457);
});

own('a DSMR 5.0 telegram without CRC is refused; DSMR 2.2 without CRC is accepted', () => {
  assert.is(refusal(() => parseTelegram(fixture('dsmr50-no-crc.txt'))).problem, 'crc-missing');
  const t = parseTelegram(fixture('dsmr22-gas.txt'));
  assert.is(t.crc.given, null);
  assert.is(t.crc.valid, null);
  assert.is(t.version, null);
  assert.equal(t.energyImportWh, { t1: 100100, t2: 200200, total: 300300 });
  assert.is(t.powerImportW, 450);
  // 2.2: the value on the line after 0-1:24.3.0, a stamp without DST flag (January: CET).
  assert.equal(
    [t.mbus[0]!.type, t.mbus[0]!.value, t.mbus[0]!.unit, t.mbus[0]!.timestamp],
    ['gas', 321.987, 'm3', '2025-01-15T11:00:00.000Z'],
  );
  assert.is(t.mbus[0]!.valve, 1);
});

own('Belgian e-MUCS: version 96.1.4, average and monthly max demand, gas 24.2.3 and water', () => {
  const t = parseTelegram(fixture('emucs-gas-water.txt'));
  assert.is(t.variant, 'e-mucs');
  assert.is(t.emucsVersion, '50217');
  assert.equal(t.energyImportWh, { t1: 50000, t2: 40000, total: 90000 });
  assert.equal(t.energyExportWh, { t1: 3000, t2: 4000, total: 7000 });
  assert.is(t.averageDemandW, 1500);
  assert.equal(t.maxDemandMonth, { timestamp: '2024-01-10T17:00:00.000Z', powerW: 4321 });
  assert.equal(
    t.mbus.map((m) => [m.channel, m.type, m.value, m.timestamp]),
    [
      [1, 'gas', 10.5, '2024-01-15T07:25:00.000Z'],
      [2, 'water', 3.25, '2024-01-15T07:20:00.000Z'],
    ],
  );
});

own('a heat meter: GJ, no electricity registers (no reading), unpadded CRC', () => {
  const t = parseTelegram(fixture('heat-gj-unpadded.txt'));
  assert.equal(t.crc, { given: '0C1C', computed: '0C1C', valid: true });
  assert.equal(t.energyImportWh, { t1: null, t2: null, total: null });
  assert.equal([t.mbus[0]!.type, t.mbus[0]!.value, t.mbus[0]!.unit], ['heat', 12.3, 'GJ']);
  assert.is(telegramToReading(t, 0), null);
});

own('vendor variants: Wh and W units, any case, *255 and .255 suffixes, 1-1: electricity', () => {
  const t = parseTelegram(fixture('vendor-units.txt'));
  assert.equal(t.energyImportWh, { t1: 12345, t2: 0, total: 12345 }, 'a lone total counts as t1');
  assert.equal(t.energyExportWh, { t1: 500, t2: 0, total: 500 });
  assert.is(t.powerImportW, 1500);
  assert.is(t.powerExportW, 0);
  assert.is(t.equipmentId, 'ABC-123');
});

own('timestamps: S/W flags, EU summer time without flag, invalid dates are null', () => {
  const cases: [string, string | null][] = [
    ['250621143005S', '2025-06-21T12:30:05.000Z'],
    ['250115083000W', '2025-01-15T07:30:00.000Z'],
    ['250330030000', '2025-03-30T01:00:00.000Z'], // 03:00 CEST, just after the switch
    ['250330013000', '2025-03-30T00:30:00.000Z'], // 01:30 CET, before it
    ['000000000000W', null],
    ['632525252525S', null],
    ['250230120000W', null], // 30 February
    ['2506211430', null],
    ['25062114300X', null],
  ];
  for (const [text, iso] of cases) {
    const bytes = Buffer.from(text, 'latin1');
    assert.is(parseDsmrTimestamp(bytes, 0, bytes.length), iso, text);
  }
});

own('the fast ISO path for S/W stamps equals the Date-based one on any 12 digits + flag', () => {
  const two = fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0'));
  fc.assert(
    fc.property(
      fc.array(two, { minLength: 6, maxLength: 6 }),
      fc.constantFrom('S', 'W', 's', 'w', 'X', ''),
      (parts, flag) => {
        const bytes = Buffer.from(parts.join('') + flag, 'latin1');
        return dsmrTimestampIso(bytes, 0, bytes.length) === parseDsmrTimestamp(bytes, 0, bytes.length);
      },
    ),
    { numRuns: 20000, seed: 20261124 },
  );
  const midnight = Buffer.from('250301003000W', 'latin1');
  assert.is(dsmrTimestampIso(midnight, 0, 13), '2025-02-28T23:30:00.000Z', 'rolls back over a month end');
});

own('no telegram at all: refused even when lenient', () => {
  for (const input of ['', 'hello\r\n', '1-0:1.8.1(000001.000*kWh)\r\n!1234\r\n']) {
    const err = refusal(() => parseTelegram(input, { lenient: true }));
    assert.is(err.problem, 'no-telegram', JSON.stringify(input));
  }
});

own.run();

// ---------------------------------------------------------------------------------------------
const shared = suite('../shared/data/dsmr: every real telegram');

/** The 1-0:1.8.1 (or 1-1:1.8.1) value as a reader with a regex would take it, in Wh. */
function regexTariff1Wh(text: string): number | null {
  const m = /^1-[01]:1\.8\.1\(([\d.]+)\*kWh\)/im.exec(text);
  return m ? Math.round(Number(m[1]) * 1000) : null;
}

shared('each file decodes; its CRC is checked against the bitwise oracle', () => {
  if (!existsSync(DATA)) {
    // The data is not part of the repository (see /work/shared/data/README.md).
    if (process.env.CI) assert.unreachable(`CI is set but ${DATA} is missing (set HEPEK_DATA)`);
    console.log(`  skipped: ${DATA} not found (set HEPEK_DATA)`);
    return;
  }
  const files = readdirSync(DATA).filter((f) => f.endsWith('.txt'));
  assert.ok(files.length >= 30, `${files.length} telegram files`);
  let valid = 0;
  let refused = 0;
  for (const file of files) {
    const bytes = lfToCrlf(readFileSync(path.join(DATA, file)));
    const text = bytes.toString('latin1');
    const { telegram, error } = decodeTelegram(bytes);
    assert.ok(telegram, `${file}: decoded`);
    const wh = regexTariff1Wh(text);
    if (wh !== null) assert.is(telegram.energyImportWh.t1, wh, `${file}: tariff 1`);
    const bang = text.indexOf('\n!');
    if (bang < 0) {
      assert.is(error?.problem, 'truncated', `${file}: no ! → truncated`);
      continue;
    }
    const computed = hex4(crcBitwise(bytes.subarray(text.indexOf('/'), bang + 2)));
    assert.is(telegram.crc.computed, computed, `${file}: computed CRC`);
    const given = /^[0-9A-Fa-f]{1,4}/.exec(text.slice(bang + 2))?.[0];
    if (given === undefined) {
      assert.is(telegram.crc.valid, null, `${file}: no CRC`);
      assert.is(error, null, `${file}: a DSMR 2.2/3.0 telegram without CRC is accepted`);
      continue;
    }
    const ok = parseInt(given, 16) === parseInt(computed, 16);
    assert.is(telegram.crc.valid, ok, `${file}: valid`);
    if (ok) {
      assert.is(error, null, `${file}: accepted`);
      valid++;
    } else {
      assert.is(error?.problem, 'crc-mismatch', `${file}: refused`);
      assert.match(error!.message, computed, `${file}: the message names the computed CRC`);
      refused++;
    }
  }
  assert.ok(valid >= 10 && refused >= 5, `${valid} valid, ${refused} refused`);
});

shared.run();

// ---------------------------------------------------------------------------------------------
const stream = suite('stream re-synchronisation');

const good = fixture('dsmr50-gas-water.txt');
const other = fixture('emucs-gas-water.txt');
const old = fixture('dsmr22-gas.txt');

function feed(bytes: Buffer, chunk: number): StreamResult[] {
  const s = new TelegramStream();
  const out: StreamResult[] = [];
  for (let i = 0; i < bytes.length; i += chunk) out.push(...s.push(bytes.subarray(i, i + chunk)));
  out.push(...s.end());
  return out;
}

const summary = (results: StreamResult[]) =>
  results.map((r) => (r.ok ? `ok ${r.telegram.energyImportWh.t1}` : r.error.problem));

stream('telegrams cut at every chunk size come out whole and once', () => {
  const bytes = Buffer.concat([good, other, old, good]);
  for (const chunk of [1, 2, 3, 7, 64, 1000, bytes.length])
    assert.equal(
      summary(feed(bytes, chunk)),
      ['ok 123456', 'ok 50000', 'ok 100100', 'ok 123456'],
      `${chunk}`,
    );
});

stream('joined mid-telegram, garbage between, a truncated telegram, a runaway', () => {
  const cases: [name: string, bytes: Buffer, expected: string[]][] = [
    ['starts mid-telegram', Buffer.concat([good.subarray(200), good]), ['ok 123456']],
    [
      'garbage with line ends',
      Buffer.concat([good, Buffer.from('\x00\xff noise\r\n'), other]),
      ['ok 123456', 'ok 50000'],
    ],
    [
      'garbage without line end',
      Buffer.concat([good, Buffer.from([0xff, 0x13, 0x37]), other]),
      ['ok 123456', 'ok 50000'],
    ],
    [
      'cut at a line end',
      Buffer.concat([good.subarray(0, good.indexOf('1-0:2.8.1')), other]),
      ['truncated', 'ok 50000'],
    ],
    ['cut mid-line', Buffer.concat([good.subarray(0, 300), other]), ['truncated', 'ok 50000']],
    ['cut at the end of the stream', good.subarray(0, 400), ['truncated']],
    [
      'a runaway without !',
      Buffer.concat([Buffer.from('/X\r\n'), Buffer.alloc(20000, 0x41), other]),
      ['too-long', 'ok 50000'],
    ],
  ];
  for (const [name, bytes, expected] of cases) {
    for (const chunk of [1, 5, 4096])
      assert.equal(summary(feed(bytes, chunk)), expected, `${name} / ${chunk}`);
  }
});

stream('a caller that reuses one chunk buffer (like a serial driver) still gets whole telegrams', () => {
  const bytes = Buffer.concat([good, other, good]);
  const s = new TelegramStream();
  const chunk = Buffer.alloc(100);
  const out: StreamResult[] = [];
  for (let i = 0; i < bytes.length; i += chunk.length) {
    const n = bytes.copy(chunk, 0, i, i + chunk.length);
    out.push(...s.push(chunk.subarray(0, n)));
    chunk.fill(0x58); // overwritten before the next read
  }
  assert.equal(summary(out), ['ok 123456', 'ok 50000', 'ok 123456']);
});

stream('a CRC that fails in the stream is refused with its values, the next one accepted', () => {
  const results = feed(Buffer.concat([fixture('dsmr50-bad-crc.txt'), good]), 13);
  assert.equal(summary(results), ['crc-mismatch', 'ok 123456']);
  const first = results[0]!;
  assert.is(first.ok ? null : first.error.telegram?.energyImportWh.t1, 123457);
});

stream.run();

// ---------------------------------------------------------------------------------------------
const fuzz = suite('fast-check: nothing throws, nothing corrupt is accepted');

// A fixed seed keeps the suite deterministic; HEPEK_FC_SEED explores others.
const SEED = Number(process.env.HEPEK_FC_SEED ?? 20261124);

const TELEGRAMS = [good, other, fixture('dsmr50-export-zero-clock.txt'), fixture('heat-gj-unpadded.txt')];

fuzz('random byte streams never throw out of the decoder or the splitter', () => {
  const alphabet = fc.constantFrom(...Buffer.from('/!()*.:-\r\n0123456789ABCDEFkWhm3SW'));
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    fc.array(alphabet, { maxLength: 400 }).map((a) => Uint8Array.from(a)),
  );
  fc.assert(
    fc.property(bytes, fc.integer({ min: 1, max: 50 }), (input, chunk) => {
      const { error } = decodeTelegram(input);
      if (error) assert.instance(error, TelegramError);
      feed(Buffer.from(input), chunk);
    }),
    { numRuns: 2000, seed: SEED },
  );
});

fuzz('a telegram with 1-3 bytes changed is refused or decodes to exactly the original', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...TELEGRAMS),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 1, max: 64 }),
      (original, edits, chunk) => {
        const mutated = Buffer.from(original);
        for (const [at, value] of edits) mutated[at % mutated.length] = value;
        const expected = JSON.stringify(parseTelegram(original));
        const { telegram, error } = decodeTelegram(mutated);
        if (!error) {
          const bang = mutated.indexOf('\n!');
          // Accepted: the bytes the CRC covers are untouched, so the values are the original's.
          assert.ok(bang > 0 && mutated.subarray(0, bang + 2).equals(original.subarray(0, bang + 2)));
          assert.is(JSON.stringify({ ...telegram, warnings: [] }), expected);
        }
        for (const result of feed(mutated, chunk)) {
          if (result.ok) assert.is(JSON.stringify({ ...result.telegram, warnings: [] }), expected);
        }
      },
    ),
    { numRuns: 3000, seed: SEED },
  );
});

fuzz.run();
