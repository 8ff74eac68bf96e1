/** A minimal OpenADR 3.0.1 VTN for tests: programs, events and reports in memory, bearer token required. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import path from 'node:path';
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

  /** Plain HTTP, or HTTPS with `tls` (see selfSignedCert). */
  async start(tls?: { key: string; cert: string }): Promise<void> {
    const port = await freePort();
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    this.server = tls ? createTlsServer(tls, handler) : createServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}/openadr3/3.0.1`;
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

/**
 * A self-signed certificate for 127.0.0.1 made with the openssl CLI (a client trusts it through
 * NODE_EXTRA_CA_CERTS=certFile); null when openssl is not installed.
 */
export function selfSignedCert(dir: string): { key: string; cert: string; certFile: string } | null {
  const keyFile = path.join(dir, 'vtn-key.pem');
  const certFile = path.join(dir, 'vtn-cert.pem');
  const made = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  if (made.error || made.status !== 0) return null;
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), certFile };
}
