import type { MeterReading } from '../context';
import { ConfigError } from '../errors';

/** The last `capacity` meter readings, oldest first: what the DApp's chart draws. */
export class ReadingHistory {
  private readonly buffer: MeterReading[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new ConfigError('readingsCapacity', capacity, 'an integer of at least 1');
  }

  push(reading: MeterReading): void {
    // The meter may hand over its latest reading again (e.g. at subscribe); keep each one once.
    if (this.buffer.at(-1)?.timestamp === reading.timestamp) return;
    this.buffer.push(reading);
    if (this.buffer.length > this.capacity) this.buffer.splice(0, this.buffer.length - this.capacity);
  }

  /** The newest `n` readings, oldest first. */
  last(n: number): MeterReading[] {
    return n <= 0 ? [] : this.buffer.slice(-n);
  }

  get size(): number {
    return this.buffer.length;
  }
}
