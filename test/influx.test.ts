import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Journal } from '../gateway/store/journal';
import { InfluxWriter, parseInfluxSettings, type InfluxWriterOptions } from '../gateway/store/influx';
import { METER_MEASUREMENT, entryToPoint, type JournalEntry } from '../gateway/store/measurements';
import { SimulatedHome } from '../gateway/sim/home';
import { ConfigError } from '../gateway/errors';
import { freePort, removeDir, tempDir } from './helpers/gateway';
import { haveInfluxd, startInfluxd } from './helpers/influxd';

const SOLSTICE = Date.UTC(2025, 5, 21);
const QUIET = { info: () => {}, warn: () => {} };

/** Rejects with `what` if `promise` has not settled within `ms` (a hung stream fails, never stalls). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function writerOptions(url: string, extra: Partial<InfluxWriterOptions> = {}): InfluxWriterOptions {
  return {
    ...parseInfluxSettings({ url, database: 'hepek_test' }),
    batchSize: 200,
    flushIntervalMs: 20,
    minRetryDelayMs: 20,
    maxRetryDelayMs: 200,
    timeoutMs: 2000,
    ...extra,
  };
}

/** Appends `n` readings of a simulated home with a battery, one simulated minute apart. */
async function appendReadings(
  journal: Journal<JournalEntry>,
  home: SimulatedHome,
  n: number,
  after?: () => void,
) {
  for (let i = 0; i < n; i++) {
    const reading = home.advance(60);
    await journal.append({ kind: 'meter', source: home.kind, reading: { ...reading } });
    after?.();
  }
}

// ---------------------------------------------------------------------------------------------
const schema = suite('measurement schema');

schema('a home reading becomes one point with every field of the schema, typed and tagged', () => {
  const home = new SimulatedHome({ startTime: SOLSTICE, battery: {}, thermal: {} });
  const reading = home.advance(600);
  const point = entryToPoint({ kind: 'meter', source: 'simulated', reading: { ...reading } }, 42, 'HPK-1');
  assert.ok(point);
  assert.is(point!.measurement, 'hepek_meter');
  assert.equal(point!.tags, { serial: 'HPK-1', source: 'simulated' });
  assert.equal(Object.keys(point!.fields!).sort(), METER_MEASUREMENT.fields.map((f) => f.name).sort());
  assert.is(point!.fields!.seq, 42);
  assert.is((point!.timestamp as Date).getTime(), Date.parse(reading.timestamp));
});

schema('a plain meter reading leaves the optional fields out; a bad one is no point', () => {
  const reading = {
    timestamp: '2025-06-21T00:00:00Z',
    importWh: 10,
    exportWh: 2,
    powerW: 5,
    loadW: 5,
    pvW: 0,
  };
  const point = entryToPoint({ kind: 'meter', source: 'dsmr', reading }, 1, 'S');
  assert.equal(Object.keys(point!.fields!).sort(), ['exportWh', 'importWh', 'loadW', 'powerW', 'pvW', 'seq']);
  assert.is(
    entryToPoint({ kind: 'meter', source: 'x', reading: { ...reading, timestamp: 'never' } }, 1, 'S'),
    null,
  );
  assert.is(
    entryToPoint({ kind: 'meter', source: 'x', reading: { ...reading, importWh: NaN } }, 1, 'S'),
    null,
  );
  for (const f of METER_MEASUREMENT.fields) assert.ok(f.description && f.unit !== undefined, f.name);
});

schema('influx settings: a bad URL or database names the field', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ url: 'ftp://x', database: 'd' }, 'influx.url'],
    [{ url: 'not a url', database: 'd' }, 'influx.url'],
    [{ url: 'http://127.0.0.1:8086', database: '' }, 'influx.database'],
    [{ url: 'http://127.0.0.1:8086', database: 'd', batchSize: 0 }, 'influx.batchSize'],
  ];
  for (const [raw, field] of cases) {
    try {
      parseInfluxSettings(raw as never);
      assert.unreachable(field);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).field, field);
    }
  }
  assert.is(parseInfluxSettings({ url: 'http://h:8086', database: 'd' }).batchSize, 500);
});

schema.run();

// ---------------------------------------------------------------------------------------------
interface Ctx {
  dir: string;
}
const writer = suite<Ctx>('InfluxWriter');

writer.before.each((ctx) => {
  ctx.dir = tempDir('influx');
});
writer.after.each((ctx) => {
  removeDir(ctx.dir);
});

