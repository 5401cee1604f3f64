// Image files through a model in batches, decoded with sharp ahead of the model: while one batch
// runs, the next one decodes, so the engine does not wait on the decoder.
import { mapLimit } from '../common/concurrency';
import type { BatchRunner } from './onnx/frozenRunner';
import { decodeForModel, scalePixels, type Preprocessing } from './preprocess';

export type ImageFileResult = { file: string; output: Float32Array } | { file: string; error: string };

/**
 * Runs image files through `runner` in batches, yielding each batch's results in file order: an
 * unreadable file gives its reason instead of an output and never stops the others.
 */
export async function* runImageFiles(
  runner: BatchRunner,
  files: readonly string[],
  prep: Preprocessing,
  options: { batchSize?: number; decodeConcurrency?: number } = {},
): AsyncGenerator<ImageFileResult[]> {
  const batchSize = options.batchSize ?? 16;
  const pixelsPerImage = prep.inputSize * prep.inputSize * 3;
  const decode = (batch: readonly string[]) =>
    mapLimit(batch, options.decodeConcurrency ?? 4, async (file): Promise<{ file: string; pixels: Uint8Array } | { file: string; error: string }> => {
      try {
        return { file, pixels: await decodeForModel(file, prep) };
      } catch (error) {
        return { file, error: error instanceof Error ? error.message : String(error) };
      }
    });
  let next = files.length > 0 ? decode(files.slice(0, batchSize)) : null;
  for (let start = 0; next; start += batchSize) {
    const decoded = await next;
    const following = start + batchSize;
    next = following < files.length ? decode(files.slice(following, following + batchSize)) : null;
    const readable = decoded.flatMap((d) => ('pixels' in d ? [d] : []));
    const input = new Float32Array(readable.length * pixelsPerImage);
    readable.forEach((d, i) => scalePixels(d.pixels, prep, input, i * pixelsPerImage));
    const output = readable.length > 0 ? await runner.run(input, readable.length) : new Float32Array(0);
    const size = output.length / Math.max(readable.length, 1);
    const outputs = new Map(readable.map((d, i) => [d, output.slice(i * size, (i + 1) * size)]));
    yield decoded.map((d) => ('pixels' in d ? { file: d.file, output: outputs.get(d) as Float32Array } : d));
  }
}
