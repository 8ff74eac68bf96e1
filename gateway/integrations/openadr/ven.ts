/**
 * An OpenADR 3 VEN (client): polls the VTN's /programs and /events with a bearer token, turns each
 * new or changed event into normalised DEMAND events, asks the gateway whether to follow them (the
 * answer sheds load or not), and reports opt-in / opt-out back with a /reports POST carrying the
 * OPERATING_STATE and SIMPLE_LEVEL payloads. One poll is one call of `poll()`; `start()` repeats it
 * on a timer. A VTN that does not answer, or answers an error, is logged and tried again next poll;
 * one malformed event is skipped (named in the log) without losing the others.
 */
import type { DemandEvent } from '../../demand/types';
import { DeviceUnavailableError, InputError } from '../../errors';
import { normaliseEvent } from './normalise';
import { OPERATING_STATE, type OadrEvent, type Program, type Report } from './oadr3';

export interface VenOptions {
  /** The VTN's base URL, the part before /programs (e.g. https://vtn.example/openadr3/3.0.1). */
  baseUrl: string;
  /** Bearer token; null sends no Authorization header. */
  token: string | null;
  /** The VEN's clientName in reports and the VEN_NAME it answers to in targets. */
  venName: string;
  /** DemandEvent.region when neither the event nor its program names one. */
  region: string;
  pollIntervalMs: number;
  /**
   * Called for each new or changed DEMAND; resolves true when the household follows it (opt in,
   * after shedding), false to opt out. A throw counts as opt-out and is logged.
   */
  onDemand(event: DemandEvent, source: { programID: string; eventID: string }): Promise<boolean>;
  /** Called with the DEMAND ids of an event the VTN no longer lists (cancelled or deleted). */
  onCancel?(ids: string[]): void;
  log: { warn(line: string): void; info(line: string): void; debug(line: string): void };
  fetch?: typeof fetch;
}

export interface PollResult {
  /** DEMAND events handled in this poll (new or changed). */
  demands: DemandEvent[];
  /** Reports the VTN accepted in this poll. */
  reports: number;
  /** One line per event or request that failed. */
  errors: string[];
}

const PAGE = 50;
const MAX_PAGES = 20;

export class OpenAdrVen {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  /** event id → [version seen, DEMAND ids it produced]. */
  private readonly seen = new Map<string, { version: string; ids: string[] }>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PollResult> | null = null;

  constructor(private readonly options: VenOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? fetch;
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const url = `${this.base}${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.fetchFn(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw new DeviceUnavailableError(
        `OpenADR VTN ${this.base}`,
        `${method} ${path} failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const text = await response.text();
    if (!response.ok) {
      let detail = text.slice(0, 200);
      try {
        const problem = JSON.parse(text) as { title?: string; detail?: string };
        detail = [problem.title, problem.detail].filter(Boolean).join(': ') || detail;
      } catch {
        // not a problem+json body; the raw text says enough
      }
      throw new DeviceUnavailableError(
        `OpenADR VTN ${this.base}`,
        `${method} ${path} answered ${response.status}${detail ? ` (${detail})` : ''}`,
      );
    }
    try {
      return text === '' ? null : JSON.parse(text);
    } catch (err) {
      throw new InputError(`${method} ${path} response`, text.slice(0, 60), 'JSON', { cause: err });
    }
  }

  private async list<T>(path: string): Promise<T[]> {
    const all: T[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      const sep = path.includes('?') ? '&' : '?';
      const items = await this.request('GET', `${path}${sep}skip=${page * PAGE}&limit=${PAGE}`);
      if (!Array.isArray(items)) throw new InputError(`GET ${path} response`, items, 'a JSON array');
      all.push(...(items as T[]));
      if (items.length < PAGE) break;
    }
    return all;
  }

  /** Whether an event's targets leave this VEN out (a VEN_NAME list without our name). */
  private targetsOthers(event: OadrEvent): boolean {
    const names = event.targets?.find((t) => t.type === 'VEN_NAME')?.values;
    return Array.isArray(names) && !names.includes(this.options.venName);
  }

