/**
 * The simulated household's day-ahead price feed: a dataset replayed on the meter's clock (day
 * mapping, restart, wrap-around, tomorrow published at 13:00), and the forecast of a day from only
 * what was known before its auction. The forecast test needs the real NP dataset and the shipped NP
 * model: it skips without ../shared/data, and fails under CI.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../gateway/errors';
import { readDataset } from '../gateway/forecast/dataset';
import { PriceForecastService } from '../gateway/forecast/service';
import { PriceReplay, resolvePriceFile } from '../gateway/prices/replay';
import { pricePayload } from '../gateway/integrations/price-topic';
import { dataFile } from './helpers/data';
import { removeDir, tempDir } from './helpers/gateway';

const DAY = 86_400_000;
const s = suite<{ dir: string }>('price replay');
s.before.each((ctx) => {
  ctx.dir = tempDir('prices');
});
s.after.each((ctx) => removeDir(ctx.dir));

/** Ten days of our own: price = 100 × day + hour, one exogenous column = 1000 + hour. */
function fixture(dir: string): string {
  const rows = ['Date,Price,Load'];
  for (let d = 0; d < 10; d++)
    for (let h = 0; h < 24; h++) {
      const date = new Date(Date.UTC(2020, 0, 1 + d, h)).toISOString().slice(0, 19).replace('T', ' ');
      rows.push(`${date},${100 * d + h},${1000 + h}`);
    }
  const file = path.join(dir, 'prices.csv');
  writeFileSync(file, `${rows.join('\n')}\n`);
  return file;
}

s('days map onto the meter clock from the start day, survive a restart and wrap around', ({ dir }) => {
  const file = fixture(dir);
  const stateFile = path.join(dir, 'state.json');
  const t0 = Date.UTC(2026, 6, 1, 10); // 10:00 on the meter's clock
  let now = t0;
  let replay = PriceReplay.open({ file, startDate: null, stateFile, nowMs: () => now, forecaster: null });
  // The first usable day is dataset day 7 (a week of history before it).
  assert.is(replay.priceAt(t0), 700 + 10);
  assert.is(replay.priceAt(t0 + DAY + 3_600_000), 800 + 11);
  assert.is(replay.priceAt(t0 + 3 * DAY), 700 + 10, 'past the end it starts over at the first usable day');

  now = t0 + 2 * DAY;
  replay = PriceReplay.open({ file, startDate: null, stateFile, nowMs: () => now, forecaster: null });
  assert.is(replay.priceAt(t0), 710, 'a restart keeps the day the replay began');
  const other = PriceReplay.open({
    file,
    startDate: '2020-01-09',
    stateFile,
    nowMs: () => now,
    forecaster: null,
  });
  assert.is(other.priceAt(now), 800 + 10, 'a new start date starts the replay again from today');
});

s('tomorrow is known from 13:00; before, only yesterday and today', async ({ dir }) => {
  const file = fixture(dir);
  let now = Date.UTC(2026, 6, 1, 12, 59);
  const replay = PriceReplay.open({
    file,
    startDate: '2020-01-09',
    stateFile: path.join(dir, 'state.json'),
    nowMs: () => now,
    forecaster: null,
  });
  let p = await replay.prices();
  assert.is(p.prices.length, 48);
  assert.is(p.prices[0]!.start, '2026-06-30T00:00:00.000Z');
  assert.is(p.prices[0]!.priceEurPerMWh, 700, 'yesterday is the day before the start day');
  assert.is(p.prices[47]!.priceEurPerMWh, 823);
  assert.equal(p.forecast, []);
  assert.is(p.forecastSource, null);
  now += 60_000;
  p = await replay.prices();
  assert.is(p.prices.length, 72);
  assert.is(p.prices[71]!.priceEurPerMWh, 923, "tomorrow is the dataset's next day");
  assert.is(replay.priceAt(now + 2 * DAY), 700 + 13, 'the day after wraps to the first usable day');
  assert.equal(await replay.hourPrice(Date.UTC(2026, 6, 1, 5)), { priceErgonPerKWh: 0.805 });
});

