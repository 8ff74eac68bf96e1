/**
 * The OpenADR 3 VEN against a small VTN written here (node:http, OpenADR 3.0.1 paths, bearer
 * token): an event becomes the normalised DEMAND, the household sheds to the import limit, and the
 * VEN reports opt-in (or opt-out when demand response is switched off) back; unchanged events are
 * not reported twice, a changed one is; a deleted one is cancelled; bad tokens and malformed events
 * are named errors. The DemandBoard then carries the DEMAND onto MQTT for Home Assistant.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../gateway/broker/embedded';
import { parseDemandEvent, type DemandEvent } from '../gateway/demand/types';
import { InputError } from '../gateway/errors';
import { DemandBoard, type DemandState } from '../gateway/integrations/openadr/board';
import { normaliseEvent, parseDuration } from '../gateway/integrations/openadr/normalise';
import type { OadrEvent } from '../gateway/integrations/openadr/oadr3';
import { OpenAdrVen, type VenOptions } from '../gateway/integrations/openadr/ven';
import { freePort } from './helpers/gateway';
import { waitForJson } from './helpers/mqtt';
import { START, START_S, TOKEN, Vtn } from './helpers/vtn';

/** A load the VEN's shed handler can turn down: 3.2 kW until it sheds to the limit. */
function household() {
  return { importKw: 3.2, shed: [] as DemandEvent[] };
}

function peakEvent(overrides: Partial<OadrEvent> = {}): OadrEvent {
  return {
    id: 'e1',
    programID: 'p1',
    eventName: 'peak 16:00',
    modificationDateTime: '2026-07-01T08:00:00Z',
    targets: [{ type: 'GROUP', values: ['feeder-7'] }],
    payloadDescriptors: [
      { objectType: 'EVENT_PAYLOAD_DESCRIPTOR', payloadType: 'IMPORT_CAPACITY_LIMIT', units: 'KW' },
    ],
    intervalPeriod: { start: START, duration: 'PT2H' },
    intervals: [
      {
        id: 0,
        payloads: [
          { type: 'SIMPLE', values: [2] },
          { type: 'IMPORT_CAPACITY_LIMIT', values: [1.5] },
        ],
      },
    ],
    ...overrides,
  };
}

interface Ctx {
  vtn: Vtn;
  home: ReturnType<typeof household>;
  allow: boolean;
  cancelled: string[];
  warnings: string[];
  ven: OpenAdrVen;
}

function makeVen(ctx: Ctx, overrides: Partial<VenOptions> = {}): OpenAdrVen {
  return new OpenAdrVen({
    baseUrl: ctx.vtn.url,
    token: TOKEN,
    venName: 'HPK-VEN-1',
    region: 'fallback-region',
    pollIntervalMs: 60_000,
    onDemand: async (event) => {
      if (!ctx.allow) return false;
      // Shed: bring the import down to the limit the event asks for.
      if (event.targetKw !== null) ctx.home.importKw = Math.min(ctx.home.importKw, event.targetKw);
      ctx.home.shed.push(event);
      return true;
    },
    onCancel: (ids) => ctx.cancelled.push(...ids),
    log: { warn: (l) => ctx.warnings.push(l), info: () => {}, debug: () => {} },
    ...overrides,
  });
}

const ven = suite<Ctx>('OpenADR 3 VEN against a VTN');

ven.before.each(async (ctx) => {
  ctx.vtn = new Vtn();
  await ctx.vtn.start();
  ctx.home = household();
  ctx.allow = true;
  ctx.cancelled = [];
  ctx.warnings = [];
  ctx.ven = makeVen(ctx);
});

ven.after.each(async (ctx) => {
  await ctx.ven.stop();
  await ctx.vtn.stop();
});

ven('event → DEMAND → shed → opt-in report', async (ctx) => {
  ctx.vtn.events.push(peakEvent());
  const result = await ctx.ven.poll();
  const expected: DemandEvent = {
    id: 'e1',
    region: 'feeder-7',
    start: START_S,
    end: START_S + 7200,
    level: 2,
    targetKw: 1.5,
    expiry: START_S + 7200,
  };
  assert.equal(result, { demands: [expected], reports: 1, errors: [] });
  assert.equal(ctx.home.shed, [expected]);
  assert.is(ctx.home.importKw, 1.5, 'the household shed to the import limit');
  assert.equal(ctx.vtn.reports, [
    {
      objectType: 'REPORT',
      programID: 'p1',
      eventID: 'e1',
      clientName: 'HPK-VEN-1',
      reportName: 'OPT_IN e1',
      payloadDescriptors: [
        {
          objectType: 'REPORT_PAYLOAD_DESCRIPTOR',
          payloadType: 'OPERATING_STATE',
          readingType: 'DIRECT_READ',
        },
        { objectType: 'REPORT_PAYLOAD_DESCRIPTOR', payloadType: 'SIMPLE_LEVEL', readingType: 'DIRECT_READ' },
      ],
      resources: [
        {
          resourceName: 'HPK-VEN-1',
          intervals: [
            {
              id: 0,
              intervalPeriod: { start: '2026-07-01T16:00:00.000Z', duration: 'PT7200S' },
              payloads: [
                { type: 'OPERATING_STATE', values: ['RUNNING_CURTAILED'] },
                { type: 'SIMPLE_LEVEL', values: [2] },
              ],
            },
          ],
        },
      ],
    },
  ]);
  assert.equal(ctx.vtn.requests, [
    'GET /openadr3/3.0.1/programs',
    'GET /openadr3/3.0.1/events',
    'POST /openadr3/3.0.1/reports',
  ]);
});

