/**
 * Hourly day-ahead price datasets in the epftoolbox layout: first column the timestamp
 * (`YYYY-MM-DD HH:MM:SS`, DST already evened out to 24 hours a day), second the price, the rest
 * exogenous day-ahead series (known before the auction). Header names vary, may be blank or carry
 * spaces, so columns are taken by position, never by name.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../errors';

export interface PriceDataset {
  /** Timestamps exactly as written in the first column, one per hour. */
  timestamps: string[];
  /** Price per hour (EUR/MWh or USD/MWh, as in the file); NaN where the cell is blank (not yet known). */
  prices: Float64Array;
  /** Exogenous series, one Float64Array per column after the price, in the file's units (MW). */
  exog: Float64Array[];
  /** Header names as written (trimmed). */
  columns: string[];
  /** Calendar date (`YYYY-MM-DD`) of each day; row `24 * d + h` is hour `h` of day `d`. */
  days: string[];
}

const STAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Hours since the epoch of a naive timestamp, or NaN when it is not one. */
export function stampHours(stamp: string): number {
  const m = STAMP.exec(stamp.trim());
  if (!m) return NaN;
  const [, y, mo, d, h, mi, s] = m;
  if (mi !== '00' || (s !== undefined && s !== '00')) return NaN;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h));
  const back = new Date(ms);
  // Date.UTC rolls 2017-02-30 over to March: a date that does not survive the round trip is invalid.
  if (
    back.getUTCMonth() !== Number(mo) - 1 ||
    back.getUTCDate() !== Number(d) ||
    back.getUTCHours() !== Number(h)
  )
    return NaN;
  return ms / 3_600_000;
}

/** Parses the CSV text; `source` names the file in errors. Refuses anything it cannot use, naming row and column. */
export function parseDataset(text: string, source = 'csv'): PriceDataset {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length < 2)
    throw new InputError(`${source}`, `${lines.length} line(s)`, 'a header row and at least 24 hourly rows');
  const columns = lines[0]!.split(',').map((c) => c.trim());
  if (columns.length < 2)
    throw new InputError(
      `${source} row 1 (header)`,
      lines[0],
      'at least 2 columns: timestamp, price[, exogenous...]',
    );
  const width = columns.length;
  const n = lines.length - 1;
  const timestamps: string[] = new Array<string>(n);
  const prices = new Float64Array(n);
  const exog = Array.from({ length: width - 2 }, () => new Float64Array(n));
  const colName = (c: number) => `column ${c + 1}${columns[c] ? ` "${columns[c]}"` : ''}`;
  let previous = NaN;
  for (let i = 0; i < n; i++) {
    const row = i + 2; // 1-based line number in the file, the header being line 1
    const cells = lines[i + 1]!.split(',');
    if (cells.length !== width)
      throw new InputError(
        `${source} row ${row}`,
        lines[i + 1],
        `${width} comma-separated cells like the header (found ${cells.length})`,
      );
    const stamp = cells[0]!.trim();
    const hours = stampHours(stamp);
    if (Number.isNaN(hours))
      throw new InputError(`${source} row ${row} ${colName(0)}`, cells[0], 'a timestamp YYYY-MM-DD HH:00:00');
    if (i === 0 && Math.round(((hours % 24) + 24) % 24) !== 0)
      throw new InputError(
        `${source} row ${row} ${colName(0)}`,
        stamp,
        'the first row at hour 00:00 (whole days)',
      );
    if (i > 0) {
      if (hours === previous)
        throw new InputError(
          `${source} row ${row} ${colName(0)}`,
          stamp,
          'one row per hour (duplicate hour)',
        );
      if (hours !== previous + 1)
        throw new InputError(
          `${source} row ${row} ${colName(0)}`,
          stamp,
          `the hour after ${timestamps[i - 1]} (rows must be consecutive hours, no gap)`,
        );
    }
    previous = hours;
    timestamps[i] = stamp;
    for (let c = 1; c < width; c++) {
      const cell = cells[c]!.trim();
      let value: number;
      if (cell === '' && c === 1)
        value = NaN; // a price not known yet (the day being forecast)
      else if (NUMBER.test(cell)) value = Number(cell);
      else
        throw new InputError(
          `${source} row ${row} ${colName(c)}`,
          cells[c],
          c === 1 ? 'a number, or blank for a price not yet known' : 'a number',
        );
      if (c === 1) prices[i] = value;
      else exog[c - 2]![i] = value;
    }
  }
  if (n % 24 !== 0)
    throw new InputError(
      `${source} row ${n + 1} ${colName(0)}`,
      timestamps[n - 1],
      'whole days: the last row at hour 23:00',
    );
  const days: string[] = [];
  for (let d = 0; d < n / 24; d++) days.push(timestamps[d * 24]!.slice(0, 10));
  return { timestamps, prices, exog, columns, days };
}

export function readDataset(file: string): PriceDataset {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError('--csv', file, 'a readable CSV file', { cause: err });
  }
  return parseDataset(text, file);
}

/** Index of the day with this date, or -1. */
export function dayIndex(data: PriceDataset, date: string): number {
  return data.days.indexOf(date);
}
