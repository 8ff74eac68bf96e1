/**
 * The DEMAND state the gateway publishes on `hepek/<serial>/demand` (`{active, event}`, retained):
 * of the DEMAND events it follows, the active one with the highest level (then the earliest end),
 * else the next one to come with `active: false`, else `{active: false, event: null}`. It re-checks
 * at every start, end and expiry, and publishes only when the state changes.
 */
import { isDemandActive, type DemandEvent } from '../../demand/types';

export interface DemandState {
  active: boolean;
  event: DemandEvent | null;
}

export class DemandBoard {
  private readonly events = new Map<string, DemandEvent>();
  private timer: NodeJS.Timeout | null = null;
  private last = '';

  constructor(
    private readonly publish: (state: DemandState) => void,
    private readonly now: () => number = Date.now,
  ) {}

  set(event: DemandEvent): void {
    this.events.set(event.id, event);
    this.refresh();
  }

  remove(ids: string[]): void {
    for (const id of ids) this.events.delete(id);
    this.refresh();
  }

  current(): DemandState {
    const nowS = Math.floor(this.now() / 1000);
    const live = [...this.events.values()].filter((e) => e.end > nowS && e.expiry > nowS);
    const active = live
      .filter((e) => isDemandActive(e, nowS))
      .sort((a, b) => b.level - a.level || a.end - b.end)[0];
    if (active) return { active: true, event: active };
    const next = live.filter((e) => e.start > nowS).sort((a, b) => a.start - b.start)[0];
    return { active: false, event: next ?? null };
  }

  refresh(): void {
    const nowS = Math.floor(this.now() / 1000);
    for (const [id, e] of this.events) if (e.end <= nowS || e.expiry <= nowS) this.events.delete(id);
    const state = this.current();
    const text = JSON.stringify(state);
    if (text !== this.last) {
      this.last = text;
      this.publish(state);
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const boundaries = [...this.events.values()]
      .flatMap((e) => [e.start, e.end, e.expiry])
      .filter((s) => s > nowS);
    if (boundaries.length > 0) {
      const waitMs = Math.max(0, Math.min(...boundaries) * 1000 - this.now());
      this.timer = setTimeout(() => this.refresh(), Math.min(waitMs, 2_147_000_000));
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
