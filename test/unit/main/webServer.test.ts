import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { LabelLoopApp } from '../../../src/main/app';
import { startWebServer, type WebServer } from '../../../src/main/web/server';
import { jpeg, tempDir } from '../../helpers/fixtures';
import { startTestServer } from '../../helpers/webServer';

/** A raw request, so tests can set Host and Origin the way an attacker would. */
function request(port: number, pathname: string, headers: Record<string, string> = {}, method = 'GET', body?: Buffer) {
  return new Promise<{ status: number; body: string; bytes: Buffer; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathname, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, body: bytes.toString(), bytes, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('web mode server', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let app: LabelLoopApp;
  let server: WebServer;
  let cookie: string;
  let closeServer: () => Promise<void>;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    ({ app, server, cookie, close: closeServer } = await startTestServer(dir));
  });
  afterEach(async () => {
    await closeServer();
    await cleanup();
  });

  it('binds to 127.0.0.1 and prints a URL with a long random token', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/);
  });

  it('refuses requests without the token, with a wrong token, or for a foreign Host', async () => {
    expect((await request(server.port, '/')).status).toBe(401);
    expect((await request(server.port, '/?token=nope')).status).toBe(401);
    expect((await request(server.port, `/?token=${server.token}`, { Host: 'evil.example' })).status).toBe(403);
  });

  it('trades the URL token for an HttpOnly cookie and serves the app with a CSP', async () => {
    const first = await request(server.port, `/?token=${server.token}`);
    expect(first.status).toBe(302);
    expect(first.headers['set-cookie']?.[0]).toBe(`labelloop_token_${server.port}=${server.token}; HttpOnly; SameSite=Strict; Path=/`);
    const page = await request(server.port, '/', { Cookie: cookie });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect((await request(server.port, '/../../etc/passwd', { Cookie: cookie })).status).toBe(404);
  });

  it('serves thumbnails of the project only', async () => {
    const ok = await request(server.port, '/image?path=OK/a.jpg&size=thumb', { Cookie: cookie });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('image/webp');
    expect((await request(server.port, '/image?path=../config/recent.json', { Cookie: cookie })).status).toBe(403);
    expect((await request(server.port, `/image?path=${encodeURIComponent(path.join(dir, 'project/OK/a.jpg'))}`, { Cookie: cookie })).status).toBe(403);
    expect((await request(server.port, '/image?path=OK/none.jpg', { Cookie: cookie })).status).toBe(404);
  });

  it('imports uploads only from its own origin', async () => {
    const data = await jpeg('#0af');
    const foreign = await request(server.port, '/import?class=NG&name=x.jpg', { Cookie: cookie, Origin: 'http://evil.example' }, 'POST', data);
    expect(foreign.status).toBe(403);
    const own = await request(server.port, '/import?class=NG&name=x.jpg', { Cookie: cookie, Origin: `http://127.0.0.1:${server.port}` }, 'POST', data);
    expect(JSON.parse(own.body)).toEqual({ ok: true, result: { imported: ['NG/x.jpg'], duplicates: [], rejected: [] } });
  });

  it('takes prediction uploads only with the cookie, from its own origin, for an open session', async () => {
    const data = await jpeg('#0af');
    const origin = `http://127.0.0.1:${server.port}`;
    expect((await request(server.port, '/predict?session=x&name=x.jpg', { Origin: origin }, 'POST', data)).status).toBe(401);
    expect((await request(server.port, '/predict?session=x&name=x.jpg', { Cookie: cookie, Origin: 'http://evil.example' }, 'POST', data)).status).toBe(403);
    const closed = await request(server.port, '/predict?session=x&name=x.jpg', { Cookie: cookie, Origin: origin }, 'POST', data);
    expect(JSON.parse(closed.body)).toMatchObject({ ok: false, error: { code: 'no-session', message: expect.stringMatching(/session is closed/) } });
  });

  it('answers contract calls over the WebSocket and refuses foreign origins', async () => {
    const url = `ws://127.0.0.1:${server.port}/ws`;
    const refused = new WebSocket(url, { headers: { Cookie: cookie, Origin: 'http://evil.example' } });
    await expect(new Promise((resolve, reject) => refused.on('open', resolve).on('error', reject))).rejects.toThrow(/403/);
    const noToken = new WebSocket(url, { headers: { Origin: `http://127.0.0.1:${server.port}` } });
    await expect(new Promise((resolve, reject) => noToken.on('open', resolve).on('error', reject))).rejects.toThrow(/403/);

    const ws = new WebSocket(url, { headers: { Cookie: cookie, Origin: `http://127.0.0.1:${server.port}` } });
    await new Promise((resolve) => ws.on('open', resolve));
    const reply = new Promise<{ id: number; ok: boolean; result: { classes: string[] } }>((resolve) => ws.on('message', (m) => resolve(JSON.parse(String(m)))));
    ws.send(JSON.stringify({ id: 7, route: 'dataset.scan', input: {} }));
    expect(await reply).toMatchObject({ id: 7, ok: true, result: { classes: ['NG', 'OK'] } });
    ws.close();
  });

  const openSocket = async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { headers: { Cookie: cookie, Origin: `http://127.0.0.1:${server.port}` } });
    await new Promise((resolve, reject) => ws.on('open', resolve).on('error', reject));
    return ws;
  };
  const nextReply = (ws: WebSocket, frame: string) => {
    const reply = new Promise<Record<string, unknown>>((resolve) => ws.once('message', (m) => resolve(JSON.parse(String(m)) as Record<string, unknown>)));
    ws.send(frame);
    return reply;
  };
  /** A fresh connection still gets a contract call answered: the server survived. */
  const expectServerAnswers = async () => {
    const ws = await openSocket();
    expect(await nextReply(ws, JSON.stringify({ id: 1, route: 'dataset.scan', input: {} }))).toMatchObject({ id: 1, ok: true });
    ws.close();
  };

  it('answers null, arrays, scalars and route-less messages with an error envelope and stays up', async () => {
    const ws = await openSocket();
    for (const frame of ['null', '[1,2]', '42', '"text"', 'true', '{"id":3}', '{"id":4,"route":{"a":1}}', 'not json']) {
      expect(await nextReply(ws, frame)).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    }
    // An id that is not a small number or string is not echoed back.
    expect(await nextReply(ws, JSON.stringify({ id: { big: [1, 2] }, route: 'dataset.scan' }))).toMatchObject({ id: null, ok: true });
    ws.close();
    await expectServerAnswers();
  });

  it('closes a socket that sends invalid UTF-8 (1007) or an oversized message (1009) and stays up', async () => {
    // An unhandled socket error would kill a real server; in a test it surfaces here.
    const crashes: unknown[] = [];
    const onCrash = (error: unknown) => crashes.push(error);
    process.on('uncaughtException', onCrash);
    const invalid = await openSocket();
    const invalidClosed = new Promise<number>((resolve) => invalid.on('close', resolve));
    invalid.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect(await invalidClosed).toBe(1007);

    const huge = await openSocket();
    const hugeClosed = new Promise<number>((resolve) => huge.on('close', resolve));
    huge.send(Buffer.alloc(64 * 1024 * 1024 + 1, 0x20), { binary: false });
    expect(await hugeClosed).toBe(1009);
    await expectServerAnswers();
    process.off('uncaughtException', onCrash);
    expect(crashes).toEqual([]);
  });

  it('redirects only to a path on this server after trading the token', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    for (const target of ['/.//evil.com', '/\\evil.com', '/./\\/evil.com', '//evil.com/', '/%2F%2Fevil.com', '/.//evil.com/x?y=1']) {
      const reply = await request(server.port, `${target}${target.includes('?') ? '&' : '?'}token=${server.token}`);
      expect(reply.status).toBe(302);
      const location = reply.headers.location ?? '';
      expect(location).toMatch(/^\/(?![/\\])/);
      expect(new URL(location, base).origin).toBe(base);
    }
    expect((await request(server.port, `/.//evil.com/x?y=1&token=${server.token}`)).headers.location).toBe('/evil.com/x?y=1');
  });

  it('keeps two servers side by side: each has its own cookie, neither replaces the other', async () => {
    const other = await startWebServer({ app, rendererDir: path.join(dir, 'renderer') });
    try {
      // A browser's cookie jar for 127.0.0.1: one value per name, sent to every port.
      const jar = new Map<string, string>();
      const visit = async (port: number, pathname: string) => {
        const reply = await request(port, pathname, { Cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') });
        for (const header of reply.headers['set-cookie'] ?? []) {
          const [name = '', ...value] = (header.split(';')[0] ?? '').split('=');
          jar.set(name, value.join('='));
        }
        return reply;
      };
      await visit(server.port, `/?token=${server.token}`);
      await visit(other.port, `/?token=${other.token}`);
      expect((await visit(server.port, '/')).status).toBe(200);
      expect((await visit(other.port, '/')).status).toBe(200);
      expect(jar.size).toBe(2);
    } finally {
      await other.close();
    }
  });

  it('answers a malformed URL with 400, not 500', async () => {
    for (const target of ['/%', '/%E0%A4%A', '/app/%zz.js']) {
      const reply = await request(server.port, target, { Cookie: cookie });
      expect(reply.status).toBe(400);
      expect(reply.body).toMatch(/malformed/);
    }
  });

  it('downloads an exported run as a zip with every file of the export', async () => {
    const runId = '20261123-120000-abcd';
    const folder = path.join(dir, 'project/.labelloop/exports', runId);
    await mkdir(folder, { recursive: true });
    const files = { 'model.json': '{"format":"layers-model"}', 'labels.json': '["NG","OK"]', 'weights.bin': 'x'.repeat(5000) };
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(folder, name), text);

    expect((await request(server.port, `/export.zip?run=${runId}`)).status).toBe(401);
    const reply = await request(server.port, `/export.zip?run=${runId}`, { Cookie: cookie });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/zip');
    expect(reply.headers['content-disposition']).toBe(`attachment; filename="labelloop-${runId}.zip"`);
    expect(await readZip(reply.bytes, path.join(dir, 'download.zip'))).toEqual(files);

    expect((await request(server.port, '/export.zip?run=20261123-120000-ffff', { Cookie: cookie })).body).toMatch(/not exported yet/);
    expect((await request(server.port, '/export.zip?run=../../etc', { Cookie: cookie })).status).toBe(404);
  });
});

/** The entries of a zip as read by Python's zipfile (CRCs checked): an independent reader. */
async function readZip(bytes: Buffer, file: string): Promise<Record<string, string>> {
  await writeFile(file, bytes);
  const script = 'import json,sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps({i.filename: z.read(i).decode() for i in z.infolist()}))';
  const { stdout } = await promisify(execFile)('python3', ['-c', script, file]);
  return JSON.parse(stdout) as Record<string, string>;
}
