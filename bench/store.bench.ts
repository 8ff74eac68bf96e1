/**
 * What durability costs: journal appends with one fdatasync each (the baseline: what a naive
 * "sync every record" journal does) against group commit (concurrent appends share a sync), the
 * recovery rate at restart, and — when Debian's influxd is installed — how fast the InfluxDB
 * writer drains a journal backlog into a real influxd.
 *
 *   npm run bench -- store [records]      (default 20000)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SimulatedHome } from '../gateway/sim/home';
import { InfluxWriter, parseInfluxSettings } from '../gateway/store/influx';
import { Journal } from '../gateway/store/journal';
import type { JournalEntry } from '../gateway/store/measurements';
import { haveInfluxd, startInfluxd } from '../test/helpers/influxd';
import { report } from './report';

const records = Number(process.argv[2] ?? 20_000);
const SEQUENTIAL = Math.min(2000, records);
const PRODUCERS = 64;

function readings(n: number): JournalEntry[] {
  const home = new SimulatedHome({
    startTime: Date.UTC(2025, 5, 21),
    battery: {},
    batterySetpoint: 'self-consumption',
  });
  return Array.from({ length: n }, () => ({
    kind: 'meter' as const,
    source: 'simulated',
    reading: { ...home.advance(60) },
  }));
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hepek-bench-store-'));
  try {
    const entries = readings(records);

    // Baseline: each append waits for its own fdatasync before the next is made.
    const seqJournal = await Journal.open<JournalEntry>({ dir: path.join(dir, 'sequential') });
    let t = performance.now();
    for (let i = 0; i < SEQUENTIAL; i++) await seqJournal.append(entries[i]);
    const sequentialPerSec = SEQUENTIAL / ((performance.now() - t) / 1000);
    await seqJournal.close();

    // Group commit: 64 producers (meters, nodes) each append and wait for their ack before the
    // next; appends in flight at the same time share one fdatasync.
    const groupDir = path.join(dir, 'group');
    const group = await Journal.open<JournalEntry>({ dir: groupDir });
    t = performance.now();
    let next = 0;
    const producer = async () => {
      while (next < records) await group.append(entries[next++]);
    };
    await Promise.all(Array.from({ length: PRODUCERS }, producer));
    const groupPerSec = records / ((performance.now() - t) / 1000);
    const { syncs } = group.stats();
    await group.close();

    // Recovery: reopen and validate every record (CRC, JSON, sequence).
    t = performance.now();
    const reopened = await Journal.open<JournalEntry>({ dir: groupDir });
    const recoveryPerSec = reopened.recovered.records / ((performance.now() - t) / 1000);

    let influxPerSec = NaN;
    if (haveInfluxd()) {
      const influxd = await startInfluxd(path.join(dir, 'influxd'));
      try {
        const writer = new InfluxWriter(
          { ...parseInfluxSettings({ url: influxd.url, database: 'bench' }), batchSize: 5000 },
          { journal: reopened, serial: 'BENCH', log: { info: () => {}, warn: () => {} } },
        );
        t = performance.now();
        await writer.drainOnce();
        influxPerSec = writer.stats().written / ((performance.now() - t) / 1000);
        await writer.stop();
      } finally {
        await influxd.kill();
      }
    }
    await reopened.close();

    const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a (influxd not installed)');
    report(
      'store',
      [
        ['records', String(records)],
        ['baseline: one fdatasync per append, appends/s', fmt(sequentialPerSec)],
        [`group commit (${PRODUCERS} producers), appends/s`, fmt(groupPerSec)],
        ['group commit / baseline', (groupPerSec / sequentialPerSec).toFixed(1)],
        ['records per fdatasync (group commit)', (records / syncs).toFixed(1)],
        ['recovery at restart, records/s', fmt(recoveryPerSec)],
        ['journal → real influxd, points/s (batch 5000)', fmt(influxPerSec)],
      ],
      {
        records,
        sequentialAppendsPerSec: Math.round(sequentialPerSec),
        groupCommitAppendsPerSec: Math.round(groupPerSec),
        groupCommitSpeedup: Number((groupPerSec / sequentialPerSec).toFixed(2)),
        recordsPerSync: Number((records / syncs).toFixed(1)),
        recoveryRecordsPerSec: Math.round(recoveryPerSec),
        ...(Number.isFinite(influxPerSec) ? { influxPointsPerSec: Math.round(influxPerSec) } : {}),
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
