// Augmentation as tensor ops on [0,1] RGB batches: horizontal flip, small rotation, random resized
// crop, brightness/contrast/saturation. It runs before the frozen backbone, so each training image
// gets a fixed number of augmented copies whose features are cached like the originals': the
// per-epoch cost stays that of cached features, and a retrain reuses them.
import { createHash } from 'node:crypto';
import type { TrainingConfig } from '../../shared/contract';
import { seededRandom } from '../project/demo';
import { type TF, tf } from '../engine/tf';

export type Augmentation = TrainingConfig['augmentation'];

/** Identifies an augmentation setting in cache keys: same setting, same copies. */
export function augmentationKey(augmentation: Augmentation): string {
  // The copy count is not part of it: copy k of an image is the same whether 2 or 8 are made.
  const settings = { ...augmentation, copies: undefined };
  return createHash('sha1').update(JSON.stringify(settings)).digest('hex').slice(0, 12);
}

interface Draw {
  flip: boolean;
  radians: number;
  box: [number, number, number, number];
  brightness: number;
  contrast: number;
  saturation: number;
}

/** The random choices for one copy of one image, fixed by (image hash, copy index). */
export function drawAugmentation(augmentation: Augmentation, seed: string): Draw {
  const random = seededRandom(Number.parseInt(createHash('sha1').update(seed).digest('hex').slice(0, 8), 16));
  const between = (lo: number, hi: number) => lo + random() * (hi - lo);
  const area = between(augmentation.cropScale, 1);
  const aspect = Math.exp(between(Math.log(3 / 4), Math.log(4 / 3)));
  const height = Math.min(1, Math.sqrt(area / aspect));
  const width = Math.min(1, Math.sqrt(area * aspect));
  const top = between(0, 1 - height);
  const left = between(0, 1 - width);
  return {
    flip: augmentation.flip && random() < 0.5,
    radians: (between(-augmentation.rotation, augmentation.rotation) * Math.PI) / 180,
    box: [top, left, top + height, left + width],
    brightness: between(-augmentation.brightness, augmentation.brightness),
    contrast: 1 + between(-augmentation.contrast, augmentation.contrast),
    saturation: 1 + between(-augmentation.saturation, augmentation.saturation),
  };
}

/** Applies one draw per image to a [B, S, S, 3] batch in [0, 1]; returns a new batch in [0, 1]. */
export function augmentBatch(images: TF.Tensor4D, draws: Draw[]): TF.Tensor4D {
  return tf.tidy(() => {
    const [batch, height, width] = images.shape;
    if (draws.length !== batch) throw new Error(`augmentBatch: ${draws.length} draws for ${batch} images`);
    const cropped = tf.image.cropAndResize(images, draws.map((d) => d.box), draws.map((_, i) => i), [height, width]);
    const flipped = tf.image.flipLeftRight(cropped);
    const flipMask = tf.tensor4d(draws.map((d) => (d.flip ? 1 : 0)), [batch, 1, 1, 1]).greater(0);
    const oriented = tf.where(tf.broadcastTo(flipMask, cropped.shape), flipped, cropped) as TF.Tensor4D;
    // Rotation takes one angle per call: rotate image by image (a batch is 16).
    const rotated = tf.concat(
      draws.map((d, i) => (d.radians === 0 ? tf.slice(oriented, i, 1) : tf.image.rotateWithOffset(tf.slice(oriented, i, 1) as TF.Tensor4D, d.radians, 0))),
    ) as TF.Tensor4D;
    const perImage = (values: number[]) => tf.tensor4d(values, [batch, 1, 1, 1]);
    const bright = tf.add(rotated, perImage(draws.map((d) => d.brightness)));
    const mean = tf.mean(bright, [1, 2, 3], true);
    const contrasted = tf.add(tf.mul(tf.sub(bright, mean), perImage(draws.map((d) => d.contrast))), mean);
    const gray = tf.mean(contrasted, 3, true);
    const saturated = tf.add(gray, tf.mul(tf.sub(contrasted, gray), perImage(draws.map((d) => d.saturation))));
    return tf.clipByValue(saturated, 0, 1) as TF.Tensor4D;
  });
}
