import { suite } from 'uvu';
import fc from 'fast-check';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Journal, journalDiskBytes } from '../gateway/store/journal';
import { ConfigError, StateError } from '../gateway/errors';
import { ROOT, removeDir, tempDir } from './helpers/gateway';

interface Ctx {
  dir: string;
}
const journal = suite<Ctx>('journal');

journal.before.each((ctx) => {
  ctx.dir = tempDir('journal');
});
journal.after.each((ctx) => {
  removeDir(ctx.dir);
});

function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.startsWith('journal-'))
    .sort()
    .map((n) => path.join(dir, n));
}

journal('appends get consecutive seqs and are read back after reopening', async ({ dir }) => {
  const j = await Journal.open<{ n: number }>({ dir });
  assert.equal(j.recovered, { records: 0, lastSeq: 0, last: null, tornBytes: 0 });
  const seqs = await Promise.all([1, 2, 3].map((n) => j.append({ n })));
  assert.equal(seqs, [1, 2, 3]);
  await j.close();
  const again = await Journal.open<{ n: number }>({ dir });
  assert.equal(again.recovered, { records: 3, lastSeq: 3, last: { seq: 3, data: { n: 3 } }, tornBytes: 0 });
  assert.is(await again.append({ n: 4 }), 4);
  assert.equal(
    (await again.read(2, 10)).map((r) => r.data.n),
    [2, 3, 4],
  );
  await again.close();
  try {
    await again.append({ n: 5 });
    assert.unreachable('closed');
  } catch (err) {
    assert.instance(err, StateError);
  }
});

journal('a burst of appends shares fdatasyncs (group commit), in seq order', async ({ dir }) => {
  const j = await Journal.open({ dir });
  const resolvedOrder: number[] = [];
  const all = Array.from({ length: 2000 }, (_, i) => j.append({ i }).then((seq) => resolvedOrder.push(seq)));
  await Promise.all(all);
  const stats = j.stats();
  assert.is(stats.appends, 2000);
  assert.ok(stats.syncs < 50, `${stats.syncs} syncs for 2000 appends`);
  assert.equal(
    resolvedOrder,
    Array.from({ length: 2000 }, (_, i) => i + 1),
  );
  await j.close();
});

journal('a torn last line (no newline) is cut off and never comes back', async ({ dir }) => {
  const j = await Journal.open({ dir });
  for (let i = 0; i < 5; i++) await j.append({ i });
  await j.close();
  const [file] = segmentFiles(dir);
  const intact = readFileSync(file).length;
  const torn = '1234abcd {"seq":6,"data":{"i"';
  appendFileSync(file, torn);
  const logs: string[] = [];
  const again = await Journal.open({ dir, log: (m) => logs.push(m) });
  assert.is(again.recovered.lastSeq, 5);
  assert.is(again.recovered.tornBytes, torn.length);
  assert.is(readFileSync(file).length, intact, 'file truncated to the last intact line');
  assert.match(logs.join('\n'), `torn tail of ${torn.length} bytes`);
  assert.is(await again.append({ i: 5 }), 6);
  await again.close();
  const third = await Journal.open({ dir });
  assert.is(third.recovered.lastSeq, 6);
  assert.is(third.recovered.tornBytes, 0);
  await third.close();
});

journal(
  'a crash at any byte: recovery keeps exactly the complete lines before it (fast-check)',
  async ({ dir }) => {
    const j = await Journal.open<{ i: number; text: string }>({ dir });
    for (let i = 0; i < 20; i++) await j.append({ i, text: 'ü€'.repeat(i) }); // multi-byte UTF-8 too
    await j.close();
    const [file] = segmentFiles(dir);
    const full = readFileSync(file);
    const lineEnds = [...full.entries()].filter(([, b]) => b === 0x0a).map(([k]) => k + 1);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: full.length }), async (cut) => {
        writeFileSync(file, full.subarray(0, cut));
        const again = await Journal.open<{ i: number; text: string }>({ dir });
        const complete = lineEnds.filter((end) => end <= cut).length;
        assert.is(again.recovered.lastSeq, complete, `cut at ${cut}`);
        assert.is(readFileSync(file).length, complete ? lineEnds[complete - 1] : 0, 'tail cut');
        assert.is(await again.append({ i: -1, text: '' }), complete + 1);
        await again.close();
      }),
      { seed: 3, numRuns: 60 },
    );
  },
);

