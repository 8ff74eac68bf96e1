/**
 * Embedded Node-RED: the editor and runtime on 127.0.0.1:1880 by default, HEPEK's own nodes
 * loaded from this package (the same way an `npm install` into ~/.node-red loads them), and the
 * default flow deployed the first time a user dir has no flows.
 *
 * Node-RED is a peer dependency: the gateway needs it, users who only install the nodes already
 * have their own.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import { ConfigError, StateError } from '../errors';
import { listen } from '../net';
import { packageRoot } from '../paths';

type Handler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** A request as Node-RED's admin app hands it over: JSON bodies are already parsed. */
export type HttpRequest = IncomingMessage & { body?: unknown };

/**
 * A route on the editor's HTTP server besides the JSON `routes` (e.g. the DApp's page and API).
 * `permission` is the Node-RED permission the caller needs when adminAuth is set (`hepek.read`,
 * `hepek.write`), or null for files anyone may load (the page itself; its data stays guarded).
 */
export interface HttpRoute {
  method: 'get' | 'post';
  path: string;
  permission: string | null;
  handle(req: HttpRequest, res: ServerResponse): void | Promise<void>;
}

/** A route that gets the untouched request (see EmbeddedNodeRedOptions.rawRoutes). */
export interface RawRoute {
  /** Exact path, without query string. */
  path: string;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

interface RedRuntime {
  init(server: Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  httpAdmin: Handler & {
    get(route: string, ...handlers: Handler[]): void;
    post(route: string, ...handlers: Handler[]): void;
  };
  httpNode: Handler;
  auth: { needsPermission(permission: string): Handler };
}

export interface EmbeddedNodeRedOptions {
  userDir: string;
  host: string;
  port: number;
  /** A flow file (checked by flowSource) copied in when the user dir has no flows yet. */
  firstFlow: string;
  adminAuth: Record<string, unknown> | null;
  /** Key that encrypts flow credentials (kept by the caller so it survives restarts). */
  credentialSecret: string;
  logLevel: string;
  /** Extra JSON endpoints under the admin root (e.g. `/hepek/status`), behind admin auth; a body with `error` is sent as 503. */
  routes?: Record<string, () => Promise<unknown> | unknown>;
  /** Further routes with their own handlers and permissions (see HttpRoute). */
  httpRoutes?: HttpRoute[];
  /**
   * Routes served before Node-RED sees the request: no body parsing (the handler reads the raw
   * bytes, e.g. to check an HMAC over them) and no adminAuth (they authenticate themselves).
   */
  rawRoutes?: RawRoute[];
  log?: (line: string) => void;
}

export interface EmbeddedNodeRed {
  readonly url: string;
  stop(): Promise<void>;
}

function loadNodeRed(): RedRuntime {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('node-red') as RedRuntime;
  } catch (err) {
    throw new ConfigError(
      'node-red',
      'missing',
      'node-red 4.x installed next to HEPEK (npm install node-red@4)',
      {
        cause: err,
      },
    );
  }
}

/** Resolves the flow file to deploy on first start. */
export function flowSource(flow: string): string {
  const file = flow === 'default' ? path.join(packageRoot(), 'flows', 'default.json') : path.resolve(flow);
  if (!existsSync(file))
    throw new ConfigError('nodeRed.flow', flow, '"default" or the path of an existing flow JSON file');
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!Array.isArray(parsed)) throw new Error('the top level is not an array of nodes');
  } catch (err) {
    throw new ConfigError(
      'nodeRed.flow',
      flow,
      `a Node-RED flow file (a JSON array of nodes): ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return file;
}

export async function startNodeRed(options: EmbeddedNodeRedOptions): Promise<EmbeddedNodeRed> {
  const log = options.log ?? (() => {});
  const RED = loadNodeRed();
  mkdirSync(options.userDir, { recursive: true });
  const flowFile = path.join(options.userDir, 'flows.json');
  if (!existsSync(flowFile)) {
    copyFileSync(options.firstFlow, flowFile);
    log(`node-red: deployed ${options.firstFlow} as the first flow in ${flowFile}`);
  }

  const server = createServer();
  const settings: Record<string, unknown> = {
    userDir: options.userDir,
    flowFile: 'flows.json',
    uiHost: options.host,
    uiPort: options.port,
    httpAdminRoot: '/',
    httpNodeRoot: '/',
    // This package is a Node-RED module (package.json "node-red"): load it like an installed one.
    nodesDir: [packageRoot()],
    logging: {
      console: {
        level: options.logLevel,
        metrics: false,
        audit: false,
      },
    },
    editorTheme: { projects: { enabled: false }, tours: false, palette: { catalogues: [] } },
    externalModules: { palette: { allowInstall: false }, modules: { allowInstall: false } },
    telemetry: { enabled: false, updateNotification: false },
    diagnostics: { enabled: true, ui: true },
    functionExternalModules: false,
    credentialSecret: options.credentialSecret,
    ...(options.adminAuth ? { adminAuth: options.adminAuth } : {}),
  };
  RED.init(server, settings);

  for (const [route, produce] of Object.entries(options.routes ?? {})) {
    RED.httpAdmin.get(route, RED.auth.needsPermission('hepek.read'), (_req, res) => {
      Promise.resolve()
        .then(produce)
        .then((body) => {
          // A body that reports an `error` is a degraded answer: say so in the status code too.
          if (body && typeof body === 'object' && 'error' in body) res.statusCode = 503;
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
        })
        .catch((err: Error) => {
          res.statusCode = 503;
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ error: err.message }));
        });
    });
  }

  for (const route of options.httpRoutes ?? []) {
    const guard: Handler[] = route.permission ? [RED.auth.needsPermission(route.permission)] : [];
    RED.httpAdmin[route.method](route.path, ...guard, (req, res, next) => {
      Promise.resolve()
        .then(() => route.handle(req, res))
        .catch(next);
    });
  }

  // Listen before starting (a busy port fails fast) but answer 503 until the nodes are loaded and
  // the flows run, so nobody sees a half-loaded palette.
  let ready = false;
  server.on('request', (req, res) => {
    if (!ready) {
      res.statusCode = 503;
      res.setHeader('retry-after', '1');
      res.end('HEPEK is starting\n');
      return;
    }
    const pathname = (req.url ?? '/').split('?')[0];
    const raw = options.rawRoutes?.find((r) => r.path === pathname);
    if (raw) {
      raw.handle(req, res).catch(() => {
        if (!res.headersSent) res.statusCode = 500;
        res.end();
      });
      return;
    }
    RED.httpAdmin(req, res, (err) => {
      if (err) {
        res.statusCode = 500;
        res.end();
        return;
      }
      RED.httpNode(req, res, () => {
        res.statusCode = 404;
        res.end();
      });
    });
  });
  await listen(server, options.host, options.port, 'nodeRed.port');
  try {
    await RED.start();
    ready = true;
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw new StateError(options.userDir, `Node-RED did not start: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${options.port}/`;
  return {
    url,
    async stop() {
      await RED.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
