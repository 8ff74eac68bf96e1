import type { LogLevel } from '../settings';

const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(line: string): void;
  warn(line: string): void;
  info(line: string): void;
  debug(line: string): void;
}

/** Plain timestamped lines on stderr (stdout stays free for commands that print data). */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Logger {
  const at = (l: LogLevel) => (line: string) => {
    if (ORDER[l] <= ORDER[level])
      write(`${new Date().toISOString()} [hepek] ${l === 'info' ? '' : `${l}: `}${line}`);
  };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}