journal(
  'a complete last line whose CRC fails (a write torn inside the page) is cut off too',
  async ({ dir }) => {
    const j = await Journal.open({ dir });
    await j.append({ i: 1 });
    await j.append({ i: 2 });
    await j.close();
    const [file] = segmentFiles(dir);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace('{"i":2}', '{"i":9}'));
    const again = await Journal.open({ dir });
    assert.is(again.recovered.lastSeq, 1);
    await again.close();
  },
);

journal('damage followed by valid records is refused, naming the file and line', async ({ dir }) => {
  const j = await Journal.open({ dir });
  for (let i = 0; i < 3; i++) await j.append({ i });
  await j.close();
  const [file] = segmentFiles(dir);
  const lines = readFileSync(file, 'utf8').split('\n');
  lines[1] = lines[1].replace('"i":1', '"i":7');
  writeFileSync(file, lines.join('\n'));
  try {
    await Journal.open({ dir });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, StateError);
    assert.match((err as Error).message, file);
    assert.match((err as Error).message, 'line 2 is corrupt but valid records follow');
  }
});

journal('a gap in the sequence is refused', async ({ dir }) => {
  const j = await Journal.open({ dir });
  for (let i = 0; i < 3; i++) await j.append({ i });
  await j.close();
  const [file] = segmentFiles(dir);
  const lines = readFileSync(file, 'utf8').split('\n');
  writeFileSync(file, [lines[0], lines[2], ''].join('\n'));
  await Journal.open({ dir }).then(
    () => assert.unreachable(),
    (err: Error) => {
      assert.instance(err, StateError);
      assert.match(err.message, 'line 2 has seq 3, expected 2');
    },
  );
});

journal('segments rotate and old ones are deleted: the journal stays bounded', async ({ dir }) => {
  const j = await Journal.open({
    dir,
    segmentBytes: 2000,
    retainBytes: 6000,
    maxBytes: 10_000,
    cacheRecords: 5,
  });
  for (let i = 0; i < 1000; i++) await j.append({ i, pad: 'x'.repeat(20) });
  const stats = j.stats();
  assert.ok(stats.segments >= 3 && stats.segments <= 5, `${stats.segments} segments`);
  const onDisk = await journalDiskBytes(dir);
  assert.ok(onDisk <= 6000 + 2 * 2000, `${onDisk} bytes on disk`);
  assert.is(stats.droppedRecords, 0, 'no consumer: nothing counts as dropped');
  // Reads from disk (cache holds 5) start at the oldest record kept and run in order.
  const rows = await j.read(1, 10_000);
  assert.is(rows[0].seq, stats.firstSeq);
  assert.is(rows[rows.length - 1].seq, 1000);
  assert.equal(
    rows.map((r) => r.seq),
    Array.from({ length: 1000 - stats.firstSeq + 1 }, (_, k) => stats.firstSeq + k),
  );
  await j.close();
  const again = await Journal.open({ dir, segmentBytes: 2000, retainBytes: 6000, maxBytes: 10_000 });
  assert.is(again.recovered.lastSeq, 1000);
  assert.is(again.stats().firstSeq, stats.firstSeq);
  await again.close();
});

journal('a consumer cursor holds segments until maxBytes, then the drop is counted', async ({ dir }) => {
  const opts = { dir, segmentBytes: 2000, retainBytes: 2000, maxBytes: 8000 };
  const j = await Journal.open(opts);
  assert.is(j.addConsumer('influx'), 0);
  for (let i = 0; i < 100; i++) await j.append({ i, pad: 'y'.repeat(20) });
  assert.is(j.stats().firstSeq, 1, 'unread records kept');
  j.setCursor('influx', 60);
  for (let i = 0; i < 400; i++) await j.append({ i, pad: 'y'.repeat(20) });
  const s = j.stats();
  assert.ok(s.droppedRecords > 0, 'past maxBytes the oldest unread segments go');
  assert.ok((await journalDiskBytes(dir)) <= 8000 + 2000);
  await j.close();
  const again = await Journal.open(opts);
  assert.is(again.cursor('influx'), 60, 'cursor persisted');
  again.removeConsumer('influx');
  await again.close();
  const third = await Journal.open(opts);
  assert.is(third.cursor('influx'), 0, 'a removed consumer is forgotten');
  for (let i = 0; i < 200; i++) await third.append({ i, pad: 'y'.repeat(20) });
  assert.is(third.stats().droppedRecords, 0, 'nothing waits for it any more');
  await third.close();
});

