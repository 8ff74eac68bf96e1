/**
 * The Grafana dashboard names only what the InfluxDB writer writes: every query's measurement,
 * fields and tags come from gateway/store/measurements.ts (the writer's one schema), and the
 * committed hepek-dashboard.json is exactly what the generator makes from that schema.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { InfluxDB } from 'influx';
import {
  buildDashboard,
  dashboardQueryProblems,
  PANELS,
  renderTarget,
} from '../gateway/integrations/grafana/dashboard';
import { DASHBOARD_FILE } from '../gateway/integrations/grafana/generate';
import { entryToPoint, MEASUREMENTS, type JournalEntry } from '../gateway/store/measurements';
import { removeDir, tempDir } from './helpers/gateway';
import { haveInfluxd, startInfluxd } from './helpers/influxd';

const grafana = suite('grafana dashboard');

const committed = () => JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Record<string, unknown>;

grafana('every query names a measurement, field and tag the writer really writes', () => {
  const dashboard = committed();
  assert.equal(dashboardQueryProblems(dashboard, MEASUREMENTS), []);
  const panels = dashboard.panels as Array<{ title: string; targets: Array<{ select: unknown[] }> }>;
  assert.ok(panels.length >= 4, `${panels.length} panels`);
  for (const title of [
    'Grid energy per interval',
    'Power',
    'Battery state of charge',
    'Temperatures',
    'Price vs forecast',
    'ERGON flows',
  ])
    assert.ok(
      panels.some((p) => p.title === title),
      `panel ${title}`,
    );
});

grafana('the committed file is the generator’s output for the current schema', () => {
  assert.equal(
    committed(),
    buildDashboard(MEASUREMENTS).dashboard,
    'run: node --import tsx gateway/integrations/grafana/generate.ts',
  );
});

grafana('panels left out are exactly those whose fields the schema lacks', () => {
  const { missing } = buildDashboard(MEASUREMENTS);
  const known = new Set(MEASUREMENTS.flatMap((m) => m.fields.map((f) => `${m.name}.${f.name}`)));
  for (const spec of PANELS) {
    const needs = spec.series.map((s) => `${spec.measurement}.${s.field}`).filter((f) => !known.has(f));
    assert.equal(missing.find((m) => m.title === spec.title)?.needs ?? [], needs, spec.title);
  }
});

grafana('the check catches a query for a field, measurement or tag that is not written', () => {
  const dashboard = committed();
  const panels = dashboard.panels as Array<{ title: string; targets: Array<Record<string, unknown>> }>;
  const target = panels[1]!.targets[0]!;
  target.select = [
    [
      { type: 'field', params: ['powerKW'] },
      { type: 'mean', params: [] },
    ],
  ];
  panels[1]!.targets.push({
    refId: 'Z',
    measurement: 'hepek_weather',
    select: [[{ type: 'field', params: ['x'] }]],
  });
  panels[1]!.targets.push({
    refId: 'Y',
    rawQuery: true,
    query: 'SELECT mean("volts") FROM "hepek_meter" WHERE $timeFilter',
  });
  (target.tags as Array<{ key: string }>).push({ key: 'room' } as never);
  assert.equal(dashboardQueryProblems(dashboard, MEASUREMENTS), [
    `panel "${panels[1]!.title}" query A: field "powerKW" is not written to hepek_meter`,
    `panel "${panels[1]!.title}" query A: tag "room" is not a tag of hepek_meter`,
    `panel "${panels[1]!.title}" query Z: measurement "hepek_weather" is not one the writer writes`,
    `panel "${panels[1]!.title}" query Y: "volts" is neither a field nor a tag of hepek_meter`,
  ]);
});

grafana('every query returns data from a real InfluxDB fed with points the writer builds', async () => {
  if (!haveInfluxd()) {
    if (process.env.CI)
      throw new Error('influxd is not installed, and CI must have it (.ci/run installs it)');
    console.log('  skipped: Debian influxdb (influxd) is not installed');
    return;
  }
  const dir = tempDir('grafana-influx');
  const influxd = await startInfluxd(dir);
  try {
    const url = new URL(influxd.url);
    const db = new InfluxDB({ host: url.hostname, port: Number(url.port), database: 'hepek' });
    await db.createDatabase('hepek');
    // Two hours of readings every 5 minutes with every field the simulated home gives.
    const start = Date.parse('2026-07-01T10:00:00Z');
    const points = Array.from({ length: 25 }, (_, i) => {
      const entry: JournalEntry = {
        kind: 'meter',
        source: 'simulated',
        reading: {
          timestamp: new Date(start + i * 300_000).toISOString(),
          importWh: 1000 + i * 40,
          exportWh: 500 + i * 25,
          powerW: 480 - i * 10,
          loadW: 900,
          pvW: 420 + i * 10,
          batteryW: 300,
          batterySocPercent: 40 + i,
          hvacW: 700,
          indoorC: 21 + i / 10,
          outdoorC: 28,
        },
      };
      return entryToPoint(entry, i + 1, 'HPK-GRAFANA-1')!;
    });
    // The ledger journal's entries: a price every 15 minutes, and 0.25 ERGON paid per cycle with
    // a purchase, a reward and a market sale along the way (cumulative totals, as the ledger writes).
    const totals = { paid: 0n, reward: 0n, market: 0n, purchased: 0n };
    const ledgerEntries: JournalEntry[] = [];
    for (let i = 0; i < 9; i++) {
      const timestamp = new Date(start + i * 900_000).toISOString();
      ledgerEntries.push({
        kind: 'price',
        timestamp,
        priceErgonPerKWh: 0.3 + i / 100,
        forecastErgonPerKWh: 0.29 + i / 100,
      });
      const moves: Array<[keyof typeof totals, bigint]> = [['paid', 250_000_000_000_000_000n]];
      if (i % 4 !== 0) moves.push([(['reward', 'market', 'purchased'] as const)[(i % 4) - 1]!, 10n ** 18n]);
      for (const [flow, deltaWei] of moves) {
        totals[flow] += deltaWei;
        ledgerEntries.push({
          kind: 'ergon',
          timestamp: new Date(start + i * 900_000 + (flow === 'paid' ? 60_000 : 120_000)).toISOString(),
          flow,
          deltaWei: deltaWei.toString(),
          totalsWei: {
            paid: totals.paid.toString(),
            reward: totals.reward.toString(),
            market: totals.market.toString(),
            purchased: totals.purchased.toString(),
          },
        });
      }
    }
    points.push(...ledgerEntries.map((e, i) => entryToPoint(e, i + 1, 'HPK-GRAFANA-1')!));
    await db.writePoints(points, { precision: 'ms' });
    const dashboard = committed();
    const vars = {
      serial: 'HPK-GRAFANA-1',
      timeFilter: "time >= '2026-07-01T10:00:00Z' AND time <= '2026-07-01T12:00:00Z'",
      interval: '15m',
    };
    let ran = 0;
    for (const panel of dashboard.panels as Array<{ title: string; targets: Array<Record<string, unknown>> }>)
      for (const target of panel.targets) {
        const q = renderTarget(target, vars);
        const result = await influxd.query('hepek', q);
        const values = (result.results[0]?.series?.[0]?.values ?? [])
          .map((row) => row[1])
          .filter((v) => v !== null);
        assert.ok(values.length > 0, `${panel.title} ${String(target.refId)}: ${q} returned no data`);
        ran++;
      }
    assert.ok(ran >= 10, `${ran} queries ran`);
    // The energy panel's kWh per interval: 3 readings × 40 Wh per 15 min = 0.12 kWh.
    const energy = (dashboard.panels as Array<{ targets: Array<Record<string, unknown>> }>)[0]!.targets[0]!;
    const rows = (await influxd.query('hepek', renderTarget(energy, vars))).results[0]!.series![0]!.values;
    assert.is(rows.find((r) => r[0] === '2026-07-01T11:00:00Z')![1], 0.12);
    // ERGON flows: 0.25 ERGON paid in every 15-minute cycle, whatever else moved in it.
    const flows = (dashboard.panels as Array<{ title: string; targets: Array<Record<string, unknown>> }>)
      .find((p) => p.title === 'ERGON flows')!
      .targets.find((t) => JSON.stringify(t.select).includes('paidErgon'))!;
    const paid = (await influxd.query('hepek', renderTarget(flows, vars))).results[0]!.series![0]!.values;
    assert.is(paid.find((r) => r[0] === '2026-07-01T11:00:00Z')![1], 0.25);
  } finally {
    await influxd.kill();
    removeDir(dir);
  }
});

grafana.run();
