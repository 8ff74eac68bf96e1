/** A minimal OpenADR 3.0.1 VTN for tests: programs, events and reports in memory, bearer token required. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { OadrEvent, Program, Report } from '../../gateway/integrations/openadr/oadr3';
import { freePort } from './gateway';

export const TOKEN = 'vtn-token-ven-1';
export const START = '2026-07-01T16:00:00Z';
export const START_S = Date.parse(START) / 1000;

/** A minimal VTN: programs, events and reports in memory, every request needs the bearer token. */
export class Vtn {
  programs: Program[] = [
    { id: 'p1', programName: 'Summer peak', country: 'NL', principalSubdivision: 'NL-UT', targets: null },
  ];
  events: OadrEvent[] = [];
  reports: Report[] = [];
  requests: string[] = [];
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    const port = await freePort();
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${port}/openadr3/3.0.1`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private send(res: ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url!, 'http://vtn');
    this.requests.push(`${req.method} ${url.pathname}`);
    if (req.headers.authorization !== `Bearer ${TOKEN}`)
      return this.send(res, 403, { title: 'Forbidden', status: 403, detail: 'unknown bearer token' });
    const path = url.pathname.replace('/openadr3/3.0.1', '');
    const page = <T>(items: T[]) => {
      const skip = Number(url.searchParams.get('skip') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? 50);
      return items.slice(skip, skip + limit);
    };
    if (req.method === 'GET' && path === '/programs') return this.send(res, 200, page(this.programs));
    if (req.method === 'GET' && path === '/events') return this.send(res, 200, page(this.events));
    if (req.method === 'POST' && path === '/reports') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const report = JSON.parse(body) as Report;
      if (!report.programID || !report.eventID || !report.clientName || !Array.isArray(report.resources))
        return this.send(res, 400, {
          title: 'Bad Request',
          detail: 'programID, eventID, clientName, resources',
        });
      this.reports.push(report);
      return this.send(res, 201, { ...report, id: `r${this.reports.length}`, objectType: 'REPORT' });
    }
    return this.send(res, 404, { title: 'Not Found' });
  }
}