s('a bad dataset or start date is refused naming the setting', ({ dir }) => {
  const stateFile = path.join(dir, 'state.json');
  const open = (file: string, startDate: string | null) => () =>
    PriceReplay.open({ file, startDate, stateFile, nowMs: () => 0, forecaster: null });
  assert.throws(
    open(path.join(dir, 'nope.csv'), null),
    (e: Error) =>
      e instanceof ConfigError &&
      /^sim\.priceFile: ".*nope\.csv" is not allowed; expected a readable hourly price CSV/.test(e.message),
  );
  assert.throws(
    open(fixture(dir), '2020-01-03'),
    /sim\.priceStartDate: "2020-01-03" is not allowed; expected a day of the dataset with 7 days before it \(2020-01-08 \.\. 2020-01-10\)/,
  );
  assert.is(resolvePriceFile('NP', '/data'), '/data/prices/NP.csv');
  assert.is(resolvePriceFile('/x/my.csv', '/data'), '/x/my.csv');
});

s(
  'the forecast of a day is the model’s, from history only: changing that day’s prices changes nothing',
  async ({ dir }) => {
    const np = dataFile('prices/NP.csv');
    if (!np) return;
    const forecaster = await PriceForecastService.open();
    try {
      const now = Date.UTC(2026, 6, 1, 9);
      const replay = PriceReplay.open({
        file: np,
        startDate: '2017-06-01',
        stateFile: path.join(dir, 'state.json'),
        nowMs: () => now,
        forecaster,
      });
      const p = await replay.prices();
      assert.is(p.forecast.length, 48, 'today and tomorrow');
      assert.is(p.forecastSource, forecaster.card.name);
      // The same request built by hand from the CSV: 7 days of prices before 2017-06-02 and the
      // exogenous series of the 8 days up to it.
      const data = readDataset(np);
      const d = data.days.indexOf('2017-06-02');
      const direct = await forecaster.forecast({
        date: '2017-06-02',
        prices: Array.from(data.prices.subarray((d - 7) * 24, d * 24)),
        exogenous: data.exog.map((x) => Array.from(x.subarray((d - 7) * 24, (d + 1) * 24))),
      });
      assert.equal(
        p.forecast.slice(24).map((x) => x.priceEurPerMWh),
        direct.p50,
      );
      // Tomorrow's real prices are not published before 13:00, and the forecast is not them.
      assert.is(p.prices.length, 48);
      const actual = Array.from(data.prices.subarray(d * 24, (d + 1) * 24));
      assert.not.equal(direct.p50, actual);
      const mae = direct.p50.reduce((a, v, h) => a + Math.abs(v - actual[h]!), 0) / 24;
      assert.ok(mae < 10, `a sane forecast (MAE ${mae.toFixed(2)} EUR/MWh)`);
    } finally {
      await forecaster.close();
    }
  },
);

s('the price topic: the hour in force, the next hour published or forecast, the forecast from now', () => {
  const t0 = Date.UTC(2026, 5, 21, 12);
  const iso = (h: number) => new Date(t0 + h * 3_600_000).toISOString();
  const feed = {
    prices: [-1, 0, 1].map((h) => ({ start: iso(h), priceEurPerMWh: 50 + h })),
    forecast: [-1, 0, 1, 2].map((h) => ({ start: iso(h), priceEurPerMWh: 60 + h })),
    forecastSource: 'test',
  };
  // 12:30: now 12:00's price, next 13:00's published one, the forecast from 12:00 on; per kWh.
  assert.equal(pricePayload(feed, t0 + 1_800_000), {
    currentErgonPerKWh: 0.05,
    nextErgonPerKWh: 0.051,
    nextSource: 'published',
    forecast: [
      { start: iso(0), ergonPerKWh: 0.06 },
      { start: iso(1), ergonPerKWh: 0.061 },
      { start: iso(2), ergonPerKWh: 0.062 },
    ],
  });
  // 13:00: 14:00 is not published yet, so the forecast's P50 stands in.
  const at13 = pricePayload(feed, t0 + 3_600_000);
  assert.is(at13.currentErgonPerKWh, 0.051);
  assert.is(at13.nextErgonPerKWh, 0.062);
  assert.is(at13.nextSource, 'forecast');
  // Nothing known: nulls, never a made-up number.
  assert.equal(pricePayload({ prices: [], forecast: [], forecastSource: null }, t0), {
    currentErgonPerKWh: null,
    nextErgonPerKWh: null,
    nextSource: null,
    forecast: [],
  });
});

s.run();
