import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { LabelLoopApp } from '../../../src/main/app';
import { startWebServer, type WebServer } from '../../../src/main/web/server';
import { jpeg, makeProject, tempDir } from '../../helpers/fixtures';

/** A raw request, so tests can set Host and Origin the way an attacker would. */
function request(port: number, pathname: string, headers: Record<string, string> = {}, method = 'GET', body?: Buffer) {
  return new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathname, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
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

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    await makeProject(path.join(dir, 'project'));
    await mkdir(path.join(dir, 'renderer'));
    await writeFile(path.join(dir, 'renderer/index.html'), '<h1>app</h1>');
    app = new LabelLoopApp({ host: 'web', version: 'test', configDir: path.join(dir, 'config'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    await app.handle('project.open', { path: path.join(dir, 'project') });
    server = await startWebServer({ app, rendererDir: path.join(dir, 'renderer') });
    cookie = `labelloop_token=${server.token}`;
  });
  afterEach(async () => {
    await server.close();
    await app.dispose();
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
    expect(first.headers['set-cookie']?.[0]).toMatch(/HttpOnly; SameSite=Strict/);
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
});
