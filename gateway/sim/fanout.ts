/**
 * The listener side of a simulated meter: remembers the latest reading and hands each new one to
 * every subscriber. The simulated household and the simulated home both emit through it, so a
 * listener that throws is handled the same way in both — reported, and the others still called.
 */
export class ReadingFanout<R> {
  private readonly listeners = new Set<(reading: R) => void>();
  private last: R | null = null;

  constructor(private readonly onListenerError: (err: unknown) => void) {}

  latest(): R | null {
    return this.last;
  }

  subscribe(listener: (reading: R) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Records `reading` as the latest and calls every listener (a copy, so one may unsubscribe). */
  publish(reading: R): void {
    this.last = reading;
    for (const listener of [...this.listeners]) {
      try {
        listener(reading);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
