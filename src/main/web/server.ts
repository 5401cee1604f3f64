// Web mode transport: the same renderer in a browser, talking to the same LabelLoopApp over a
// WebSocket. Loopback only, a per-launch token (like Jupyter), same-origin checks on every request.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type RawData, WebSocketServer, type WebSocket } from 'ws';
import type { ThumbnailSize } from '../../shared/contract';
import { MAX_IMPORT_BYTES } from '../../shared/contract';
import type { LabelLoopApp } from '../app';
import { isInside } from '../project/confine';
import { UserError } from '../common/errors';
import { zipFiles } from '../common/zip';

export interface WebServerOptions {
  app: LabelLoopApp;
  /** The built renderer (out/renderer). */
  rendererDir: string;
  port?: number;
  token?: string;
}

export interface WebServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

/**
 * The largest WebSocket message taken (a relabel of 100,000 long paths fits); a bigger one closes
 * that socket with 1009 rather than fill the memory.
 */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: labelloop:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const token = options.token ?? randomBytes(24).toString('hex');
  const tokenBytes = Buffer.from(token);
  let port = 0;
  const allowedHosts = () => [`127.0.0.1:${port}`, `localhost:${port}`];
  // Browsers keep cookies per host, not per port: one name per port keeps two LabelLoops side by
  // side from overwriting each other's token.
  const cookieName = () => `labelloop_token_${port}`;

  const authorized = (request: http.IncomingMessage, url: URL): boolean => {
    const offered = url.searchParams.get('token') ?? readCookie(request.headers.cookie, cookieName());
    if (!offered) return false;
    const bytes = Buffer.from(offered);
    return bytes.length === tokenBytes.length && timingSafeEqual(bytes, tokenBytes);
  };
  // Blocks DNS rebinding (foreign Host) and cross-site requests (foreign Origin).
  const sameOrigin = (request: http.IncomingMessage): boolean => {
    if (!allowedHosts().includes(request.headers.host ?? '')) return false;
    const origin = request.headers.origin;
    return origin === undefined || allowedHosts().some((h) => origin === `http://${h}`);
  };

  const server = http.createServer((request, response) => {
    void route(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, 'text/plain', `Internal error: ${error instanceof Error ? error.message : String(error)}`);
      else response.destroy();
    });
  });

  async function route(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = parseRequestUrl(request);
    if (!url) return send(response, 400, 'text/plain', 'Bad request: malformed URL');
    if (!sameOrigin(request)) return send(response, 403, 'text/plain', 'Forbidden: wrong host or origin');
    if (!authorized(request, url)) {
      return send(response, 401, 'text/html; charset=utf-8', '<h1>LabelLoop</h1><p>Open the URL with the token that the server printed when it started.</p>');
    }
    if (url.searchParams.has('token')) {
      // Trade the token in the URL for a cookie, so it does not linger in history or logs.
      response.setHeader('Set-Cookie', `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`);
      url.searchParams.delete('token');
      // Always a path on this server: "/.//evil.com" normalizes to "//evil.com", which a browser
      // would follow to another host.
      response.writeHead(302, { Location: `/${url.pathname.replace(/^[/\\]+/, '')}${url.search}` });
      response.end();
      return;
    }
    if (url.pathname === '/image' && request.method === 'GET') return serveImage(url, response);
    if (url.pathname === '/export.zip' && request.method === 'GET') return serveExport(url.searchParams.get('run') ?? '', response);
    if (url.pathname === '/import' && request.method === 'POST') {
      return receiveUpload(url, request, response, (name, data) => options.app.importFile(url.searchParams.get('class') || null, name, data));
    }
    if (url.pathname === '/import-faces' && request.method === 'POST') {
      return receiveUpload(url, request, response, (name, data) => options.app.importFaces(url.searchParams.get('class') || null, parseSettings(url.searchParams.get('settings')), name, data));
    }
    if (url.pathname === '/predict-faces' && request.method === 'POST') {
      return receiveUpload(url, request, response, (name, data) => options.app.predictFaces(url.searchParams.get('session') ?? '', parseSettings(url.searchParams.get('settings')), name, data));
    }
    if (url.pathname === '/predict' && request.method === 'POST') {
      return receiveUpload(url, request, response, (name, data) => options.app.predictFile(url.searchParams.get('session') ?? '', name, data));
    }
    if (request.method === 'GET') return serveStatic(url.pathname, response);
    send(response, 405, 'text/plain', 'Method not allowed');
  }

  async function serveImage(url: URL, response: http.ServerResponse): Promise<void> {
    const relative = url.searchParams.get('path') ?? '';
    const size: ThumbnailSize = url.searchParams.get('size') === 'large' ? 'large' : 'thumb';
    try {
      const probe = await options.app.image(relative, size);
      if (!probe.ok) return send(response, 422, 'text/plain; charset=utf-8', probe.problem);
      // Not cached on disk (a full disk): sent from memory, and not kept by the browser either.
      if ('webp' in probe) {
        response.writeHead(200, { 'Content-Type': 'image/webp', 'Cache-Control': 'no-store' });
        return void response.end(probe.webp);
      }
      response.writeHead(200, { 'Content-Type': 'image/webp', 'Cache-Control': 'private, max-age=31536000, immutable' });
      await pipeline(createReadStream(probe.file), response);
    } catch (error) {
      if (error instanceof UserError) return sendUserError(response, error);
      throw error;
    }
  }

  /** A run's exported model folder as one zip, so a browser on another machine can take it home. */
  async function serveExport(runId: string, response: http.ServerResponse): Promise<void> {
    let folder: string;
    try {
      folder = options.app.exportFolder(runId);
    } catch (error) {
      if (error instanceof UserError) return sendUserError(response, error);
      throw error;
    }
    const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
    const names = entries.filter((e) => e.isFile()).map((e) => e.name).sort();
    if (names.length === 0) return send(response, 404, 'text/plain; charset=utf-8', `Run ${runId} is not exported yet: press Export model first`);
    response.writeHead(200, {
      'Content-Type': 'application/zip',
      'Content-Disposition': `attachment; filename="labelloop-${runId}.zip"`,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
    });
    await pipeline(Readable.from(zipFiles(folder, names)), response);
  }

  /** An upload's bytes (one file per POST, capped) handed to the app; the reply is a JSON envelope. */
  /** Face settings as JSON in the query; the app validates them (unparsable JSON is refused there too). */
  function parseSettings(text: string | null): unknown {
    try {
      return JSON.parse(text ?? '{}');
    } catch {
      return null;
    }
  }

  async function receiveUpload(url: URL, request: http.IncomingMessage, response: http.ServerResponse, use: (name: string, data: Buffer) => Promise<unknown>): Promise<void> {
    const name = url.searchParams.get('name') ?? '';
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_IMPORT_BYTES) {
        return sendJson(response, 413, { ok: false, error: { code: 'too-large', message: `${name} is over ${MAX_IMPORT_BYTES / 1024 / 1024} MB` } });
      }
      chunks.push(chunk);
    }
    try {
      sendJson(response, 200, { ok: true, result: await use(name, Buffer.concat(chunks)) });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      sendJson(response, 200, { ok: false, error: { code: error instanceof UserError ? error.code : 'internal', message } });
    }
  }

  async function serveStatic(pathname: string, response: http.ServerResponse): Promise<void> {
    let relative: string;
    try {
      relative = decodeURIComponent(pathname === '/' ? '/index.html' : pathname);
    } catch {
      return send(response, 400, 'text/plain', 'Bad request: malformed percent-encoding in the URL');
    }
    const file = path.resolve(options.rendererDir, `.${relative}`);
    const info = isInside(options.rendererDir, file) ? await stat(file).catch(() => null) : null;
    if (!info?.isFile()) return send(response, 404, 'text/plain', 'Not found');
    response.writeHead(200, {
      'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': file.endsWith('.html') ? 'no-cache' : 'max-age=3600',
    });
    await pipeline(createReadStream(file), response);
  }

  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  server.on('upgrade', (request, socket, head) => {
    // A client that resets the connection mid-handshake must not take the server down.
    socket.on('error', () => socket.destroy());
    const url = parseRequestUrl(request);
    if (url?.pathname !== '/ws' || !sameOrigin(request) || !authorized(request, url)) {
      socket.write('HTTP/1.1 403 Forbidden\r\n\r\n');
      socket.destroy();
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => connect(ws));
  });

  function connect(ws: WebSocket): void {
    const unsubscribe = options.app.events.subscribe((event, payload) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event, payload }));
    });
    const reply = (body: object) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(body));
    };
    ws.on('message', (data, isBinary) => {
      const message = readCall(data, isBinary);
      if ('problem' in message) return reply({ id: message.id, ok: false, error: { code: 'invalid-message', message: message.problem } });
      // A reply that cannot be serialized is an error envelope too, never an unhandled rejection.
      void options.app
        .handle(message.route, message.input)
        .then((envelope) => reply({ id: message.id, ...envelope }))
        .catch((error: unknown) => reply({ id: message.id, ok: false, error: { code: 'internal', message: error instanceof Error ? error.message : String(error) } }));
    });
    // Invalid UTF-8, an oversized message or a protocol error: ws has already closed this socket
    // with the matching code (1007, 1009, 1002); the error only needs a listener so it is not fatal.
    ws.on('error', () => undefined);
    ws.on('close', unsubscribe);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  server.on('error', (error) => console.error('[labelloop] web server:', error));
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: async () => {
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The request's URL, or null when it cannot be parsed (the request then gets a 400). */
function parseRequestUrl(request: http.IncomingMessage): URL | null {
  try {
    return new URL(request.url ?? '/', 'http://127.0.0.1');
  } catch {
    return null;
  }
}

type Call = { id: number | string | null; route: string; input: unknown } | { id: number | string | null; problem: string };

/** A WebSocket message as a contract call, or why it is not one (answered, never thrown). */
function readCall(data: RawData, isBinary: boolean): Call {
  if (isBinary) return { id: null, problem: 'Binary messages are not accepted: send JSON text' };
  let message: unknown;
  try {
    message = JSON.parse(String(data));
  } catch {
    return { id: null, problem: 'The message is not JSON' };
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    return { id: null, problem: 'Expected a JSON object {id, route, input}' };
  }
  const { id, route, input } = message as Record<string, unknown>;
  // Only small ids are echoed: the reply must not carry (or fail to serialize) whatever was sent.
  const echoed = Number.isSafeInteger(id) || (typeof id === 'string' && id.length <= 64) ? (id as number | string) : null;
  if (typeof route !== 'string' || route.length > 100) return { id: echoed, problem: 'Expected "route" to be a route name' };
  return { id: echoed, route, input };
}

function sendUserError(response: http.ServerResponse, error: UserError): void {
  const status = error.code === 'outside-project' ? 403 : error.code === 'not-found' || error.code === 'no-such-run' ? 404 : 400;
  send(response, status, 'text/plain; charset=utf-8', error.message);
}

function readCookie(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return null;
}

function send(response: http.ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'Content-Type': type, 'X-Content-Type-Options': 'nosniff' });
  response.end(body);
}

function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  send(response, status, 'application/json', JSON.stringify(body));
}
