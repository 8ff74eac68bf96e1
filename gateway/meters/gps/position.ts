/**
 * Where the HEPEK is: from settings (a fixed installation) or from a GPS receiver's NMEA
 * sentences over serial. The NMEA source takes text in any chunks, splits lines, keeps the newest
 * fix and counts the sentences it refused (with the last reason), so a noisy line never stops it.
 */
import { ConfigError } from '../../errors';
import { ConfigReader } from '../../devices/config';
import { Listeners } from '../../devices/listeners';
import { isFix, parseNmea } from './nmea';

export interface Position {
  /** Degrees, north positive. */
  latitudeDeg: number;
  /** Degrees, east positive. */
  longitudeDeg: number;
  /** Metres above mean sea level, or null when unknown. */
  altitudeM: number | null;
  source: 'settings' | 'nmea';
  /** Time of the fix (NMEA), or null for a configured position. */
  fixTime: string | null;
}

export interface PositionSource {
  position(): Position | null;
  subscribe(listener: (position: Position) => void): () => void;
  close(): Promise<void>;
}

export class FixedPosition implements PositionSource {
  constructor(private readonly fixed: Position) {}
  position(): Position {
    return { ...this.fixed };
  }
  subscribe(): () => void {
    return () => undefined;
  }
  async close(): Promise<void> {}
}

/** Longest line kept while waiting for its end; NMEA allows 82 characters. */
const MAX_LINE = 256;

export class NmeaPosition implements PositionSource {
  private newest: Position | null = null;
  private buffer = '';
  private readonly listeners = new Listeners<Position>();
  /** Sentences refused (bad checksum, bad field) and the last reason. */
  refused = 0;
  lastError: string | null = null;
  private closer: (() => Promise<void>) | null = null;

  position(): Position | null {
    return this.newest ? { ...this.newest } : null;
  }

  subscribe(listener: (position: Position) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Feeds received text; complete lines are parsed, a partial one waits for the rest. */
  feed(chunk: string): void {
    this.buffer += chunk;
    const lines = this.buffer.split(/\r?\n/);
    this.buffer = (lines.pop() ?? '').slice(-MAX_LINE);
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    const text = line.trim();
    // Only position sentences matter; GSV, GSA, VTG … pass by without counting as refused.
    if (!/^\$[A-Z]{2}(GGA|RMC)[,*]/.test(text)) return;
    try {
      const parsed = parseNmea(text);
      if (!isFix(parsed)) return;
      const altitudeM = parsed.altitudeM ?? this.newest?.altitudeM ?? null;
      this.newest = {
        latitudeDeg: parsed.latitudeDeg,
        longitudeDeg: parsed.longitudeDeg,
        altitudeM,
        source: 'nmea',
        fixTime: parsed.time,
      };
      this.listeners.emit(this.position()!);
    } catch (err) {
      this.refused++;
      this.lastError = (err as Error).message;
    }
  }

  /** Reads a serial GPS receiver (`serialport`, 8N1). */
  async openSerial(path: string, baudRate: number): Promise<void> {
    const { SerialPort } = await import('serialport');
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    port.setEncoding('ascii');
    port.on('data', (chunk: string) => this.feed(chunk));
    port.on('error', (err: Error) => {
      this.lastError = `serial ${path}: ${err.message}`;
    });
    this.closer = () =>
      new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
  }

  async close(): Promise<void> {
    await this.closer?.();
    this.closer = null;
  }
}

export interface GpsConfig {
  source: 'settings' | 'nmea';
  latitudeDeg: number | null;
  longitudeDeg: number | null;
  altitudeM: number | null;
  /** Serial port of the receiver (source nmea). */
  path: string | null;
  baudRate: number;
}

export function decodeGpsConfig(raw: unknown, prefix = 'gps'): GpsConfig {
  const r = new ConfigReader(raw, prefix);
  const config: GpsConfig = {
    source: r.oneOf('source', 'settings', ['settings', 'nmea'] as const),
    latitudeDeg: r.optionalNumber('latitudeDeg', {
      min: -90,
      max: 90,
      allowed: 'null or degrees from -90 to 90',
    }),
    longitudeDeg: r.optionalNumber('longitudeDeg', {
      min: -180,
      max: 180,
      allowed: 'null or degrees from -180 to 180',
    }),
    altitudeM: r.optionalNumber('altitudeM', {
      min: -500,
      max: 9000,
      allowed: 'null or metres from -500 to 9000',
    }),
    path: r.string('path', null),
    baudRate: r.oneOf('baudRate', 4800, [4800, 9600, 19200, 38400, 57600, 115200]),
  };
  r.done();
  if (config.source === 'nmea' && config.path === null)
    throw new ConfigError(
      `${prefix}.path`,
      null,
      'the serial port of the GPS receiver (e.g. /dev/ttyACM0) when source is "nmea"',
    );
  if ((config.latitudeDeg === null) !== (config.longitudeDeg === null))
    throw new ConfigError(
      `${prefix}.${config.latitudeDeg === null ? 'latitudeDeg' : 'longitudeDeg'}`,
      null,
      'a value: latitudeDeg and longitudeDeg are set together',
    );
  return config;
}

/** A position source for the config, or null when neither a position nor a receiver is configured. */
export async function positionFromConfig(config: GpsConfig): Promise<PositionSource | null> {
  if (config.source === 'nmea') {
    const source = new NmeaPosition();
    await source.openSerial(config.path as string, config.baudRate);
    return source;
  }
  if (config.latitudeDeg === null || config.longitudeDeg === null) return null;
  return new FixedPosition({
    latitudeDeg: config.latitudeDeg,
    longitudeDeg: config.longitudeDeg,
    altitudeM: config.altitudeM,
    source: 'settings',
    fixTime: null,
  });
}