ven('with demand response switched off the VEN opts out and sheds nothing', async (ctx) => {
  ctx.allow = false;
  ctx.vtn.events.push(peakEvent());
  await ctx.ven.poll();
  assert.is(ctx.home.importKw, 3.2);
  assert.is(ctx.vtn.reports[0]!.reportName, 'OPT_OUT e1');
  assert.equal(ctx.vtn.reports[0]!.resources[0]!.intervals[0]!.payloads, [
    { type: 'OPERATING_STATE', values: ['RUNNING_OPTED_OUT'] },
    { type: 'SIMPLE_LEVEL', values: [0] },
  ]);
});

ven('an unchanged event is not reported twice; a changed one is; a deleted one is cancelled', async (ctx) => {
  ctx.vtn.events.push(peakEvent());
  await ctx.ven.poll();
  const again = await ctx.ven.poll();
  assert.equal(again, { demands: [], reports: 0, errors: [] });
  ctx.vtn.events[0] = peakEvent({
    modificationDateTime: '2026-07-01T09:00:00Z',
    intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [3] }] }],
  });
  const changed = await ctx.ven.poll();
  assert.equal(
    changed.demands.map((d) => [d.level, d.targetKw]),
    [[3, null]],
  );
  assert.is(ctx.vtn.reports.length, 2);
  ctx.vtn.events = [];
  await ctx.ven.poll();
  assert.equal(ctx.cancelled, ['e1']);
});

ven('events for another VEN are ignored; price-only events make no DEMAND', async (ctx) => {
  ctx.vtn.events.push(peakEvent({ id: 'other', targets: [{ type: 'VEN_NAME', values: ['someone-else'] }] }));
  ctx.vtn.events.push(
    peakEvent({ id: 'price', intervals: [{ id: 0, payloads: [{ type: 'PRICE', values: [0.31] }] }] }),
  );
  assert.equal(await ctx.ven.poll(), { demands: [], reports: 0, errors: [] });
  assert.equal(ctx.vtn.reports, []);
});

ven('a wrong token is a named, recoverable error; nothing is reported', async (ctx) => {
  ctx.vtn.events.push(peakEvent());
  const bad = makeVen(ctx, { token: 'stolen' });
  const result = await bad.poll();
  assert.equal(result.errors, [
    `OpenADR VTN ${ctx.vtn.url}: GET /programs?skip=0&limit=50 answered 403 (Forbidden: unknown bearer token)`,
  ]);
  assert.equal(ctx.warnings, [`openadr: ${result.errors[0]}`]);
  assert.equal(ctx.vtn.reports, []);
  // The same VEN object keeps working once the VTN accepts it (nothing was remembered as seen).
  assert.is((await ctx.ven.poll()).reports, 1);
});

ven('a malformed event is named and skipped; the others still get DEMAND and reports', async (ctx) => {
  ctx.vtn.events.push(peakEvent({ id: 'broken', intervalPeriod: { start: 'yesterday', duration: 'PT1H' } }));
  ctx.vtn.events.push(peakEvent({ id: 'good' }));
  const result = await ctx.ven.poll();
  assert.equal(result.errors, [
    'event "broken".intervalPeriod.start: "yesterday" is not allowed; expected an ISO 8601 date-time with a time zone',
  ]);
  assert.equal(
    result.demands.map((d) => d.id),
    ['good'],
  );
  assert.is(ctx.vtn.reports.length, 1);
});

const norm = suite('OpenADR 3 → DemandEvent');

