// kill -9 of the web-mode server at random moments while clients relabel, undo and redo in bulk
// over its WebSocket: after each restart every image's content exists exactly once, recovery
// leaves no doubt, and undo and redo work.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { WebSocket } from 'ws';
import { requireBuild, startServer } from './harness.mjs';

const TRIALS = 24;
const CLASSES = ['A', 'B', 'C'];
const PER_FOLDER = 30;
let dir;
let project;

/** Sorted content hashes of every image in the project (its own .labelloop folder aside). */
async function contentHashes(root) {
  const hashes = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    const folder = entry.parentPath ?? entry.path;
    if (!entry.isFile() || path.relative(root, folder).split(path.sep)[0] === '.labelloop') continue;
    hashes.push(createHash('sha256').update(await readFile(path.join(folder, entry.name))).digest('hex'));
  }
  return hashes.sort();
}

/** A WebSocket client of the contract: `call(route, input)` resolves to the reply's envelope. */
async function connect(server) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`, { headers: { Origin: `http://127.0.0.1:${server.port}` } });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const waiting = new Map();
  let nextId = 1;
  ws.on('message', (data) => {
    const message = JSON.parse(String(data));
    if (message.id === undefined || !waiting.has(message.id)) return;
    waiting.get(message.id).resolve(message);
    waiting.delete(message.id);
  });
  // A killed server drops the socket: calls in flight end, unanswered.
  ws.on('close', () => {
    for (const call of waiting.values()) call.resolve({ ok: false, error: { code: 'closed' } });
    waiting.clear();
  });
  ws.on('error', () => undefined);
  return {
    call: (route, input = {}) =>
      new Promise((resolve) => {
        if (ws.readyState !== ws.OPEN) return resolve({ ok: false, error: { code: 'closed' } });
        const id = nextId++;
        waiting.set(id, { resolve });
        ws.send(JSON.stringify({ id, route, input }));
      }),
    close: () => ws.terminate(),
  };
}

/** xorshift32: each run of the test the same sequence of steps and kill times. */
function seeded(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** Relabels random subsets (often onto names already taken, so " (2)" names appear), undoes and redoes, until the socket closes. */
async function workUntilClosed(client, random) {
  for (;;) {
    const current = await client.call('project.current');
    if (!current.ok || !current.result) return;
    const roll = random();
    let answer;
    if (roll < 0.15 && current.result.history.canUndo) answer = await client.call('dataset.undo');
    else if (roll < 0.25 && current.result.history.canRedo) answer = await client.call('dataset.redo');
    else {
      const paths = current.result.items.map((item) => item.path).filter(() => random() < 0.3);
      const targets = [...CLASSES, null];
      if (paths.length > 0) answer = await client.call('dataset.relabel', { paths, to: targets[Math.floor(random() * targets.length)] });
    }
    if (answer?.error?.code === 'closed') return;
  }
}

before(async () => {
  requireBuild();
  dir = await mkdtemp(path.join(os.tmpdir(), 'labelloop-kill-'));
  project = path.join(dir, 'project');
  // Small distinct PNGs with the same names in every folder.
  for (const [f, folder] of [...CLASSES, ''].entries()) {
    await mkdir(path.join(project, folder), { recursive: true });
    for (let i = 0; i < PER_FOLDER; i++) {
      const pixels = Buffer.alloc(8 * 8 * 3, (f * PER_FOLDER + i) % 256);
      pixels[0] = f;
      pixels[1] = i;
      await sharp(pixels, { raw: { width: 8, height: 8, channels: 3 } }).png().toFile(path.join(project, folder, `img_${String(i).padStart(3, '0')}.png`));
    }
  }
});
after(() => rm(dir, { recursive: true, force: true }));

test(`kill -9 of the server ${TRIALS} times during bulk relabels over its WebSocket loses and duplicates no image, and undo works after each`, { timeout: 600_000 }, async () => {
  const original = await contentHashes(project);
  assert.equal(original.length, (CLASSES.length + 1) * PER_FOLDER);
  assert.equal(new Set(original).size, original.length, 'every image is distinct');
  const random = seeded(7);
  const configDir = path.join(dir, 'config');
  let rolledBack = 0;
  // Each trial's server first checks what the last kill left, then works until it is killed itself.
  for (let trial = 0; trial <= TRIALS; trial++) {
    const server = await startServer({ project, configDir });
    const client = await connect(server);
    const opened = await client.call('project.current');
    assert.ok(opened.ok && opened.result, `trial ${trial}: the project opens`);
    const recovered = opened.result.recovered.join('\n');
    if (/rolled back/.test(recovered)) rolledBack++;
    assert.doesNotMatch(recovered, /Could not|not completely|Kept both|missing/, `trial ${trial}`);
    assert.equal(opened.result.readOnly, null, `trial ${trial}`);
    assert.deepEqual(await contentHashes(project), original, `trial ${trial}: every image exactly once after the restart`);
    if (opened.result.history.canUndo) {
      assert.deepEqual((await client.call('dataset.undo')).result.failed, [], `trial ${trial}: undo`);
      assert.deepEqual(await contentHashes(project), original, `trial ${trial}: after undo`);
      assert.deepEqual((await client.call('dataset.redo')).result.failed, [], `trial ${trial}: redo`);
    }
    if (trial === TRIALS) {
      client.close();
      await server.stop();
      break;
    }
    const working = workUntilClosed(client, random);
    await new Promise((resolve) => setTimeout(resolve, 40 + Math.floor(random() * 400)));
    await server.kill();
    await working;
    client.close();
  }
  // The kills landed inside transactions, so recovery itself was exercised.
  assert.ok(rolledBack > 0, `recovery rolled back an unfinished relabel in ${rolledBack} of ${TRIALS} restarts`);
});
