/**
 * End to end: the real `hepek start` streams readings at high simulator speed, is killed with
 * SIGKILL, and restarts. Every reading an MQTT subscriber saw (= acknowledged: the gateway
 * publishes a reading only after the journal fsynced it) must be in the journal afterwards,
 * unchanged, and the meter must carry on from the last acknowledged reading.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt from 'mqtt';
import path from 'node:path';
import { Journal } from '../gateway/store/journal';
import { haveInfluxd, startInfluxd } from './helpers/influxd';
import type { MeterEntry } from '../gateway/store/measurements';
import type { HomeReading } from '../gateway/sim/home';
import {
  GATEWAY_LOGIN,
  editorUrl,
  gatewayPorts,
  getJson,
  removeDir,
  startGateway,
  stopCli,
  tempDir,
  until,
  waitForStatus,
  writeSettings,
  type GatewayPorts,
  type RunningCli,
} from './helpers/gateway';

type Acked = HomeReading & { seq: number };

/** Rejects with `what` if `promise` has not settled within `ms` (a hung stream fails, never stalls). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Ctx {
  dir: string;
  ports: GatewayPorts;
  clis: RunningCli[];
}
const e2e = suite<Ctx>('journal end to end');

e2e.before.each(async (ctx) => {
  ctx.dir = tempDir('e2e-journal');
  ctx.ports = await gatewayPorts();
  ctx.clis = [];
});

e2e.after.each(async (ctx) => {
  for (const cli of ctx.clis) await stopCli(cli);
  removeDir(ctx.dir);
});

async function boot(ctx: Ctx, settings: string) {
  const cli = startGateway(settings);
  ctx.clis.push(cli);
  const status = (await waitForStatus(cli, ctx.ports, 'the gateway status endpoint')) as {
    serial: string;
    journal: { lastSeq: number };
  };
  return { cli, status };
}

/** Subscribes to the meter topic and resolves once `enough` says so, keeping every message. */
async function collect(url: string, topic: string, seen: Acked[], enough: (seen: Acked[]) => boolean) {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...GATEWAY_LOGIN });
  let done!: () => void;
  const reached = new Promise<void>((resolve) => (done = resolve));
  client.on('message', (_t, payload) => {
    seen.push(JSON.parse(payload.toString()) as Acked);
    if (enough(seen)) done();
  });
  await client.subscribeAsync(topic, { qos: 0 });
  return { reached, client };
}

e2e('kill -9 while readings stream: after restart 0 acknowledged readings are missing', async (ctx) => {
  // 50 readings a second, each half an hour of simulated time apart.
  const settings = writeSettings(ctx.dir, ctx.ports, { meter: { speed: 90_000, intervalMs: 20 } });
  const first = await boot(ctx, settings);
  const topic = `hepek/${first.status.serial}/meter`;
  const url = `mqtt://127.0.0.1:${ctx.ports.broker}`;
  const seen: Acked[] = [];
  const sub = await collect(url, topic, seen, (s) => s.length >= 200);
  await within(sub.reached, 30_000, '200 readings on MQTT');
  first.cli.proc.kill('SIGKILL');
  const { signal } = await first.cli.exited;
  assert.is(signal, 'SIGKILL');
  sub.client.end(true);
  const acked = seen.filter((m) => typeof m.seq === 'number');
  assert.is(acked.length, seen.length, 'every published reading carries its journal seq');
  const maxSeen = Math.max(...acked.map((m) => m.seq));

  // Restart: the journal is read back and the meter continues from the last acknowledged reading.
  const second = await boot(ctx, settings);
  assert.ok(
    second.status.journal.lastSeq >= maxSeen,
    `journal at ${second.status.journal.lastSeq} ≥ ${maxSeen}`,
  );
  const after: Acked[] = [];
  const sub2 = await collect(url, topic, after, (s) => s.some((m) => m.seq > maxSeen + 5));
  await within(sub2.reached, 30_000, 'readings after the restart');
  await sub2.client.endAsync();
  const resumed = after.find((m) => m.seq > maxSeen)!;
  const lastBefore = acked.reduce((a, b) => (b.seq > a.seq ? b : a));
  assert.ok(Date.parse(resumed.timestamp) > Date.parse(lastBefore.timestamp), 'simulated time went on');
  assert.ok(
    resumed.importWh >= lastBefore.importWh && resumed.exportWh >= lastBefore.exportWh,
    'counters carried over',
  );
  const stopped = await stopCli(second.cli);
  assert.is(stopped.code, 0);

  // Every acknowledged reading is in the journal, exactly as published.
  const journal = await Journal.open<MeterEntry>({ dir: path.join(ctx.dir, 'user', 'journal') });
  const records = await journal.read(1, journal.recovered.lastSeq);
  await journal.close();
  const bySeq = new Map(records.map((r) => [r.seq, r.data.reading]));
  const missing = acked.filter((m) => {
    const stored = bySeq.get(m.seq);
    const { seq: _seq, ...reading } = m;
    return !stored || JSON.stringify(stored) !== JSON.stringify(reading);
  });
  assert.equal(
    missing.map((m) => m.seq),
    [],
    `${missing.length} of ${acked.length} acknowledged readings missing or changed`,
  );
  assert.equal(
    records.map((r) => r.seq),
    Array.from({ length: records.length }, (_, i) => i + 1),
    'consecutive seqs, none reused after the crash',
  );
});

e2e('with settings.influx, every acknowledged reading reaches InfluxDB with its seq', async (ctx) => {
  if (!haveInfluxd()) {
    if (process.env.CI)
      assert.unreachable('CI is set but influxd is not installed (apt-get install influxdb)');
    console.log('  skipped: influxd not installed (Debian package influxdb)');
    return;
  }
  const influxd = await startInfluxd(path.join(ctx.dir, 'influxd'));
  try {
    const settings = writeSettings(ctx.dir, ctx.ports, {
      meter: { speed: 90_000, intervalMs: 20 },
      sim: { battery: {}, batterySetpoint: 'self-consumption' },
      influx: { url: influxd.url, database: 'hepek_e2e', flushIntervalMs: 50 },
    });
    const { cli, status } = await boot(ctx, settings);
    const seen: Acked[] = [];
    const sub = await collect(
      `mqtt://127.0.0.1:${ctx.ports.broker}`,
      `hepek/${status.serial}/meter`,
      seen,
      (s) => s.length >= 50,
    );
    await within(sub.reached, 30_000, '50 readings on MQTT');
    await sub.client.endAsync();
    const maxSeen = Math.max(...seen.map((m) => m.seq));
    await until(
      'the InfluxDB writer past the readings seen',
      async () => {
        const s = (await getJson(`${editorUrl(ctx.ports)}/hepek/status`)) as {
          influx: { cursor: number };
        };
        return s.influx.cursor >= maxSeen ? true : undefined;
      },
      20_000,
      cli,
    );
    assert.is((await stopCli(cli)).code, 0);
    const result = await influxd.query(
      'hepek_e2e',
      `SELECT seq, batterySocPercent FROM hepek_meter WHERE seq <= ${maxSeen}`,
    );
    const rows = result.results[0].series?.[0].values ?? [];
    assert.equal(
      rows.map((r) => r[1]).sort((a, b) => Number(a) - Number(b)),
      Array.from({ length: maxSeen }, (_, i) => i + 1),
      'seq 1..max all in InfluxDB',
    );
    const bySeq = new Map(rows.map((r) => [r[1], r[2]]));
    for (const m of seen) assert.is(bySeq.get(m.seq), m.batterySocPercent, `seq ${m.seq} SoC`);
  } finally {
    await influxd.kill();
  }
});

e2e.run();
