/**
 * The Grafana dashboard for the InfluxDB measurements the gateway writes, generated from the one
 * schema (gateway/store/measurements.ts) so a query can never name a measurement or field the writer
 * does not write. Each panel names the fields it plots; a panel whose fields the schema does not
 * have (yet) is left out and reported, and appears when the writer starts writing them.
 * `hepek-dashboard.json` is this function's output (test/grafana.test.ts checks it is current).
 */

/** The part of a MeasurementSpec (gateway/store/measurements.ts) the dashboard needs. */
export interface SchemaMeasurement {
  name: string;
  tags: ReadonlyArray<{ name: string }>;
  fields: ReadonlyArray<{ name: string; unit: string; description: string }>;
}

type Aggregate = 'mean' | 'last' | 'energy';

export interface PanelSpec {
  title: string;
  description: string;
  /** Grafana unit id. */
  unit: string;
  kind: 'timeseries' | 'bars';
  measurement: string;
  /** Fields plotted, with the legend name and how they are aggregated per interval. */
  series: ReadonlyArray<{ field: string; alias: string; aggregate: Aggregate }>;
  min?: number;
  max?: number;
}

/** What HEPEK wants to see; price and ERGON panels wait for their measurements. */
export const PANELS: readonly PanelSpec[] = [
  {
    title: 'Grid energy per interval',
    description:
      'Energy imported from and exported to the grid in each interval, from the cumulative meter counters.',
    unit: 'kwatth',
    kind: 'bars',
    measurement: 'hepek_meter',
    series: [
      { field: 'importWh', alias: 'import', aggregate: 'energy' },
      { field: 'exportWh', alias: 'export', aggregate: 'energy' },
    ],
  },
  {
    title: 'Power',
    description:
      'Net grid power (+ import, − export), household load, PV, battery (+ charging) and heat pump.',
    unit: 'watt',
    kind: 'timeseries',
    measurement: 'hepek_meter',
    series: [
      { field: 'powerW', alias: 'grid', aggregate: 'mean' },
      { field: 'loadW', alias: 'load', aggregate: 'mean' },
      { field: 'pvW', alias: 'PV', aggregate: 'mean' },
      { field: 'batteryW', alias: 'battery', aggregate: 'mean' },
      { field: 'hvacW', alias: 'heat pump / AC', aggregate: 'mean' },
    ],
  },
  {
    title: 'Battery state of charge',
    description: 'State of charge of the home battery.',
    unit: 'percent',
    kind: 'timeseries',
    measurement: 'hepek_meter',
    series: [{ field: 'batterySocPercent', alias: 'SoC', aggregate: 'last' }],
    min: 0,
    max: 100,
  },
  {
    title: 'Temperatures',
    description: 'Indoor and outdoor temperature seen by the thermostat.',
    unit: 'celsius',
    kind: 'timeseries',
    measurement: 'hepek_meter',
    series: [
      { field: 'indoorC', alias: 'indoor', aggregate: 'mean' },
      { field: 'outdoorC', alias: 'outdoor', aggregate: 'mean' },
    ],
  },
  {
    title: 'Price vs forecast',
    description: 'The tariff in force and the forecaster’s price for the same time, ERGON/kWh.',
    unit: 'none',
    kind: 'timeseries',
    measurement: 'hepek_price',
    series: [
      { field: 'priceErgonPerKWh', alias: 'price', aggregate: 'mean' },
      { field: 'forecastErgonPerKWh', alias: 'forecast', aggregate: 'mean' },
    ],
  },
  {
    title: 'ERGON flows',
    description:
      'ERGON paid through the channel, earned for export and from market sales, and bought, per interval.',
    unit: 'none',
    kind: 'bars',
    measurement: 'hepek_ergon',
    series: [
      { field: 'paidErgon', alias: 'paid', aggregate: 'energy' },
      { field: 'rewardErgon', alias: 'export rewards', aggregate: 'energy' },
      { field: 'marketErgon', alias: 'market sales', aggregate: 'energy' },
      { field: 'purchasedErgon', alias: 'purchased', aggregate: 'energy' },
    ],
  },
];

const DATASOURCE = { type: 'influxdb', uid: '${DS_INFLUXDB}' };

/** InfluxQL builder `select` parts for one series. */
function selectParts(
  s: PanelSpec['series'][number],
  unit: string,
): Array<{ type: string; params: string[] }> {
  const field = { type: 'field', params: [s.field] };
  if (s.aggregate === 'energy') {
    // Cumulative counters (Wh) → what accrued per interval; Wh → kWh for the kWh unit.
    const parts = [field, { type: 'last', params: [] }, { type: 'difference', params: [] }];
    return unit === 'kwatth' ? [...parts, { type: 'math', params: ['/ 1000'] }] : parts;
  }
  return [field, { type: s.aggregate, params: [] }];
}

