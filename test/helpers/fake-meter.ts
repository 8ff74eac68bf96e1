/** A meter the test drives reading by reading: each `push` is one reading at a given meter time. */
import type { MeterReading, MeterSource } from '../../gateway/context';

export class FakeMeter implements MeterSource {
  readonly kind = 'fake';
  private last: MeterReading | null = null;
  private readonly listeners = new Set<(r: MeterReading) => void>();
  latest() {
    return this.last;
  }
  subscribe(listener: (r: MeterReading) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  push(timeMs: number, importWh: number, exportWh = 0) {
    this.last = {
      timestamp: new Date(timeMs).toISOString(),
      importWh,
      exportWh,
      powerW: 0,
      loadW: 0,
      pvW: 0,
    };
    for (const l of this.listeners) l(this.last);
  }
}
