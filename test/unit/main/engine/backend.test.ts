import { describe, expect, it } from 'vitest';
import { explainLoadFailure, selectBackend, summarizeBackend } from '../../../../src/main/engine/backend';
import { nodeRequire, tf } from '../../../../src/main/engine/tf';

const notFound = (name: string) => Object.assign(new Error(`Cannot find module '${name}'`), { code: 'MODULE_NOT_FOUND' });

describe('backend selection', () => {
  it('falls from native GPU and CPU to wasm, saying why each was skipped', async () => {
    const loader = (name: string) => {
      if (name === '@tensorflow/tfjs-node-gpu') throw new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory');
      if (name === '@tensorflow/tfjs-node') throw notFound(name);
      return nodeRequire(name);
    };
    const choice = await selectBackend('auto', loader);
    expect(choice.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(choice.description).toMatch(/^wasm \((no )?SIMD, 1 thread/);
    expect(choice.skipped).toEqual([
      { name: 'tensorflow-gpu', reason: expect.stringMatching(/^CUDA 11\.2 \/ cuDNN 8\.1 not found \(libcudart/) },
      { name: 'tensorflow', reason: expect.stringMatching(/not installed: its install step could not download libtensorflow/) },
    ]);
    expect(summarizeBackend(choice)).toMatch(/Not used: tensorflow-gpu: CUDA 11\.2/);
  });

  it('honours --backend cpu, and fails clearly when a forced native backend is missing', async () => {
    expect((await selectBackend('cpu')).name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    const loader = (name: string) => {
      throw notFound(name);
    };
    await expect(selectBackend('tensorflow', loader)).rejects.toThrow(/tensorflow-gpu: .*not installed.*tensorflow: .*not installed/);
    await selectBackend('wasm');
  });

  it('words other native failures for a user', () => {
    expect(explainLoadFailure('@tensorflow/tfjs-node', new Error('libtensorflow.so.2: cannot open shared object file'))).toMatch(/libtensorflow could not be loaded/);
    expect(explainLoadFailure('@tensorflow/tfjs-node', new Error('was compiled against a different Node.js version'))).toMatch(/npm rebuild @tensorflow\/tfjs-node/);
  });

  it('really does not have the native packages on this machine (their install needs libtensorflow)', async () => {
    const choice = await selectBackend('auto');
    // Where a native backend is installed this is still true: it is picked first.
    if (choice.name === 'wasm') expect(choice.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
    else expect(['tensorflow-gpu', 'tensorflow']).toContain(choice.name);
  });
});