  private report(event: OadrEvent, demands: DemandEvent[], optIns: boolean[]): Report {
    const iso = (s: number) => new Date(s * 1000).toISOString();
    const duration = (d: DemandEvent) => `PT${d.end - d.start}S`;
    const all = optIns.every(Boolean);
    return {
      objectType: 'REPORT',
      programID: event.programID,
      eventID: event.id,
      clientName: this.options.venName,
      reportName: `${all ? 'OPT_IN' : 'OPT_OUT'} ${event.id}`,
      payloadDescriptors: [
        {
          objectType: 'REPORT_PAYLOAD_DESCRIPTOR',
          payloadType: 'OPERATING_STATE',
          readingType: 'DIRECT_READ',
        },
        { objectType: 'REPORT_PAYLOAD_DESCRIPTOR', payloadType: 'SIMPLE_LEVEL', readingType: 'DIRECT_READ' },
      ],
      resources: [
        {
          resourceName: this.options.venName,
          intervals: demands.map((d, i) => ({
            id: i,
            intervalPeriod: { start: iso(d.start), duration: duration(d) },
            payloads: [
              {
                type: 'OPERATING_STATE',
                values: [optIns[i] ? OPERATING_STATE.optIn : OPERATING_STATE.optOut],
              },
              { type: 'SIMPLE_LEVEL', values: [optIns[i] ? d.level : 0] },
            ],
          })),
        },
      ],
    };
  }

  /** Handles one event; returns the DEMAND ids it produced. */
  private async handle(
    event: OadrEvent,
    program: Program | undefined,
    result: PollResult,
  ): Promise<string[]> {
    const demands = normaliseEvent(event, program, this.options.region);
    if (demands.length === 0) return [];
    const optIns: boolean[] = [];
    for (const demand of demands) {
      let follow = false;
      try {
        follow = await this.options.onDemand(demand, { programID: event.programID, eventID: event.id });
      } catch (err) {
        result.errors.push(`DEMAND ${demand.id}: ${(err as Error).message}; opting out`);
      }
      optIns.push(follow);
      result.demands.push(demand);
    }
    await this.request('POST', '/reports', this.report(event, demands, optIns));
    result.reports++;
    return demands.map((d) => d.id);
  }

  /** One poll: programs, events, DEMAND for each new or changed event, reports. */
  poll(): Promise<PollResult> {
    // Never two polls at once: a slow VTN would otherwise get every event twice.
    this.running ??= this.pollOnce().finally(() => (this.running = null));
    return this.running;
  }

  private async pollOnce(): Promise<PollResult> {
    const result: PollResult = { demands: [], reports: 0, errors: [] };
    let programs: Program[];
    let events: OadrEvent[];
    try {
      programs = await this.list<Program>('/programs');
      events = await this.list<OadrEvent>('/events');
    } catch (err) {
      result.errors.push((err as Error).message);
      this.options.log.warn(`openadr: ${(err as Error).message}`);
      return result;
    }
    const byId = new Map(programs.map((p) => [p.id, p]));
    const listed = new Set<string>();
    for (const event of events) {
      if (typeof event?.id !== 'string' || this.targetsOthers(event)) continue;
      listed.add(event.id);
      const version = event.modificationDateTime ?? JSON.stringify(event);
      if (this.seen.get(event.id)?.version === version) continue;
      try {
        const ids = await this.handle(event, byId.get(event.programID), result);
        this.seen.set(event.id, { version, ids });
      } catch (err) {
        // Not remembered: a report that failed is sent again at the next poll.
        result.errors.push((err as Error).message);
      }
    }
    for (const [id, entry] of [...this.seen]) {
      if (listed.has(id)) continue;
      this.seen.delete(id);
      if (entry.ids.length > 0) this.options.onCancel?.(entry.ids);
    }
    for (const line of result.errors) this.options.log.warn(`openadr: ${line}`);
    return result;
  }

  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.poll().catch((err) => this.options.log.warn(`openadr: ${(err as Error).message}`));
    };
    tick();
    this.timer = setInterval(tick, this.options.pollIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
