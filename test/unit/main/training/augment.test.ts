import { beforeAll, describe, expect, it } from 'vitest';
import { AugmentationSettings } from '../../../../src/shared/contract';
import { augmentBatch, augmentationKey, drawAugmentation } from '../../../../src/main/training/augment';
import { selectBackend } from '../../../../src/main/engine/backend';
import { tf, type TF } from '../../../../src/main/engine/tf';

const settings = AugmentationSettings.parse({ copies: 4 });
const identity = { flip: false, radians: 0, box: [0, 0, 1, 1] as [number, number, number, number], brightness: 0, contrast: 1, saturation: 1 };

describe('augmentation', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('draws the same choices for the same image and copy, and others for another copy', () => {
    expect(drawAugmentation(settings, 'abc:0')).toEqual(drawAugmentation(settings, 'abc:0'));
    expect(drawAugmentation(settings, 'abc:0')).not.toEqual(drawAugmentation(settings, 'abc:1'));
    const draw = drawAugmentation(settings, 'x');
    expect(Math.abs(draw.radians)).toBeLessThanOrEqual((10 * Math.PI) / 180);
    const [top, left, bottom, right] = draw.box;
    expect((bottom - top) * (right - left)).toBeGreaterThanOrEqual(0.8 * 0.74);
    expect(augmentationKey(settings)).toBe(augmentationKey({ ...settings, copies: 8 }));
    expect(augmentationKey(settings)).not.toBe(augmentationKey({ ...settings, rotation: 20 }));
  });

  it('leaves an image unchanged under the identity draw, flips when told, stays in [0, 1], and frees its tensors', () => {
    const images = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 1) as TF.Tensor4D;
    const before = tf.memory().numTensors;
    const same = augmentBatch(images, [identity, identity]);
    const maxDiff = (a: TF.Tensor, b: TF.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
    expect(maxDiff(same, images)).toBeLessThan(1e-5);
    const flipped = augmentBatch(images, [{ ...identity, flip: true }, identity]);
    const expected = tf.image.flipLeftRight(images);
    expect(tf.tidy(() => maxDiff(tf.slice(flipped, 0, 1), tf.slice(expected, 0, 1)))).toBeLessThan(1e-5);
    const wild = augmentBatch(images, [drawAugmentation({ ...settings, brightness: 0.5, contrast: 0.5, saturation: 0.5 }, 'w'), drawAugmentation(settings, 'v')]);
    expect(tf.tidy(() => tf.min(wild).dataSync()[0] as number)).toBeGreaterThanOrEqual(0);
    expect(tf.tidy(() => tf.max(wild).dataSync()[0] as number)).toBeLessThanOrEqual(1);
    tf.dispose([same, flipped, expected, wild]);
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
  });
});
