/**
 * Writes hepek-dashboard.json from the measurement schema:
 *   node --import tsx gateway/integrations/grafana/generate.ts
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { MEASUREMENTS } from '../../store/measurements';
import { buildDashboard } from './dashboard';

export const DASHBOARD_FILE = path.join(__dirname, 'hepek-dashboard.json');

export function dashboardText(): string {
  return `${JSON.stringify(buildDashboard(MEASUREMENTS).dashboard, null, 2)}\n`;
}

if (require.main === module) {
  void (async () => {
    // Written the way the repo's Prettier formats JSON, so `npm run lint` stays clean.
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(DASHBOARD_FILE)) ?? {};
    writeFileSync(DASHBOARD_FILE, await prettier.format(dashboardText(), { ...options, parser: 'json' }));
    for (const m of buildDashboard(MEASUREMENTS).missing)
      process.stdout.write(`left out "${m.title}": needs ${m.needs.join(', ')}\n`);
    process.stdout.write(`wrote ${DASHBOARD_FILE}\n`);
  })();
}