norm(
  'consecutive intervals follow the event start; W limits become kW; region falls back to the program',
  () => {
    const event = peakEvent({
      targets: null,
      payloadDescriptors: [{ payloadType: 'IMPORT_CAPACITY_LIMIT', units: 'W' }],
      intervalPeriod: { start: START, duration: 'PT15M' },
      intervals: [
        { id: 7, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [2500] }] },
        { id: 8, payloads: [{ type: 'SIMPLE', values: [1] }] },
        {
          id: 9,
          intervalPeriod: { start: '2026-07-01T18:00:00+02:00', duration: 'PT1H30M' },
          payloads: [{ type: 'SIMPLE', values: [3] }],
        },
      ],
    });
    assert.equal(
      normaliseEvent(event, { id: 'p1', programName: 'x', principalSubdivision: 'NL-UT' }, 'none'),
      [
        {
          id: 'e1/7',
          region: 'NL-UT',
          start: START_S,
          end: START_S + 900,
          level: 1,
          targetKw: 2.5,
          expiry: START_S + 900,
        },
        {
          id: 'e1/8',
          region: 'NL-UT',
          start: START_S + 900,
          end: START_S + 1800,
          level: 1,
          targetKw: null,
          expiry: START_S + 1800,
        },
        {
          id: 'e1/9',
          region: 'NL-UT',
          start: START_S,
          end: START_S + 5400,
          level: 3,
          targetKw: null,
          expiry: START_S + 5400,
        },
      ],
    );
  },
);

norm('refusals name the field', () => {
  const cases: Array<[OadrEvent, string]> = [
    [
      peakEvent({ intervals: [] }),
      'event "e1".intervals: [] is not allowed; expected a non-empty list of intervals',
    ],
    [
      peakEvent({ intervalPeriod: { start: START, duration: 'PT0S' } }),
      'event "e1".intervals[0].intervalPeriod.duration: "PT0S" is not allowed; expected a duration above PT0S (open-ended events are not supported)',
    ],
    [
      peakEvent({ intervals: [{ id: 0, payloads: [{ type: 'SIMPLE', values: [7] }] }] }),
      'event "e1".intervals[0].payloads.SIMPLE: 7 is not allowed; expected one of 0, 1, 2, 3',
    ],
    [
      peakEvent({ intervals: [{ id: 0, payloads: [{ type: 'IMPORT_CAPACITY_LIMIT', values: [-1] }] }] }),
      'event "e1".intervals[0].payloads.IMPORT_CAPACITY_LIMIT: -1 is not allowed; expected a number ≥ 0',
    ],
  ];
  for (const [event, message] of cases) {
    try {
      normaliseEvent(event, undefined, 'r');
      assert.unreachable(message);
    } catch (err) {
      assert.instance(err, InputError);
      assert.is((err as Error).message, message);
    }
  }
});

norm('ISO 8601 durations', () => {
  assert.is(parseDuration('PT1H', 'd'), 3600);
  assert.is(parseDuration('P1DT30M', 'd'), 86400 + 1800);
  assert.is(parseDuration('PT0.5S', 'd'), 0.5);
  assert.throws(() => parseDuration('P1M', 'd'), /no months or years/);
  assert.throws(() => parseDuration('PT', 'd'), /ISO 8601 duration/);
});

norm('parseDemandEvent is the one gate for DEMAND from anywhere', () => {
  const good = { id: 'x', region: 'r', start: 10, end: 20, level: 1, targetKw: null, expiry: 20 };
  assert.equal(parseDemandEvent(good), good);
  assert.throws(
    () => parseDemandEvent({ ...good, end: 10 }),
    /demand.end: 10 is not allowed; expected unix seconds, an integer after start \(10\)/,
  );
  assert.throws(() => parseDemandEvent({ ...good, level: 4 }), /demand.level: 4 is not allowed/);
});

const board = suite('DEMAND on MQTT');

board(
  'the board publishes the followed DEMAND, active inside its window, on the retained demand topic',
  async () => {
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: await freePort(), users: [] });
    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    let nowMs = (START_S + 60) * 1000;
    const published: DemandState[] = [];
    const b = new DemandBoard(
      (state) => {
        published.push(state);
        client.publish('hepek/S1/demand', JSON.stringify(state), { qos: 1, retain: true });
      },
      () => nowMs,
    );
    try {
      const event = normaliseEvent(peakEvent(), undefined, 'r')[0]!;
      b.set(event);
      const seen = await waitForJson<DemandState>(broker.url, 'hepek/S1/demand', (s) => s.active, 5000);
      assert.equal(seen.at(-1), { active: true, event });
      b.set(event);
      assert.is(published.length, 1, 'unchanged state is not published again');
      nowMs = (START_S + 7200) * 1000;
      b.refresh();
      assert.equal(published.at(-1), { active: false, event: null }, 'after the end nothing is active');
    } finally {
      b.stop();
      await client.endAsync();
      await broker.close();
    }
  },
);

ven.run();
norm.run();
board.run();