export interface BuiltDashboard {
  dashboard: Record<string, unknown>;
  /** Panels left out, with the measurement.field they wait for. */
  missing: Array<{ title: string; needs: string[] }>;
}

export function buildDashboard(schema: readonly SchemaMeasurement[]): BuiltDashboard {
  const fieldsOf = new Map(schema.map((m) => [m.name, new Set(m.fields.map((f) => f.name))]));
  const missing: BuiltDashboard['missing'] = [];
  const panels: Array<Record<string, unknown>> = [];
  let y = 0;
  for (const spec of PANELS) {
    const known = fieldsOf.get(spec.measurement);
    const needs = spec.series
      .filter((s) => !known?.has(s.field))
      .map((s) => `${spec.measurement}.${s.field}`);
    if (needs.length > 0) {
      missing.push({ title: spec.title, needs });
      continue;
    }
    const id = panels.length + 1;
    panels.push({
      id,
      type: spec.kind === 'bars' ? 'barchart' : 'timeseries',
      title: spec.title,
      description: spec.description,
      datasource: DATASOURCE,
      gridPos: { h: 8, w: 12, x: (id - 1) % 2 === 0 ? 0 : 12, y },
      fieldConfig: {
        defaults: {
          unit: spec.unit,
          ...(spec.min !== undefined ? { min: spec.min } : {}),
          ...(spec.max !== undefined ? { max: spec.max } : {}),
          custom:
            spec.kind === 'bars' ? {} : { drawStyle: 'line', lineInterpolation: 'smooth', spanNulls: true },
        },
        overrides: [],
      },
      options: {
        legend: { displayMode: 'list', placement: 'bottom', showLegend: true },
        tooltip: { mode: 'multi' },
      },
      targets: spec.series.map((s, i) => ({
        refId: String.fromCharCode(65 + i),
        datasource: DATASOURCE,
        measurement: spec.measurement,
        policy: 'default',
        resultFormat: 'time_series',
        alias: s.alias,
        rawQuery: false,
        select: [selectParts(s, spec.unit)],
        tags: [{ key: 'serial', operator: '=~', value: '/^$serial$/' }],
        groupBy: [
          { type: 'time', params: ['$__interval'] },
          { type: 'fill', params: ['null'] },
        ],
      })),
    });
    if (id % 2 === 0) y += 8;
  }
  const tagMeasurement = schema.find((m) => m.tags.some((t) => t.name === 'serial'))?.name ?? 'hepek_meter';
  return {
    missing,
    dashboard: {
      __inputs: [
        {
          name: 'DS_INFLUXDB',
          label: 'InfluxDB',
          description: 'The InfluxDB 1.x database the HEPEK gateway writes to (settings.influx).',
          type: 'datasource',
          pluginId: 'influxdb',
          pluginName: 'InfluxDB',
        },
      ],
      title: 'HEPEK',
      uid: 'hepek-gateway',
      description:
        'Energy, power, battery and temperatures of HEPEK gateways (generated from gateway/store/measurements.ts).',
      tags: ['hepek', 'energy'],
      timezone: 'browser',
      schemaVersion: 39,
      version: 1,
      editable: true,
      refresh: '30s',
      time: { from: 'now-24h', to: 'now' },
      templating: {
        list: [
          {
            name: 'DS_INFLUXDB',
            label: 'Data source',
            type: 'datasource',
            query: 'influxdb',
            current: {},
            hide: 0,
          },
          {
            name: 'serial',
            label: 'Gateway',
            type: 'query',
            datasource: DATASOURCE,
            query: `SHOW TAG VALUES FROM "${tagMeasurement}" WITH KEY = "serial"`,
            refresh: 2,
            multi: true,
            includeAll: true,
            current: {},
            hide: 0,
          },
        ],
      },
      panels,
    },
  };
}

/**
 * Every way a dashboard's queries could name something the writer does not write: each InfluxQL
 * builder target's measurement, field params and tag keys, each raw query's FROM and quoted
 * identifiers, and the template variables' `SHOW TAG VALUES FROM … WITH KEY = …`. Empty = good.
 */
