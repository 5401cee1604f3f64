// Suggested labels: a run's saved model judges every unlabeled image of the project, and the
// report lists them; each suggestion is what Predict says of the same file.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabelLoopApp } from '../../../../src/main/app';
import type { TrainingReport } from '../../../../src/shared/report';
import { openDemoApp } from '../../../helpers/fixtures';

describe('suggested labels for unlabeled images', () => {
  let dir: string;
  let close: () => Promise<void>;
  let app: LabelLoopApp;

  beforeAll(async () => ({ dir, app, close } = await openDemoApp()));
  afterAll(async () => close());

  it('lists every unlabeled image with the model\'s likeliest class and probabilities, as Predict judges the file', async () => {
    // Ten images of each class lose their label (moved to the project root through the journal).
    const unlabeledNow = [...Array(10).keys()].flatMap((i) => [`NG/ng_${String(i + 1).padStart(4, '0')}.jpg`, `OK/ok_${String(i + 1).padStart(4, '0')}.jpg`]);
    const moved = await app.handle('dataset.relabel', { paths: unlabeledNow, to: null });
    if (!moved.ok) throw new Error(moved.error.message);
    const started = await app.handle('training.start', { config: { backend: 'wasm', inputSize: 96 } });
    if (!started.ok) throw new Error(started.error.message);
    const { runId } = started.result as { runId: string };
    const { report } = await app.training.whenDone(runId);
    const r = report as TrainingReport;
    const truth = (p: string) => (p.startsWith('ng_') ? 'NG' : 'OK');
    expect(r.unlabeled?.map((u) => u.path).sort()).toEqual(unlabeledNow.map((p) => path.basename(p)).sort());
    // None of them trained the model, yet a demo this easy is judged right.
    expect(r.samples.some((s) => r.unlabeled?.some((u) => u.path === path.basename(s.path)))).toBe(false);
    expect(r.unlabeled?.filter((u) => u.suggested === truth(u.path)).length).toBeGreaterThanOrEqual(18);
    for (const u of r.unlabeled ?? []) {
      expect(u.probabilities.NG + u.probabilities.OK).toBeCloseTo(1, 5);
      expect(u.suggested).toBe(u.probabilities.NG > u.probabilities.OK ? 'NG' : 'OK');
    }
    // Predict on the same files says the same.
    const { loadPredictor } = await import('../../../../src/main/inference/predictor');
    const predictor = await loadPredictor(path.join(dir, 'demo-project/.labelloop/runs', runId));
    const files = (r.unlabeled ?? []).slice(0, 4);
    const predicted = await predictor.predict(files.map((u) => path.join(dir, 'demo-project', u.path)));
    files.forEach((u, i) => expect(Math.abs((predicted[i]?.probabilities?.[1] ?? NaN) - (u.probabilities.OK as number))).toBeLessThan(1e-5));
    await predictor.dispose();

    // Accepting them: each image to its suggested class in one journaled step, which one undo takes back.
    const [first, second] = r.unlabeled ?? [];
    const groups = [first, second].map((u) => ({ paths: [u?.path as string], to: u?.suggested as string }));
    const accepted = await app.handle('dataset.relabelEach', { groups });
    expect(accepted).toMatchObject({ ok: true, result: { moves: groups.map((g) => ({ from: g.paths[0], to: `${g.to}/${g.paths[0]}` })), failed: [] } });
    expect(existsSync(path.join(dir, 'demo-project', groups[0]?.to as string, groups[0]?.paths[0] as string))).toBe(true);
    const undone = await app.handle('dataset.undo', {});
    expect(undone).toMatchObject({ ok: true, result: { failed: [] } });
    for (const g of groups) expect(existsSync(path.join(dir, 'demo-project', g.paths[0] as string))).toBe(true);
    expect(await app.handle('dataset.relabelEach', { groups: [{ paths: ['a.jpg'], to: 'Masked' }] })).toMatchObject({ ok: false, error: { message: 'There is no class "Masked"' } });
  }, 240_000);
});
