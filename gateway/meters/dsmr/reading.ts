/** From a decoded telegram to the gateway's one reading shape (gateway/context.ts). */
import type { MeterReading } from '../../context';
import type { DsmrTelegram } from './types';

/**
 * The reading a telegram stands for, or null when it has no electricity import register (e.g. a
 * heat meter's telegram). Counters are the totals over all tariffs; `powerW` is import minus
 * export; a P1 port cannot tell household load or PV, so those are 0. A telegram without a valid
 * clock is stamped with `receivedAtMs`.
 */
export function telegramToReading(telegram: DsmrTelegram, receivedAtMs: number): MeterReading | null {
  const importWh = telegram.energyImportWh.total;
  if (importWh === null) return null;
  let powerW: number;
  if (telegram.powerImportW !== null || telegram.powerExportW !== null) {
    powerW = (telegram.powerImportW ?? 0) - (telegram.powerExportW ?? 0);
  } else {
    powerW = 0;
    for (const phase of [telegram.phases.l1, telegram.phases.l2, telegram.phases.l3])
      powerW += (phase.powerImportW ?? 0) - (phase.powerExportW ?? 0);
  }
  return {
    timestamp: telegram.timestamp ?? new Date(receivedAtMs).toISOString(),
    importWh,
    exportWh: telegram.energyExportWh.total ?? 0,
    powerW,
    loadW: 0,
    pvW: 0,
  };
}
