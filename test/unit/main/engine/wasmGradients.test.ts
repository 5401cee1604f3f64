// Our wasm gradient kernels against the cpu backend's reference kernels, on random data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../../src/main/engine/backend';
import { tf, type TF } from '../../../../src/main/engine/tf';
import { registerWasmGradients } from '../../../../src/main/engine/wasmGradients';

// (tfjs-core's depthwise gradient itself refuses dilations > 1, so none are tested.)
type Case = { name: string; x: number[]; filter: number[]; strides: number; pad: 'same' | 'valid' };

/** Gradients of sum(conv(x, w) · r) with respect to x and w, on the current backend. */
function gradients(kind: 'conv' | 'depthwise' | 'fused', c: Case, seed: number): [Float32Array, Float32Array] {
  return tf.tidy(() => {
    const x = tf.randomUniform(c.x, -1, 1, 'float32', seed);
    const w = tf.randomUniform(c.filter, -1, 1, 'float32', seed + 1);
    const forward = (input: TF.Tensor4D, filter: TF.Tensor4D) =>
      kind === 'conv'
        ? tf.conv2d(input, filter, c.strides, c.pad)
        : kind === 'fused'
          ? tf.fused.conv2d({ x: input, filter, strides: c.strides, pad: c.pad, activation: 'relu6' })
          : tf.depthwiseConv2d(input, filter, c.strides, c.pad);
    const out = forward(x as TF.Tensor4D, w as TF.Tensor4D);
    const r = tf.randomUniform(out.shape, -1, 1, 'float32', seed + 2);
    const [dx, dw] = tf.grads((a: TF.Tensor, b: TF.Tensor) => tf.sum(tf.mul(forward(a as TF.Tensor4D, b as TF.Tensor4D), r)))([x, w]);
    return [dx?.dataSync() as Float32Array, dw?.dataSync() as Float32Array];
  });
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

const convCases: Case[] = [
  { name: '1×1 stride 1 (MobileNetV2 expand/project)', x: [4, 7, 7, 32], filter: [1, 1, 32, 24], strides: 1, pad: 'valid' },
  { name: '1×1 stride 1 same', x: [2, 5, 5, 8], filter: [1, 1, 8, 3], strides: 1, pad: 'same' },
  { name: '1×1 stride 2 (falls back to wasm\'s kernel for dx)', x: [2, 6, 6, 4], filter: [1, 1, 4, 3], strides: 2, pad: 'valid' },
  { name: '3×3 same stride 1', x: [2, 9, 9, 5], filter: [3, 3, 5, 6], strides: 1, pad: 'same' },
  { name: '3×3 same stride 2, odd size', x: [2, 9, 9, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { name: '3×3 valid stride 2', x: [1, 10, 8, 3], filter: [3, 3, 3, 2], strides: 2, pad: 'valid' },
  { name: '3×3 valid stride 1 (dx as a full conv)', x: [2, 8, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { name: '5×3 same stride 1, even size (uneven padding)', x: [2, 8, 6, 2], filter: [5, 3, 2, 3], strides: 1, pad: 'same' },
  { name: '2×2 same stride 1 (padding only at the end)', x: [1, 5, 5, 3], filter: [2, 2, 3, 2], strides: 1, pad: 'same' },
  { name: '3×3 same, 3 → 32 channels (a small CNN\'s first layer)', x: [2, 16, 16, 3], filter: [3, 3, 3, 32], strides: 1, pad: 'same' },
];
const depthwiseCases: Case[] = [
  { name: '3×3 same stride 1 (MobileNetV2 blocks 14–16)', x: [4, 7, 7, 16], filter: [3, 3, 16, 1], strides: 1, pad: 'same' },
  { name: '3×3 same stride 2', x: [2, 10, 10, 4], filter: [3, 3, 4, 1], strides: 2, pad: 'same' },
  { name: '3×3 valid stride 2, odd size', x: [2, 9, 11, 3], filter: [3, 3, 3, 1], strides: 2, pad: 'valid' },
  { name: 'multiplier 2', x: [2, 6, 6, 3], filter: [3, 3, 3, 2], strides: 1, pad: 'same' },
];

describe('wasm gradient kernels match the cpu backend', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
    registerWasmGradients();
  });
  afterAll(async () => {
    await selectBackend('wasm');
  });

  async function compare(kind: 'conv' | 'depthwise' | 'fused', c: Case) {
    await tf.setBackend('cpu');
    const reference = gradients(kind, c, 7);
    await tf.setBackend('wasm');
    const ours = gradients(kind, c, 7);
    expect(maxDiff(ours[0], reference[0])).toBeLessThan(1e-4);
    expect(maxDiff(ours[1], reference[1])).toBeLessThan(1e-4);
  }

  it.each(convCases)('conv2d $name', (c) => compare('conv', c));
  it.each([...convCases.slice(0, 2), convCases[3] as Case])('fused conv2d + relu6 $name', (c) => compare('fused', c));
  it.each(depthwiseCases)('depthwise $name', (c) => compare('depthwise', c));

  it.each([
    { name: 'Aᵀ·B (a Dense weight gradient)', a: [32, 300], b: [32, 20], transposeA: true, transposeB: false },
    { name: 'A·Bᵀ (a Dense input gradient)', a: [32, 20], b: [300, 20], transposeA: false, transposeB: true },
    { name: 'Aᵀ·Bᵀ', a: [7, 5], b: [3, 7], transposeA: true, transposeB: true },
    { name: 'batched Aᵀ·B', a: [3, 6, 4], b: [3, 6, 5], transposeA: true, transposeB: false },
    { name: 'batched A·Bᵀ, wide result', a: [2, 40, 3], b: [2, 50, 3], transposeA: false, transposeB: true },
  ])('matMul with $name equals the cpu backend', async ({ a, b, transposeA, transposeB }) => {
    const product = () => tf.tidy(() => tf.matMul(tf.randomUniform(a, -1, 1, 'float32', 3), tf.randomUniform(b, -1, 1, 'float32', 4), transposeA, transposeB).dataSync() as Float32Array);
    await tf.setBackend('cpu');
    const reference = product();
    await tf.setBackend('wasm');
    expect(maxDiff(product(), reference)).toBeLessThan(1e-4);
  });

  it.each([
    { name: 'even size, ReLU zeros tie in whole windows', shape: [2, 6, 8, 3], relu: true, pool: 2 },
    { name: 'random values', shape: [1, 4, 4, 5], relu: false, pool: 2 },
    { name: 'odd size (falls back to wasm\'s kernel)', shape: [1, 5, 7, 2], relu: true, pool: 2 },
    { name: '3×3 windows (falls back)', shape: [1, 6, 6, 2], relu: false, pool: 3 },
  ])('max-pool gradient, $name, equals the cpu backend', async ({ shape, relu, pool }) => {
    const gradient = () =>
      tf.tidy(() => {
        const raw = tf.randomUniform(shape, -1, 1, 'float32', 11);
        const x = relu ? tf.relu(raw) : raw;
        const forward = (input: TF.Tensor) => tf.maxPool(input as TF.Tensor4D, pool, pool, 'valid');
        const r = tf.randomUniform(forward(x).shape, -1, 1, 'float32', 12);
        return (tf.grad((input: TF.Tensor) => tf.sum(tf.mul(forward(input), r)))(x) as TF.Tensor).dataSync() as Float32Array;
      });
    await tf.setBackend('cpu');
    const reference = gradient();
    await tf.setBackend('wasm');
    expect(maxDiff(gradient(), reference)).toBeLessThan(1e-6);
  });

  it('batch-norm gradients (x, scale, offset) match the closed form', async () => {
    await tf.setBackend('wasm');
    const diffs = tf.tidy(() => {
      const x = tf.randomUniform([4, 5, 5, 6], -1, 1, 'float32', 3);
      const mean = tf.randomUniform([6], -0.5, 0.5, 'float32', 4);
      const variance = tf.randomUniform([6], 0.5, 1.5, 'float32', 5);
      const scale = tf.randomUniform([6], 0.5, 1.5, 'float32', 6);
      const offset = tf.randomUniform([6], -0.5, 0.5, 'float32', 7);
      const r = tf.randomUniform([4, 5, 5, 6], -1, 1, 'float32', 8);
      const g = tf.grads((a: TF.Tensor, s: TF.Tensor, o: TF.Tensor) => tf.sum(tf.mul(tf.batchNorm(a, mean, variance, o, s, 1e-3), r)));
      const [dx, dScale, dOffset] = g([x, scale, offset]);
      // y = (x − m)/√(v + ε)·s + o, weighted by r.
      const inv = tf.rsqrt(tf.add(variance, 1e-3));
      const expected = [tf.mul(tf.mul(r, scale), inv), tf.sum(tf.mul(r, tf.mul(tf.sub(x, mean), inv)), [0, 1, 2]), tf.sum(r, [0, 1, 2])];
      return [dx, dScale, dOffset].map((t, i) => tf.max(tf.abs(tf.sub(t as TF.Tensor, expected[i] as TF.Tensor))).dataSync()[0] as number);
    });
    for (const diff of diffs) expect(diff).toBeLessThan(1e-5);
  });

  it('does not leak tensors', async () => {
    await tf.setBackend('wasm');
    gradients('depthwise', depthwiseCases[0] as Case, 1);
    const before = tf.memory().numTensors;
    gradients('depthwise', depthwiseCases[0] as Case, 1);
    gradients('conv', convCases[1] as Case, 1);
    expect(tf.memory().numTensors).toBe(before);
  });
});
