/**
 * The real datasets in ../shared/data (or $HEPEK_DATA). They are never copied into the repo, so a
 * test that needs them skips when they are absent, except under CI, where absence is a failure.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export function dataDir(): string {
  return path.resolve(process.env.HEPEK_DATA ?? path.join(__dirname, '..', '..', '..', 'shared', 'data'));
}

/** The path of a data file, or null (test skipped) when absent outside CI; throws under CI. */
export function dataFile(relative: string): string | null {
  const file = path.join(dataDir(), relative);
  if (existsSync(file)) return file;
  if (process.env.CI)
    throw new Error(`${file} is missing; CI must run the tests on the real data (set HEPEK_DATA)`);
  process.stdout.write(`  skipped: ${file} is absent (set HEPEK_DATA to run it)\n`);
  return null;
}

/** A data file's CSV rows after its header line, each split on commas (the files quote nothing). */
export function csvRows(file: string): string[][] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
}
