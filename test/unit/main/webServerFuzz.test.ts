// Bounded fuzz of the web server, loopback only: a few hundred random and malformed WebSocket
// frames and raw HTTP requests, and after every batch a fresh client must still get an answer.
// Seeded, so a failure can be replayed; it stops by itself in well under a minute.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { routes } from '../../../src/shared/contract';
import type { WebServer } from '../../../src/main/web/server';
import { tempDir } from '../../helpers/fixtures';
import { startTestServer } from '../../helpers/webServer';

const SEED = 0x1abe1;
const BATCHES = 12;
const PER_BATCH = 25;

/** mulberry32: small, seeded, good enough to pick test cases. */
function randomSource(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { int, pick, bytes };
}

describe('web server under random and malformed input', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: WebServer;
  let cookie: string;
  let closeServer: () => Promise<void>;
  const random = randomSource(SEED);
  // What would have killed a real server process: in a test it lands here instead.
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);

  beforeAll(async () => {
    process.on('uncaughtException', onCrash).on('unhandledRejection', onCrash);
    ({ dir, cleanup } = await tempDir());
    ({ server, cookie, close: closeServer } = await startTestServer(dir));
  });
  afterAll(async () => {
    process.off('uncaughtException', onCrash).off('unhandledRejection', onCrash);
    await closeServer();
    await cleanup();
  });

  const origin = () => `http://127.0.0.1:${server.port}`;
  const openSocket = async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { headers: { Cookie: cookie, Origin: origin() } });
    ws.on('error', () => undefined); // the server may cut a socket that sent garbage mid-write
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return ws;
  };

  /** Nothing escaped as an uncaught error, and the server answers a well-formed call on a new connection. */
  const expectAlive = async () => {
    expect(crashes).toEqual([]);
    const ws = await openSocket();
    const reply = new Promise<{ id: number; ok: boolean }>((resolve) => ws.once('message', (m) => resolve(JSON.parse(String(m)) as { id: number; ok: boolean })));
    ws.send(JSON.stringify({ id: 99, route: 'dataset.scan', input: {} }));
    expect(await reply).toMatchObject({ id: 99, ok: true });
    ws.close();
  };

  /** A JSON value of random shape; never a valid input object (every route's input is a strict object). */
  const junkValue = (depth = 0): unknown => {
    switch (random.int(depth > 3 ? 5 : 8)) {
      case 0: return null;
      case 1: return random.int(2) ? random.int(1e9) - 5e8 : Number.MAX_VALUE;
      case 2: return random.bytes(random.int(40)).toString('latin1');
      case 3: return random.int(2) === 1;
      case 4: return [];
      case 5: return Array.from({ length: random.int(4) }, () => junkValue(depth + 1));
      case 6: return { __fuzz: junkValue(depth + 1) };
      default: return { [random.bytes(4).toString('hex')]: junkValue(depth + 1), paths: junkValue(depth + 1) };
    }
  };
  const routeNames = Object.keys(routes);
  const wsFrame = (): { data: Buffer | string; binary: boolean } => {
    switch (random.int(10)) {
      case 0: return { data: random.bytes(1 + random.int(300)), binary: false }; // usually invalid UTF-8
      case 1: return { data: random.bytes(1 + random.int(300)), binary: true };
      case 2: return { data: JSON.stringify(junkValue()), binary: false };
      case 3: return { data: `${'['.repeat(50_000)}${']'.repeat(random.int(2) ? 50_000 : 3)}`, binary: false }; // deep or unterminated
      case 4: return { data: JSON.stringify({ id: junkValue(), route: random.pick(routeNames), input: random.pick([[1], 'x', 7, true, { __fuzz: 1 }]) }), binary: false };
      case 5: return { data: JSON.stringify({ id: random.int(1000), route: random.bytes(random.int(200)).toString('latin1'), input: junkValue() }), binary: false };
      case 6: return { data: JSON.stringify({ id: random.int(1000), route: junkValue(), input: {} }), binary: false };
      case 7: return { data: '{"id":1,"route":"dataset.scan","input":', binary: false }; // cut short
      case 8: return { data: JSON.stringify({ id: 'x'.repeat(10_000), route: 'dataset.scan', input: {} }), binary: false };
      default: return { data: JSON.stringify({ id: [1, [2, [3]]], route: 'thumbnails.status', input: junkValue() }), binary: false };
    }
  };

  it('survives random, malformed, binary, deep and oversized WebSocket frames', async () => {
    for (let batch = 0; batch < BATCHES; batch++) {
      let ws = await openSocket();
      for (let i = 0; i < PER_BATCH; i++) {
        // A socket the server closed (invalid UTF-8, protocol error) is replaced by a fresh one.
        if (ws.readyState !== WebSocket.OPEN) ws = await openSocket();
        const { data, binary } = wsFrame();
        ws.send(data, { binary });
      }
      if (batch === BATCHES - 1) ws.send(Buffer.alloc(64 * 1024 * 1024 + 1, 0x61), { binary: false });
      // Let the server work through the batch, then it must answer a newcomer.
      await new Promise((resolve) => setTimeout(resolve, 50));
      ws.terminate();
      await expectAlive();
    }
  });

  /** One raw HTTP request, written byte for byte; resolves when the server answers or hangs up. */
  const rawRequest = (text: Buffer) =>
    new Promise<void>((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1');
      const done = () => {
        socket.destroy();
        resolve();
      };
      socket.setTimeout(2000, done);
      socket.on('error', done);
      socket.on('close', done);
      socket.on('data', () => undefined);
      socket.end(text);
    });

  const PATH_PIECES = ['/', '//', '/./', '/../', '\\', '%', '%2', '%zz', '%00', '%2F', '%5C', '?', '#', '&', '=', 'token=', 'evil.com', 'image', 'import', 'predict', 'export.zip', 'ws', 'index.html', '%E0%A4%A', 'é', '\u00ff', 'path=../x', 'run=../..'];
  const httpRequest = (): Buffer => {
    const method = random.pick(['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'get', 'BREW', 'G\u0000T', '']);
    const target = Array.from({ length: 1 + random.int(8) }, () => random.pick(PATH_PIECES)).join('');
    const headers = [
      random.int(5) ? `Host: 127.0.0.1:${server.port}` : random.pick(['Host: evil.example', 'Host:', '']),
      random.int(3) ? `Cookie: ${cookie}` : random.pick([`Cookie: ${cookie.slice(0, -3)}`, 'Cookie: ;;;==', '']),
      random.pick(['', `Origin: ${origin()}`, 'Origin: http://evil.example', 'Origin: null']),
      random.pick(['', 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: bogus', 'Content-Length: 5', 'Content-Length: -1', 'Transfer-Encoding: chunked', `X-Junk: ${random.bytes(20).toString('latin1')}`]),
    ].filter(Boolean);
    const head = `${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\nConnection: close\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, 'latin1'), random.int(3) ? Buffer.alloc(0) : random.bytes(random.int(64))]);
  };

  it('survives random and malformed HTTP requests', async () => {
    for (let batch = 0; batch < BATCHES; batch++) {
      await Promise.all(Array.from({ length: PER_BATCH }, () => rawRequest(random.int(10) ? httpRequest() : random.bytes(1 + random.int(200)))));
      const page = await fetch(`${origin()}/`, { headers: { Cookie: cookie } });
      expect(page.status).toBe(200);
      await expectAlive();
    }
  });
});
