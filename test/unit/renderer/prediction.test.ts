// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { createApp, nextTick } from 'vue';
import { beforeEach, describe, expect, it } from 'vitest';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { useDatasetStore } from '../../../src/renderer/src/stores/dataset';
import { useNoticesStore } from '../../../src/renderer/src/stores/notices';
import { usePredictionStore } from '../../../src/renderer/src/stores/prediction';
import { useProjectStore } from '../../../src/renderer/src/stores/project';
import { FakeApi } from './fakeApi';

const file = (name: string, bytes = 3) => ({ name, data: async () => new ArrayBuffer(bytes) });

describe('prediction store', () => {
  let api: FakeApi;
  let dataset: ReturnType<typeof useDatasetStore>;
  let stores: { prediction: ReturnType<typeof usePredictionStore>; notices: ReturnType<typeof useNoticesStore>; project: ReturnType<typeof useProjectStore> };

  beforeEach(async () => {
    api = FakeApi.withItems(['NG', 'OK'], [{ path: 'NG/1.jpg', label: 'NG' }]);
    const app = createApp({});
    const pinia = createPinia();
    app.provide(API_KEY, api).use(pinia);
    setActivePinia(pinia);
    stores = app.runWithContext(() => ({ prediction: usePredictionStore(), notices: useNoticesStore(), project: useProjectStore() }));
    dataset = app.runWithContext(() => useDatasetStore());
    await stores.project.init();
    api.predictions = new Map([
      ['a.jpg', [0.9, 0.1]],
      ['b.jpg', [0.3, 0.7]],
      ['line-2/c.jpg', [0.55, 0.45]],
    ]);
  });

  it('refuses to predict before a model is chosen, and says why', async () => {
    await stores.prediction.predict([file('a.jpg')]);
    expect(api.predicted).toEqual([]);
    expect(stores.notices.notices.at(-1)?.text).toMatch(/Choose a trained run/);
  });

  it('sends every file to the session, counts per class and keeps unreadable files as error rows', async () => {
    await stores.prediction.open('r1');
    await stores.prediction.predict([file('a.jpg'), file('b.jpg'), file('line-2/c.jpg'), file('broken.jpg')]);
    expect(api.predicted.map((p) => p.name).sort()).toEqual(['a.jpg', 'b.jpg', 'broken.jpg', 'line-2/c.jpg']);
    expect(api.predicted.every((p) => p.sessionId === 's1' && p.bytes === 3)).toBe(true);
    expect(stores.prediction.done).toBe(4);
    expect(stores.prediction.busy).toBe(false);
    expect(Object.fromEntries(stores.prediction.counts.byClass)).toEqual({ NG: 2, OK: 1 });
    expect(stores.prediction.counts.errors).toBe(1);
    stores.prediction.filter = 'errors';
    expect(stores.prediction.filtered.map((r) => r.name)).toEqual(['broken.jpg']);
    stores.prediction.filter = 'NG';
    stores.prediction.sortBy = 'least-confident';
    expect(stores.prediction.filtered.map((r) => r.name)).toEqual(['line-2/c.jpg', 'a.jpg']);
  });

  it('applies the saved operating point, and rereads it when the same run is opened again', async () => {
    api.predictionSession = { ...api.predictionSession, operatingPoint: { positiveClass: 'NG', threshold: 0.6 } };
    await stores.prediction.open('r1');
    await stores.prediction.predict([file('a.jpg'), file('b.jpg'), file('line-2/c.jpg')]);
    // p(NG) = 0.55 is under 0.6: OK, though NG is the more probable class.
    expect(stores.prediction.rows.map((r) => [r.name, stores.prediction.decided(r)]).sort()).toEqual([
      ['a.jpg', 'NG'],
      ['b.jpg', 'OK'],
      ['line-2/c.jpg', 'OK'],
    ]);
    api.predictionSession = { ...api.predictionSession, operatingPoint: { positiveClass: 'NG', threshold: 0.5 } };
    await stores.prediction.open('r1');
    expect(stores.prediction.rows).toHaveLength(3);
    expect(Object.fromEntries(stores.prediction.counts.byClass)).toEqual({ NG: 2, OK: 1 });
  });

  it('writes a CSV of every row with the decided class, quoting names with commas', async () => {
    api.predictions.set('x, "y".jpg', [0.2, 0.8]);
    await stores.prediction.open('r1');
    await stores.prediction.predict([file('x, "y".jpg'), file('broken.jpg')]);
    stores.prediction.sortBy = 'name';
    const lines = stores.prediction.csv().trim().split('\n');
    expect(lines[0]).toBe('file,predicted,p_NG,p_OK,error');
    expect(lines).toContain('"x, ""y"".jpg",OK,0.200000,0.800000,');
    expect(lines).toContain('broken.jpg,,,,The file is truncated or damaged');
  });

  it('a new model clears the results; stop leaves what came back', async () => {
    await stores.prediction.open('r1');
    const many = Array.from({ length: 40 }, (_, i) => file(`n${i}.jpg`));
    const running = stores.prediction.predict(many);
    await new Promise((resolve) => setTimeout(resolve, 3));
    stores.prediction.stop();
    await running;
    expect(api.predicted.length).toBeLessThan(40);
    expect(stores.prediction.busy).toBe(false);
    api.predictionSession = { ...api.predictionSession, sessionId: 's2', runId: 'r2' };
    await stores.prediction.open('r2');
    expect(stores.prediction.rows).toEqual([]);
    // Main closes the other run's session itself when it opens the new one.
    expect(api.calls.filter((c) => c.route.startsWith('predict.')).map((c) => c.input)).toEqual([{ runId: 'r1' }, { runId: 'r2' }]);
    expect(stores.prediction.session?.sessionId).toBe('s2');
  });

  it('adds the rows shown to the project, each in its predicted class', async () => {
    await stores.prediction.open('r1');
    await stores.prediction.predict([file('a.jpg'), file('b.jpg'), file('broken.jpg')]);
    await stores.prediction.addShownToProject();
    expect(api.imports.sort((x, y) => x.name.localeCompare(y.name))).toEqual([
      { className: 'NG', name: 'a.jpg' },
      { className: 'OK', name: 'b.jpg' },
    ]);
  });

  it('starts over when another project opens (main closed the session with the old one)', async () => {
    await stores.prediction.open('r1');
    await stores.prediction.predict([file('a.jpg')]);
    dataset.load({ ...api.snapshot, root: '/other', name: 'other' });
    await nextTick();
    expect(stores.prediction.session).toBeNull();
    expect(stores.prediction.rows).toEqual([]);
  });

  it('detects faces first when asked: a row per face, each photo shown once, the per-face CSV, and face rows kept out of "Add to project"', async () => {
    const box = (x: number) => ({ x, y: 10, width: 50, height: 60 });
    const face = (n: number, probabilities: number[]) => ({
      name: `party__face${n}.jpg`,
      path: `.labelloop/predict/s1/00000${n}-party__face${n}.jpg`,
      version: 'v',
      predicted: null,
      probabilities,
      error: null,
      face: { photo: 'party.jpg', face: n, box: box(100 * n), score: 0.9, photoWidth: 640, photoHeight: 480 },
    });
    api.facePredictions = { 'party.jpg': [face(1, [0.8, 0.2]), face(2, [0.1, 0.9])] };
    const created: string[] = [];
    URL.createObjectURL = () => {
      created.push('blob:1');
      return 'blob:1';
    };
    URL.revokeObjectURL = () => undefined;
    await stores.prediction.open('r1');
    stores.prediction.detectFaces = true;
    stores.prediction.faceSettings.margin = 0.3;
    await stores.prediction.predict([file('party.jpg'), file('wall.jpg')]);
    expect(stores.prediction.rows.map((r) => [r.name, r.face?.face ?? null, r.error])).toEqual([
      ['party__face1.jpg', 1, null],
      ['party__face2.jpg', 2, null],
      ['wall.jpg', null, 'no face found'],
    ]);
    expect(stores.prediction.facePhotos).toEqual([{ id: 1, name: 'party.jpg', url: 'blob:1', width: 640, height: 480, faces: stores.prediction.rows.slice(0, 2) }]);
    expect(stores.prediction.facePhotos[0]?.faces.map((r) => stores.prediction.decided(r))).toEqual(['NG', 'OK']);
    expect(stores.prediction.csv().trim().split('\n')).toEqual([
      'file,face,x,y,width,height,score,predicted,p_NG,p_OK,error',
      'party.jpg,1,100,10,50,60,0.9000,NG,0.800000,0.200000,',
      'party.jpg,2,200,10,50,60,0.9000,OK,0.100000,0.900000,',
      'wall.jpg,,,,,,,,,,no face found',
    ]);
    await stores.prediction.addShownToProject();
    expect(api.imports).toEqual([]);
    expect(stores.notices.notices.map((n) => n.text)).toEqual(expect.arrayContaining([expect.stringMatching(/Face rows were left out/)]));
    // The same name again (another folder's party.jpg): its own entry, its own boxes.
    api.facePredictions = { 'party.jpg': [face(1, [0.3, 0.7])] };
    await stores.prediction.predict([file('party.jpg')]);
    expect(stores.prediction.facePhotos.map((p) => [p.id, p.name, p.faces.map((r) => stores.prediction.decided(r))])).toEqual([
      [1, 'party.jpg', ['NG', 'OK']],
      [2, 'party.jpg', ['OK']],
    ]);
    stores.prediction.clear();
    expect(stores.prediction.facePhotos).toEqual([]);
  });
});