export function dashboardQueryProblems(dashboard: unknown, schema: readonly SchemaMeasurement[]): string[] {
  const problems: string[] = [];
  const byName = new Map(schema.map((m) => [m.name, m]));
  const d = dashboard as {
    panels?: Array<{ title?: string; targets?: Array<Record<string, unknown>> }>;
    templating?: { list?: Array<{ name?: string; type?: string; query?: unknown }> };
  };
  const fieldsOf = (m: string) => new Set(byName.get(m)?.fields.map((f) => f.name) ?? []);
  const tagsOf = (m: string) => new Set(byName.get(m)?.tags.map((t) => t.name) ?? []);
  let queries = 0;
  for (const panel of d.panels ?? [])
    for (const target of panel.targets ?? []) {
      queries++;
      const where = `panel "${panel.title}" query ${String(target.refId)}`;
      if (target.rawQuery === true) {
        const text = String(target.query ?? '');
        const from = /FROM\s+"([^"]+)"/i.exec(text)?.[1];
        if (!from || !byName.has(from)) {
          problems.push(`${where}: FROM ${JSON.stringify(from)} is not a measurement the writer writes`);
          continue;
        }
        for (const [, ident] of text.matchAll(/"([^"]+)"/g))
          if (ident !== from && !fieldsOf(from).has(ident!) && !tagsOf(from).has(ident!))
            problems.push(`${where}: "${ident}" is neither a field nor a tag of ${from}`);
        continue;
      }
      const measurement = String(target.measurement ?? '');
      if (!byName.has(measurement)) {
        problems.push(`${where}: measurement ${JSON.stringify(measurement)} is not one the writer writes`);
        continue;
      }
      const selects = (target.select ?? []) as Array<Array<{ type: string; params?: unknown[] }>>;
      if (selects.length === 0) problems.push(`${where}: selects no field`);
      for (const parts of selects)
        for (const part of parts)
          if (part.type === 'field' && !fieldsOf(measurement).has(String(part.params?.[0])))
            problems.push(
              `${where}: field ${JSON.stringify(part.params?.[0])} is not written to ${measurement}`,
            );
      for (const tag of (target.tags ?? []) as Array<{ key: string }>)
        if (!tagsOf(measurement).has(tag.key))
          problems.push(`${where}: tag ${JSON.stringify(tag.key)} is not a tag of ${measurement}`);
    }
  for (const variable of d.templating?.list ?? []) {
    if (variable.type !== 'query') continue;
    queries++;
    const m = /^SHOW TAG VALUES FROM "([^"]+)" WITH KEY = "([^"]+)"$/.exec(String(variable.query));
    if (!m)
      problems.push(
        `variable ${variable.name}: query ${JSON.stringify(variable.query)} is not SHOW TAG VALUES`,
      );
    else if (!tagsOf(m[1]!).has(m[2]!))
      problems.push(`variable ${variable.name}: ${m[1]} has no tag ${JSON.stringify(m[2])}`);
  }
  if (queries === 0) problems.push('the dashboard has no queries');
  return problems;
}

/**
 * The InfluxQL Grafana sends for a builder target (its `InfluxQueryModel.render`, reduced to the
 * parts this dashboard uses), with Grafana's macros replaced: `$serial` → `serial` (regex-escaped,
 * as Grafana does), `$timeFilter` → `timeFilter`, `$__interval` → `interval`. Lets a test run the
 * dashboard's queries against a real InfluxDB.
 */
export function renderTarget(
  target: Record<string, unknown>,
  vars: { serial: string; timeFilter: string; interval: string },
): string {
  const parts = ((target.select ?? []) as Array<Array<{ type: string; params?: string[] }>>)[0] ?? [];
  let expr = '';
  for (const part of parts) {
    if (part.type === 'field') expr = `"${part.params![0]}"`;
    else if (part.type === 'math') expr = `${expr} ${part.params![0]}`;
    else expr = `${part.type}(${expr})`;
  }
  const alias = typeof target.alias === 'string' ? ` AS "${target.alias}"` : '';
  const tags = ((target.tags ?? []) as Array<{ key: string; operator: string; value: string }>).map(
    (t) => `"${t.key}" ${t.operator} ${t.value.replace('$serial', vars.serial)}`,
  );
  const where = [...tags.map((t) => `(${t})`), vars.timeFilter].join(' AND ');
  const groupBy = ((target.groupBy ?? []) as Array<{ type: string; params: string[] }>)
    .filter((g) => g.type === 'time')
    .map((g) => `time(${g.params[0]!.replace('$__interval', vars.interval)})`);
  const fill = ((target.groupBy ?? []) as Array<{ type: string; params: string[] }>).find(
    (g) => g.type === 'fill',
  );
  return `SELECT ${expr}${alias} FROM "${String(target.measurement)}" WHERE ${where}${
    groupBy.length ? ` GROUP BY ${groupBy.join(', ')}` : ''
  }${fill ? ` fill(${fill.params[0]})` : ''}`;
}
