// The Map tab's real component on a fake main that serves a finished map of N images (?points=N),
// for bench/mapFrame.bench.ts to time its frames in Chromium. Nothing else of the app is loaded.
import { createPinia } from 'pinia';
import { createApp, h } from 'vue';
import MapView from '../../src/renderer/src/components/MapView.vue';
import { API_KEY } from '../../src/renderer/src/api/inject';
import { useDatasetStore } from '../../src/renderer/src/stores/dataset';
import type { DatasetSnapshot, EmbeddingMap, LabelLoopApi, MapStatus, RouteName, RunSummary } from '../../src/shared/contract';
import '../../src/renderer/src/styles.css';

const count = Number(new URL(location.href).searchParams.get('points') ?? 50_000);
// Deterministic points in 40 clusters, as a map of real features looks.
let seed = 7;
const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const centres = Array.from({ length: 40 }, () => [0.1 + random() * 0.8, 0.1 + random() * 0.8] as const);
const paths = Array.from({ length: count }, (_, i) => `${i % 2 ? 'OK' : 'NG'}/img_${i}.jpg`);
const coords = paths.flatMap((_, i) => {
  const [x, y] = centres[i % centres.length] as readonly [number, number];
  return [Math.min(1, Math.max(0, x + (random() - 0.5) * 0.12)), Math.min(1, Math.max(0, y + (random() - 0.5) * 0.12))];
});
const map: EmbeddingMap = {
  runId: 'r1',
  method: 'bench',
  paths,
  coords,
  split: paths.map((_, i) => (i % 5 === 0 ? 'val' : 'train')),
  predicted: paths.map((p, i) => (i % 17 === 0 ? (p.startsWith('OK') ? 'NG' : 'OK') : p.slice(0, 2))),
  mislabelScore: paths.map(() => random()),
  skipped: [],
  embedded: 0,
  seconds: 1,
  cached: true,
};
const status: MapStatus = { mapId: 'm1', runId: 'r1', state: 'finished', progress: { phase: 'layout', done: 1, total: 1 }, startedAt: new Date().toISOString(), map, message: null };
const run: RunSummary = { runId: 'r1', name: 'bench', epochs: [], state: 'finished', interruptedAt: null, keptModel: null, valAccuracy: 0.9, hasReport: true };
const snapshot: DatasetSnapshot = {
  root: '/bench',
  name: 'bench',
  classes: ['NG', 'OK'],
  items: paths.map((path) => ({ path, label: path.slice(0, 2), size: 1, version: 'v', status: 'ok' as const })),
  warnings: [],
  history: { canUndo: false, canRedo: false },
  recovered: [],
  readOnly: null,
};
const answers: Partial<Record<RouteName, unknown>> = { 'map.status': status, 'runs.list': { runs: [run] } };
const refuse = () => Promise.reject(new Error('not in the bench'));
const api: LabelLoopApi = {
  host: 'web',
  call: (route) => (route in answers ? Promise.resolve(answers[route] as never) : refuse()),
  on: () => () => undefined,
  imageUrl: () => 'data:image/gif;base64,R0lGODlhAQABAAAAACw=',
  importFile: refuse,
  importFaces: refuse,
  predictFaces: refuse,
  predictFile: refuse,
};

const pinia = createPinia();
const app = createApp({ render: () => h(MapView) }).provide(API_KEY, api).use(pinia);
useDatasetStore(pinia).load(snapshot);
app.mount('#app');
