// `npm run bench`, data check: `check` time on a generated project of 10,000 images (set
// BENCH_CHECK_IMAGES for more), and near-duplicate recall and precision on 200 injected copies
// of known kinds (resized, re-encoded, brightened, cropped).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, it } from 'vitest';
import { EventBus } from '../src/main/common/events';
import { checkProject } from '../src/main/inspection/dataCheck';
import { generateDemoProject } from '../src/main/project/demo';
import { ProjectSession } from '../src/main/project/project';

const lines: string[] = [];
const IMAGES = Number(process.env.BENCH_CHECK_IMAGES ?? 10_000);

const COPIES: Record<string, (file: string) => Promise<Buffer>> = {
  'resized to 70%': async (file) => sharp(file).resize(Math.round(((await sharp(file).metadata()).width ?? 96) * 0.7)).jpeg({ quality: 85 }).toBuffer(),
  're-encoded (JPEG q40)': async (file) => sharp(file).jpeg({ quality: 40 }).toBuffer(),
  'brightened 8%': async (file) => sharp(file).modulate({ brightness: 1.08 }).jpeg({ quality: 90 }).toBuffer(),
  'cropped 4% a side': async (file) => {
    const { width = 96, height = 96 } = await sharp(file).metadata();
    const dx = Math.round(width * 0.04);
    const dy = Math.round(height * 0.04);
    return sharp(file).extract({ left: dx, top: dy, width: width - 2 * dx, height: height - 2 * dy }).jpeg({ quality: 90 }).toBuffer();
  },
};

describe('data check', () => {
  let work = '';
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`\n=== Data check (${os.cpus().length} cores) ===\n${lines.join('\n')}\n`);
  });

  it(`checks ${IMAGES} images and finds injected copies`, async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-check-'));
    const root = path.join(work, 'project');
    await generateDemoProject(root, { perClass: IMAGES / 2, size: 96 });
    // 50 originals of each kind, each copied once next to its original.
    const truth = new Map<string, string>();
    const kinds = Object.keys(COPIES);
    for (let i = 0; i < 200; i++) {
      const name = `ok_${String(i + 1).padStart(4, '0')}.jpg`;
      const kind = kinds[i % kinds.length] as string;
      const copy = `OK/copy_${i}_${name}`;
      await writeFile(path.join(root, copy), await (COPIES[kind] as (f: string) => Promise<Buffer>)(path.join(root, 'OK', name)));
      truth.set(copy, `OK/${name}`);
    }
    const project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
    try {
      const started = performance.now();
      const report = await checkProject(project);
      const seconds = (performance.now() - started) / 1000;
      lines.push(`check on ${report.images} images (96 px JPEGs): ${seconds.toFixed(1)} s (${(report.images / seconds).toFixed(0)} images/s)`);
      const together = (a: string, b: string) => report.duplicates.some((d) => d.paths.includes(a) && d.paths.includes(b));
      kinds.forEach((kind, k) => {
        const mine = [...truth].filter((_, i) => i % kinds.length === k);
        lines.push(`  recall, ${kind}: ${mine.filter(([copy, original]) => together(copy, original)).length}/${mine.length}`);
      });
      // Precision over pairs: every pair within a reported group that is not an injected copy and its original is a false alarm.
      let pairs = 0;
      let right = 0;
      for (const d of report.duplicates) {
        for (let a = 0; a < d.paths.length; a++) {
          for (let b = a + 1; b < d.paths.length; b++) {
            pairs++;
            const [x, y] = [d.paths[a] as string, d.paths[b] as string];
            if (truth.get(x) === y || truth.get(y) === x) right++;
          }
        }
      }
      lines.push(`  precision: ${right}/${pairs} reported pairs are injected copies (${pairs ? ((100 * right) / pairs).toFixed(1) : '–'}%)`);
      lines.push(`  ${report.issues.length} quality outlier(s) flagged among ${report.images} generated images`);
    } finally {
      await project.close();
    }
  }, 1_800_000);
});
