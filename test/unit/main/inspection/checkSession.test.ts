// The data check as a session of the app: start returns an id, progress and the end come as events
// carrying it, status resyncs a window (also after a restart, from check.json), cancel stops it,
// one at a time; excluded images are in no split, so they leak nothing.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LabelLoopApp } from '../../../../src/main/app';
import { CHECK_FILE } from '../../../../src/main/inspection/checkSession';
import { DATA_DIR } from '../../../../src/main/project/scan';
import type { CheckStatus, EventName, EventPayload } from '../../../../src/shared/contract';
import { openDemoApp } from '../../../helpers/fixtures';
import { existsSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import sharp from 'sharp';
import { writeSplits } from '../../../../src/main/training/splits';

describe('the data check session', () => {
  let close: () => Promise<void>;
  let app: LabelLoopApp;
  let events: { event: EventName; payload: unknown }[];

  beforeEach(async () => {
    ({ app, close } = await openDemoApp());
    events = [];
    app.events.subscribe((event, payload) => events.push({ event, payload }));
  });
  afterEach(async () => close());

  const call = async <T>(route: Parameters<LabelLoopApp['handle']>[0], input: unknown = {}): Promise<T> => {
    const answer = await app.handle(route, input);
    if (!answer.ok) throw new Error(`${answer.error.code}: ${answer.error.message}`);
    return answer.result as T;
  };
  const payloads = <E extends EventName>(name: E) => events.filter((e) => e.event === name).map((e) => e.payload as EventPayload<E>);

  it('runs with progress events carrying its id, says its findings when it ends, and its status survives a restart', async () => {
    const root = app.currentProject?.root as string;
    expect(await call('check.status')).toBeNull();
    // An exact copy in the same class: one group of duplicates.
    await copyFile(path.join(root, 'OK/ok_0001.jpg'), path.join(root, 'OK/copy_of_ok_0001.jpg'));
    await call('dataset.scan');
    const { checkId } = await call<{ checkId: string }>('check.start');
    const busy = await app.handle('check.start', {});
    expect(busy.ok ? 'started' : busy.error.code).toBe('busy');
    const running = await call<CheckStatus>('check.status');
    expect(running).toMatchObject({ checkId, state: 'running', report: null });
    const finished = await app.checks.whenDone(checkId);
    expect(finished.state).toBe('finished');
    const progress = payloads('check.progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((p) => p.checkId === checkId)).toBe(true);
    expect(progress.find((p) => p.phase === 'measuring' && p.done === 601)).toEqual({ checkId, phase: 'measuring', done: 601, total: 601 });
    expect(progress.at(-1)).toMatchObject({ checkId, phase: 'comparing' });
    expect(payloads('check.ended')).toEqual([{ checkId, state: 'finished', message: expect.stringMatching(/^601 image\(s\): 1 group\(s\) of exact duplicates, /) }]);
    expect(finished.report?.duplicates).toEqual([{ kind: 'exact', similarity: 1, paths: ['OK/copy_of_ok_0001.jpg', 'OK/ok_0001.jpg'] }]);
    expect(existsSync(path.join(root, DATA_DIR, CHECK_FILE))).toBe(true);

    await call('project.close');
    await call('project.open', { path: root });
    expect(await call<CheckStatus>('check.status')).toEqual(finished);
  }, 60_000);

  it('cancel stops it; a cancel for another id, or once it is over, is refused', async () => {
    const { checkId } = await call<{ checkId: string }>('check.start');
    expect(await call('check.cancel', { checkId: 'not-this-one' })).toEqual({ cancelled: false });
    expect(await call('check.cancel', { checkId })).toEqual({ cancelled: true });
    const ended = await app.checks.whenDone(checkId);
    expect(ended).toMatchObject({ state: 'cancelled', report: null, message: expect.stringMatching(/cancelled/) });
    expect(payloads('check.ended')).toEqual([{ checkId, state: 'cancelled', message: ended.message }]);
    expect(await call('check.cancel', { checkId })).toEqual({ cancelled: false });
    // Nothing finished yet: nothing to show.
    expect(await call('check.status')).toBeNull();
    const { checkId: secondId } = await call<{ checkId: string }>('check.start');
    const finished = await app.checks.whenDone(secondId);
    const { checkId: thirdId } = await call<{ checkId: string }>('check.start');
    await call('check.cancel', { checkId: thirdId });
    await app.checks.whenDone(thirdId);
    // A window that reloads after a cancel sees the last findings.
    expect(await call('check.status')).toEqual(finished);
  }, 60_000);

  it('an excluded copy leaks nothing: it is in no split', async () => {
    const root = app.currentProject?.root as string;
    // A resized copy (another content hash) that the saved split put in val, its original in train.
    await sharp(path.join(root, 'NG/ng_0001.jpg')).resize(60, 60).jpeg({ quality: 90 }).toFile(path.join(root, 'NG/copy.jpg'));
    await call('dataset.scan');
    const hashes = await app.currentProject?.contentHashes(app.currentProject.snapshot().items.filter((i) => i.path.startsWith('NG/')));
    await writeSplits(path.join(root, DATA_DIR), { settings: { seed: 42, val: 0.2, test: 0 }, assignments: { [hashes?.get('NG/ng_0001.jpg') as string]: 'train', [hashes?.get('NG/copy.jpg') as string]: 'val' } });
    const first = await call<{ checkId: string }>('check.start');
    expect((await app.checks.whenDone(first.checkId)).report?.leaks).toEqual([{ paths: ['NG/copy.jpg', 'NG/ng_0001.jpg'], splits: ['val', 'train'], similarity: expect.any(Number) }]);
    await call('dataset.exclude', { paths: ['NG/copy.jpg'], excluded: true });
    const again = await call<{ checkId: string }>('check.start');
    const report = (await app.checks.whenDone(again.checkId)).report;
    expect(report?.duplicates.map((d) => [d.kind, d.paths])).toEqual([['near', ['NG/copy.jpg', 'NG/ng_0001.jpg']]]);
    expect(report?.leaks).toEqual([]);
  }, 60_000);
});