writer(
  'with InfluxDB unreachable, points wait in the journal and the cursor does not move',
  async ({ dir }) => {
    const journal = await Journal.open<JournalEntry>({ dir });
    const port = await freePort(); // nothing listens here
    const w = new InfluxWriter(writerOptions(`http://127.0.0.1:${port}`), {
      journal,
      serial: 'S',
      log: QUIET,
    });
    await appendReadings(journal, new SimulatedHome({ startTime: SOLSTICE }), 50);
    await w.drainOnce().then(
      () => assert.unreachable('no server'),
      (err: Error) => assert.match(err.message, /ECONNREFUSED|No host available/),
    );
    assert.equal([w.stats().cursor, w.stats().backlog], [0, 50]);
    await w.stop();
    await journal.close();
  },
);

writer('with authentication, a write-only user writes to an existing database', async ({ dir }) => {
  if (!haveInfluxd()) {
    if (process.env.CI)
      assert.unreachable('CI is set but influxd is not installed (apt-get install influxdb)');
    console.log('  skipped: influxd not installed (Debian package influxdb)');
    return;
  }
  const influxd = await startInfluxd(`${dir}/influxd`, { authEnabled: true });
  const admin = { username: 'admin', password: 'admin-pass' };
  const journal = await Journal.open<JournalEntry>({ dir: `${dir}/journal` });
  try {
    await influxd.query('', `CREATE USER admin WITH PASSWORD '${admin.password}' WITH ALL PRIVILEGES`);
    for (const q of [
      'CREATE DATABASE hepek_auth',
      "CREATE USER meter WITH PASSWORD 'meter-pass'",
      'GRANT WRITE ON hepek_auth TO meter',
    ])
      assert.is((await influxd.query('', q, admin)).results[0].error, undefined, q);
    await appendReadings(journal, new SimulatedHome({ startTime: SOLSTICE }), 20);
    const denied = new InfluxWriter(writerOptions(influxd.url, { database: 'hepek_auth' }), {
      journal,
      serial: 'S',
      log: QUIET,
    });
    await denied.drainOnce().then(
      () => assert.unreachable('no credentials'),
      (err: Error) => assert.match(err.message, /authori[sz]/i),
    );
    const w = new InfluxWriter(
      writerOptions(influxd.url, { database: 'hepek_auth', username: 'meter', password: 'meter-pass' }),
      { journal, serial: 'S', log: QUIET },
    );
    await w.drainOnce();
    assert.is(w.stats().written, 20);
    const count = await influxd.query('hepek_auth', 'SELECT count(seq) FROM hepek_meter', admin);
    assert.is(count.results[0].series?.[0].values[0][1], 20);
  } finally {
    await journal.close();
    await influxd.kill();
  }
});

writer('real influxd restarted (SIGKILL) mid-stream: 0 points lost', async ({ dir }) => {
  if (!haveInfluxd()) {
    if (process.env.CI)
      assert.unreachable('CI is set but influxd is not installed (apt-get install influxdb)');
    console.log('  skipped: influxd not installed (Debian package influxdb)');
    return;
  }
  const influxd = await startInfluxd(`${dir}/influxd`);
  const journal = await Journal.open<JournalEntry>({ dir: `${dir}/journal` });
  const w = new InfluxWriter(writerOptions(influxd.url), { journal, serial: 'HPK-TEST', log: QUIET });
  try {
    w.start();
    const home = new SimulatedHome({ startTime: SOLSTICE, battery: {}, batterySetpoint: 'self-consumption' });
    const total = 3000;
    // A stream in slices, so the writer runs between them; influxd dies a third of the way in.
    for (let written = 0; written < total; written += 100) {
      await appendReadings(journal, home, 100, () => w.notify());
      await new Promise((r) => setImmediate(r));
      if (written === 1000) {
        await within(w.whenDrained(), 20_000, 'writer drained before the kill');
        await influxd.kill();
      }
      if (written === 1800) await influxd.start();
    }
    await within(w.whenDrained(), 30_000, 'writer drained after the restart');
    const stats = w.stats();
    assert.ok(stats.failures > 0, 'the outage was noticed (else the test proved nothing)');
    assert.is(stats.backlog, 0);
    const result = await influxd.query('hepek_test', 'SELECT count(seq) FROM hepek_meter');
    const count = result.results[0].series?.[0].values[0][1];
    assert.is(count, total, `${count} of ${total} points in InfluxDB`);
    const last = await influxd.query('hepek_test', 'SELECT last(seq) FROM hepek_meter');
    assert.is(last.results[0].series?.[0].values[0][1], total);
  } finally {
    await w.stop();
    await journal.close();
    await influxd.kill();
  }
});

writer.run();
