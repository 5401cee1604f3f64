// onnxruntime-node as `npm ci` leaves it on a machine that reaches only the npm registry: its CPU
// library comes in the package, and its install step (a CUDA provider download from NuGet) is denied.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeRequire } from '../../../../src/main/engine/tf';
import { onnxRuntime, providerUnavailable } from '../../../../src/main/engine/onnx/runtime';

const repo = path.resolve(import.meta.dirname, '../../../..');

describe('the offline install of ONNX Runtime', () => {
  it('denies the install step that would download from outside the registry', () => {
    const manifest = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; allowScripts: Record<string, boolean> };
    expect(manifest.dependencies['onnxruntime-node']).toMatch(/^\^1\./);
    expect(manifest.allowScripts['onnxruntime-node']).toBe(false);
  });

  it('leaves the CPU library in the package, loadable, with the CPU provider bundled', async () => {
    const binary = path.join(path.dirname(nodeRequire.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
    expect(existsSync(path.join(binary, 'onnxruntime_binding.node'))).toBe(true);
    const ort = onnxRuntime();
    expect(ort.listSupportedBackends()).toContainEqual({ name: 'cpu', bundled: true });
    // The CUDA provider is the part the denied step would have fetched: said, not tried, unless a user installed it by hand.
    const cuda = existsSync(path.join(binary, 'libonnxruntime_providers_cuda.so'));
    if (process.platform === 'linux') expect(providerUnavailable('cuda')).toEqual(cuda ? null : expect.stringMatching(/CUDA provider is not installed/));
    expect(providerUnavailable('cpu')).toBeNull();
  });
});
