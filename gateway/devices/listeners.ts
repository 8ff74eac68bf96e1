/** A set of listeners where one that throws is reported and the others still run. */
export class Listeners<T> {
  private readonly set = new Set<(value: T) => void>();

  constructor(private readonly onError: (err: unknown) => void = (err) => console.error(err)) {}

  add(listener: (value: T) => void): () => void {
    this.set.add(listener);
    return () => {
      this.set.delete(listener);
    };
  }

  emit(value: T): void {
    for (const listener of [...this.set]) {
      try {
        listener(value);
      } catch (err) {
        this.onError(err);
      }
    }
  }

  get size(): number {
    return this.set.size;
  }

  clear(): void {
    this.set.clear();
  }
}

/** Availability bookkeeping shared by the MQTT and Modbus adapters. */
export class AvailabilityState {
  private value = false;
  private readonly listeners: Listeners<boolean>;

  constructor(onError?: (err: unknown) => void) {
    this.listeners = new Listeners(onError);
  }

  get(): boolean {
    return this.value;
  }

  set(available: boolean): void {
    if (available === this.value) return;
    this.value = available;
    this.listeners.emit(available);
  }

  subscribe(listener: (available: boolean) => void): () => void {
    return this.listeners.add(listener);
  }
}
