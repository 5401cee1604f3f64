// The Train view shows the engine before a run starts: training.engine answers without loading a model.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelLoopApp } from '../../../../src/main/app';
import { tempDir } from '../../../helpers/fixtures';

describe('training.engine', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let app: LabelLoopApp;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    app = new LabelLoopApp({ host: 'web', version: 'test', configDir: path.join(dir, 'config') });
  });
  afterAll(async () => {
    await app.dispose();
    await cleanup();
  });

  it('names the engine briefly and keeps why faster ones are not used', async () => {
    const auto = await app.handle('training.engine', { backend: 'auto' });
    if (!auto.ok) throw new Error(auto.error.message);
    const engine = auto.result as { name: string; label: string; description: string; notUsed: { name: string; reason: string }[] };
    // No GPU and no native TensorFlow here: WebAssembly, with the reasons native was skipped.
    expect(engine).toMatchObject({ name: 'wasm', label: 'WebAssembly (CPU)', description: expect.stringMatching(/^wasm \(/) });
    expect(engine.notUsed.map((n) => n.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
    expect(engine.notUsed[0]?.reason).toMatch(/tfjs-node-gpu/);
    expect(await app.handle('training.engine', { backend: 'cpu' })).toMatchObject({ ok: true, result: { name: 'cpu', label: 'Plain JavaScript (CPU, slow)', notUsed: [] } });
  });

  it('names what runs the backbone: ONNX Runtime on the CPU here, with why not its GPU providers, or TF.js when asked', async () => {
    const onCpu = { engine: 'onnx', label: expect.stringMatching(/^ONNX Runtime \(CPU, \d+ threads?\)$/) };
    // No CUDA provider libraries are installed here (the install step that downloads them is skipped).
    expect(await app.handle('training.engine', { backend: 'auto' })).toMatchObject({
      ok: true,
      result: { backbone: { ...onCpu, notUsed: [{ name: 'ONNX Runtime CUDA', reason: expect.stringMatching(/^its CUDA provider is not installed \(libonnxruntime_providers_cuda\.so/) }] } },
    });
    expect(await app.handle('training.engine', { backend: 'auto', engine: 'onnx' })).toMatchObject({ ok: true, result: { backbone: { ...onCpu, notUsed: [] } } });
    // No GPU adapter here: the WebGPU route falls back to the CPU and says why.
    expect(await app.handle('training.engine', { backend: 'auto', engine: 'onnx-webgpu' })).toMatchObject({
      ok: true,
      result: { backbone: { ...onCpu, notUsed: [{ name: 'ONNX Runtime WebGPU', reason: expect.stringMatching(/WebGPU adapter/) }] } },
    });
    expect(await app.handle('training.engine', { backend: 'wasm', engine: 'tfjs' })).toMatchObject({
      ok: true,
      result: { backbone: { engine: 'tfjs', label: 'TensorFlow.js', notUsed: [{ name: 'ONNX Runtime', reason: 'the engine is set to tfjs' }] } },
    });
    expect(await app.handle('training.engine', { backend: 'auto', engine: 'gpu' })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
  });

  it('says no backbone runs for a small CNN from scratch, which the training backend trains alone', async () => {
    const { engineLine } = await import('../../../../src/main/engine/backend');
    const scratch = await app.handle('training.engine', { backend: 'wasm', scratch: true });
    if (!scratch.ok) throw new Error(scratch.error.message);
    expect(scratch.result).toMatchObject({ name: 'wasm', backbone: { engine: 'none', notUsed: [] } });
    expect(engineLine(scratch.result as Parameters<typeof engineLine>[0])).toBe('Backbone: none (a small CNN trained from scratch) · Training: TensorFlow.js, WebAssembly (CPU)');
  });

  it('says why a backend that cannot start is not available, and refuses unknown ones', async () => {
    expect(await app.handle('training.engine', { backend: 'tensorflow' })).toMatchObject({ ok: false, error: { code: 'no-backend', message: expect.stringMatching(/No TensorFlow\.js backend could start: tensorflow-gpu/) } });
    expect(await app.handle('training.engine', { backend: 'webgpu' })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
  });
});