journal('a failed write (disk full) rejects only its batch; the journal stays clean', async ({ dir }) => {
  const j = await Journal.open<{ i: number }>({ dir });
  await j.append({ i: 1 });
  // Fault injection: the next write gets half its bytes out, then the disk is full.
  const internals = j as unknown as { writeAll: (h: FileHandle, b: Buffer) => Promise<void> };
  const real = internals.writeAll.bind(j);
  internals.writeAll = async (handle, buf) => {
    internals.writeAll = real;
    await handle.write(buf, 0, buf.length >> 1);
    throw new Error('ENOSPC: no space left on device');
  };
  await j.append({ i: 2 }).then(
    () => assert.unreachable('a failed write must not be acknowledged'),
    (err: Error) => {
      assert.instance(err, StateError);
      assert.match(err.message, 'ENOSPC');
    },
  );
  assert.is(await j.append({ i: 3 }), 2, 'the failed seq is given back');
  await j.close();
  const again = await Journal.open<{ i: number }>({ dir });
  assert.is(again.recovered.tornBytes, 0, 'the half-written batch was cut at once');
  assert.equal(
    (await again.read(1, 10)).map((r) => r.data.i),
    [1, 3],
  );
  await again.close();
});

journal('bad options name the field', async ({ dir }) => {
  await Journal.open({ dir, segmentBytes: 0 }).then(
    () => assert.unreachable(),
    (err: ConfigError) => {
      assert.instance(err, ConfigError);
      assert.is(err.field, 'segmentBytes');
    },
  );
  await Journal.open({ dir, segmentBytes: 1000, maxBytes: 1500 }).then(
    () => assert.unreachable(),
    (err: ConfigError) => assert.is(err.field, 'maxBytes'),
  );
});

journal('kill -9 while appending: every acknowledged seq is on disk after recovery', async ({ dir }) => {
  // A child appends as fast as it can and prints each seq once append() resolved (= acknowledged).
  const script = `
    const { Journal } = require(${JSON.stringify(path.join(ROOT, 'gateway/store/journal.ts'))});
    (async () => {
      const j = await Journal.open({ dir: ${JSON.stringify(dir)}, segmentBytes: 20000, retainBytes: 1e9, maxBytes: 2e9 });
      let n = 0;
      const burst = () => { for (let k = 0; k < 50; k++) j.append({ n: n++, pad: 'z'.repeat(40) }).then((seq) => process.stdout.write(seq + '\\n')); };
      setInterval(burst, 1);
    })();
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.split('\n').length > 3000) resolve();
    });
    // A child that dies early (or never gets going) ends the wait; the checks below then fail.
    child.on('exit', () => resolve());
    setTimeout(resolve, 30_000).unref();
  });
  assert.is(child.exitCode, null, 'the child was still appending when killed');
  child.kill('SIGKILL');
  await exited;
  const acked = out
    .split('\n')
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
  const maxAcked = Math.max(...acked);
  const j = await Journal.open<{ n: number }>({ dir, segmentBytes: 20000, retainBytes: 1e9, maxBytes: 2e9 });
  assert.ok(j.recovered.lastSeq >= maxAcked, `recovered ${j.recovered.lastSeq} ≥ acked ${maxAcked}`);
  const rows = await j.read(1, j.recovered.lastSeq);
  const onDisk = new Set(rows.map((r) => r.seq));
  const missing = acked.filter((s) => !onDisk.has(s));
  assert.equal(missing, [], `${missing.length} acknowledged records missing`);
  assert.ok(segmentFiles(dir).length > 1, 'rotated while being killed');
  await j.close();
});

journal.run();
