// The embedding map on the demo project: after a run, every image gets a point (the unlabeled ones,
// which the run never embedded, through the run's own backbone), images alike lie together (a
// point's nearest neighbours on the map mostly share its class), the same images give the same
// layout from the cache, and a run without a backbone is refused in words.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabelLoopApp } from '../../../../src/main/app';
import path from 'node:path';
import { layout, principalComponents } from '../../../../src/main/inspection/embeddingMap';
import { seededRandom } from '../../../../src/main/project/demo';
import { DATA_DIR } from '../../../../src/main/project/scan';
import { EmbeddingCache } from '../../../../src/main/training/embeddingCache';
import type { TrainingReport } from '../../../../src/shared/report';
import type { EventName, EventPayload, MapStatus } from '../../../../src/shared/contract';
import { openDemoApp } from '../../../helpers/fixtures';

describe('the embedding map', () => {
  let close: () => Promise<void>;
  let app: LabelLoopApp;
  let runId: string;
  const events: { event: EventName; payload: unknown }[] = [];
  const unlabeled = Array.from({ length: 10 }, (_, i) => `OK/ok_${String(i + 1).padStart(4, '0')}.jpg`);

  const call = async <T>(route: Parameters<LabelLoopApp['handle']>[0], input: unknown = {}): Promise<T> => {
    const answer = await app.handle(route, input);
    if (!answer.ok) throw new Error(`${answer.error.code}: ${answer.error.message}`);
    return answer.result as T;
  };

  beforeAll(async () => {
    ({ app, close } = await openDemoApp());
    app.events.subscribe((event, payload) => events.push({ event, payload }));
    // Ten images without a label: the run does not embed them, the map must.
    await call('dataset.relabel', { paths: unlabeled, to: null });
    ({ runId } = await call<{ runId: string }>('training.start', { config: { backend: 'wasm', inputSize: 96, backbone: { kind: 'mobilenet_v2' } } }));
    await app.training.whenDone(runId);
  }, 120_000);
  afterAll(async () => close());

  it('places every image, near its own kind, with the run\'s facts, and comes from the cache the second time', async () => {
    expect(await call('map.status')).toBeNull();
    const { mapId } = await call<{ mapId: string }>('map.start', { runId });
    const status = await app.maps.whenDone(mapId);
    expect(status.state).toBe('finished');
    const map = status.map as NonNullable<MapStatus['map']>;
    expect(map.paths).toHaveLength(600);
    expect(map.embedded).toBe(10);
    expect(map.cached).toBe(false);
    expect(map.method).toBe('MobileNetV2 features (1280 values) → PCA to 50 → UMAP (15 neighbours)');
    expect(map.coords).toHaveLength(1200);
    expect(map.coords.every((v) => v >= 0 && v <= 1)).toBe(true);
    const at = (p: string) => map.paths.indexOf(p);
    for (const p of unlabeled.map((u) => u.slice(3))) {
      expect(at(p)).toBeGreaterThanOrEqual(0);
      expect(map.predicted[at(p)]).toBeNull();
    }
    const labeled = at('NG/ng_0001.jpg');
    expect(map.split[labeled]).toMatch(/^(train|val)$/);
    expect(map.predicted[labeled]).toMatch(/^(OK|NG)$/);
    expect(map.mislabelScore[labeled]).toBeGreaterThanOrEqual(0);

    // The map keeps what the features say: a point's nearest neighbours on the map share its class
    // nearly as often as its nearest neighbours among the features themselves do (2-D loses a little).
    const classes = map.paths.map((p) => (p.slice(p.lastIndexOf('/') + 1).startsWith('ng_') ? 1 : 0));
    const report = await call<TrainingReport>('runs.report', { runId });
    const cache = await EmbeddingCache.open(path.join(app.currentProject?.root as string, DATA_DIR, 'cache', 'embeddings'), EmbeddingCache.key(report.backbone.id, { ...report.preprocessing, interpolation: report.preprocessing.interpolation ?? 'lanczos3' }), report.backbone.featureSize);
    const hashes = await app.currentProject?.contentHashes(app.currentProject.snapshot().items);
    const features = map.paths.map((p) => cache.get(hashes?.get(p) as string) as Float32Array);
    const featureAgreement = neighbourAgreement(classes, (i, j) => squaredDistance(features[i] as Float32Array, features[j] as Float32Array));
    const mapAgreement = neighbourAgreement(classes, (i, j) => ((map.coords[i * 2] as number) - (map.coords[j * 2] as number)) ** 2 + ((map.coords[i * 2 + 1] as number) - (map.coords[j * 2 + 1] as number)) ** 2);
    expect(mapAgreement, `features ${featureAgreement}`).toBeGreaterThanOrEqual(featureAgreement - 0.1);

    const progress = events.filter((e) => e.event === 'map.progress').map((e) => e.payload as EventPayload<'map.progress'>);
    expect(progress.every((p) => p.mapId === mapId)).toBe(true);
    expect(progress.some((p) => p.phase === 'embedding' && p.done === 10 && p.total === 10)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ phase: 'layout' });

    const again = await call<{ mapId: string }>('map.start', { runId });
    const second = (await app.maps.whenDone(again.mapId)).map as NonNullable<MapStatus['map']>;
    expect(second.cached).toBe(true);
    expect(second.embedded).toBe(0);
    expect(second.coords).toEqual(map.coords);
    expect((await call<MapStatus>('map.status')).mapId).toBe(again.mapId);
    // A relabel since: the status names the image where it is now, at the same point.
    await call('dataset.relabel', { paths: ['NG/ng_0002.jpg'], to: 'OK' });
    const moved = (await call<MapStatus>('map.status')).map as NonNullable<MapStatus['map']>;
    expect(moved.paths[at('NG/ng_0002.jpg')]).toBe('OK/ng_0002.jpg');
    expect(moved.coords).toEqual(map.coords);
    await call('dataset.undo');
  }, 180_000);

  it('refuses a run that does not exist, and cancels', async () => {
    const missing = await app.handle('map.start', { runId: 'no-such-run' });
    expect(missing.ok).toBe(false);
    // A new image makes the cached layout stale: this map has work to cancel.
    await call('dataset.relabel', { paths: ['NG/ng_0001.jpg'], to: null });
    const { mapId } = await call<{ mapId: string }>('map.start', { runId });
    expect(await call('map.cancel', { mapId: 'another' })).toEqual({ cancelled: false });
    expect(await call('map.cancel', { mapId })).toEqual({ cancelled: true });
    expect(await app.maps.whenDone(mapId)).toMatchObject({ state: 'cancelled', map: null });
  }, 60_000);
});

/** Share of points whose 5 nearest neighbours (by `distance`) are mostly of their class. */
function neighbourAgreement(classes: number[], distance: (i: number, j: number) => number): number {
  let agree = 0;
  for (let i = 0; i < classes.length; i++) {
    const from = classes.map((_, j) => distance(i, j));
    const nearest = classes.map((_, j) => j).filter((j) => j !== i).sort((a, b) => (from[a] as number) - (from[b] as number)).slice(0, 5);
    if (nearest.filter((j) => classes[j] === classes[i]).length >= 3) agree++;
  }
  return agree / classes.length;
}

const squaredDistance = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, k) => sum + (v - (b[k] as number)) ** 2, 0);

describe('the layout', () => {
  it('separates clusters that the features separate: each point\'s neighbours on the map are of its cluster', async () => {
    // Three clusters of 60 points in 100-D around random centres, with noise of a third of their spread.
    const random = seededRandom(5);
    const [rows, dim] = [180, 100];
    const centres = Array.from({ length: 3 }, () => Array.from({ length: dim }, () => random() * 2 - 1));
    const cluster = Array.from({ length: rows }, (_, r) => r % 3);
    const features = new Float32Array(rows * dim);
    for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) features[r * dim + d] = (centres[cluster[r] as number]?.[d] as number) + (random() - 0.5) * 0.7;
    const phases: string[] = [];
    const xy = await layout(features, rows, dim, { onProgress: (phase) => phases.push(phase) });
    expect(xy).toHaveLength(rows * 2);
    expect(Math.min(...xy)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xy)).toBeCloseTo(1, 5);
    expect(neighbourAgreement(cluster, (i, j) => ((xy[i * 2] as number) - (xy[j * 2] as number)) ** 2 + ((xy[i * 2 + 1] as number) - (xy[j * 2 + 1] as number)) ** 2)).toBe(1);
    expect(phases.every((p) => p === 'layout')).toBe(true);
    // Deterministic: the same features give the same map.
    expect(await layout(features, rows, dim)).toEqual(xy);
  });
});

describe('principal components', () => {
  it('recover a plane hidden in noise: the projection keeps the two strong directions', () => {
    // 200 points on a tilted plane in 6-D, plus small noise: the first two components carry almost all the variance.
    const rows = 200;
    const dim = 6;
    const features = new Float32Array(rows * dim);
    for (let r = 0; r < rows; r++) {
      const [a, b] = [Math.sin(r * 1.3) * 5, Math.cos(r * 0.7) * 3];
      const point = [a + b, a - b, 2 * a, b, 0.5 * a, -b];
      point.forEach((v, d) => (features[r * dim + d] = v + 0.01 * Math.sin(r * 17 + d)));
    }
    const projected = principalComponents(features, rows, dim, 3);
    const variance = (k: number) => {
      let mean = 0;
      for (let r = 0; r < rows; r++) mean += (projected[r * 3 + k] as number) / rows;
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += ((projected[r * 3 + k] as number) - mean) ** 2;
      return sum / rows;
    };
    expect(variance(0)).toBeGreaterThan(variance(1));
    expect(variance(2) / (variance(0) + variance(1))).toBeLessThan(1e-4);
  });
});
