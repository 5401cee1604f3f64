// @vitest-environment happy-dom
// The Train view names the engine before and during a run (reasons behind a toggle), and a finished
// run says what people want to know, with diagnostics in a collapsed details line and not in the toast.
import { createPinia } from 'pinia';
import { afterEach, describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import TrainView from '../../../src/renderer/src/components/TrainView.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { useNoticesStore } from '../../../src/renderer/src/stores/notices';
import { endedNotice } from '../../../src/renderer/src/stores/training';
import type { EngineInfo, TrainingEnded, TrainingStatus } from '../../../src/shared/contract';
import { FakeApi } from './fakeApi';

const wasm: EngineInfo = {
  name: 'wasm',
  label: 'WebAssembly (CPU)',
  description: 'wasm (SIMD, 1 thread: tfjs disables wasm threads in Node)',
  notUsed: [
    { name: 'tensorflow-gpu', reason: '@tensorflow/tfjs-node-gpu is not installed' },
    { name: 'tensorflow', reason: '@tensorflow/tfjs-node is not installed' },
  ],
  backbone: { engine: 'onnx', label: 'ONNX Runtime (CPU, 2 threads)', notUsed: [{ name: 'ONNX Runtime CUDA', reason: 'its CUDA provider is not installed' }] },
};
const cpu: EngineInfo = { name: 'cpu', label: 'Plain JavaScript (CPU, slow)', description: 'pure JavaScript (slow)', notUsed: [], backbone: { engine: 'onnx', label: 'ONNX Runtime (CPU, 2 threads)', notUsed: [] } };
const wasmOnly: EngineInfo = { ...wasm, backbone: { engine: 'tfjs', label: 'TensorFlow.js', notUsed: [{ name: 'ONNX Runtime', reason: 'the engine is set to tfjs' }] } };

const finished: TrainingEnded = {
  runId: '20260101-120000-abcd',
  reason: 'finished',
  message: 'Finished in 41 s · val accuracy 97.5% · kept epoch 12 of 20 (best val_loss)',
  details: 'Engine: wasm (SIMD) · 600 image(s) embedded at 30.0/s, 0 from the cache · training 18 s · main event loop lag p99 36.0 ms',
  valAccuracy: 0.975,
};

function status(overrides: Partial<TrainingStatus>): TrainingStatus {
  return {
    runId: finished.runId,
    state: 'running',
    config: {} as TrainingStatus['config'],
    backend: wasm.description,
    engine: wasm,
    classes: ['NG', 'OK'],
    counts: { train: {}, val: {}, test: {} },
    epochs: [],
    progress: null,
    ended: null,
    startedAt: '2026-01-01T12:00:00Z',
    result: null,
    ...overrides,
  };
}

let unmount: (() => void) | undefined;
afterEach(() => unmount?.());

async function mountTrainView(api: FakeApi) {
  api.splitPreview = () => ({ classes: ['NG', 'OK'], counts: { train: {}, val: {}, test: {} }, balancedTrain: {}, classWeights: null, excluded: 0, excludedByList: 0, examples: { train: [], val: [], test: [] } });
  const pinia = createPinia();
  const wrapper = mount(TrainView, { global: { plugins: [pinia], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
  unmount = () => wrapper.unmount();
  await flushPromises();
  return Object.assign(wrapper, { notices: useNoticesStore(pinia) });
}

describe('the Train view status', () => {
  it('shows the engines before a run starts, with the reasons behind a toggle, and follows the backend and engine choices', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], []);
    api.engines = { auto: wasm, cpu, tensorflow: 'No TensorFlow.js backend could start: tensorflow: not installed', 'auto/tfjs': wasmOnly };
    const wrapper = await mountTrainView(api);
    const engine = wrapper.get('[data-test=engine]');
    expect(engine.get('span').text()).toBe('Backbone: ONNX Runtime (CPU, 2 threads) · Training: TensorFlow.js, WebAssembly (CPU)');
    const details = engine.get('details');
    expect(details.attributes('open')).toBeUndefined();
    expect(details.get('summary').text()).toBe('Why not a faster engine?');
    expect(details.findAll('li').map((li) => li.text())).toEqual([
      'ONNX Runtime CUDA: its CUDA provider is not installed',
      'tensorflow-gpu: @tensorflow/tfjs-node-gpu is not installed',
      'tensorflow: @tensorflow/tfjs-node is not installed',
    ]);

    await wrapper.get('select[name=backend]').setValue('cpu');
    await flushPromises();
    expect(wrapper.get('[data-test=engine] span').text()).toBe('Backbone: ONNX Runtime (CPU, 2 threads) · Training: TensorFlow.js, Plain JavaScript (CPU, slow)');
    expect(wrapper.find('[data-test=engine] details').exists()).toBe(false);
    await wrapper.get('select[name=backend]').setValue('tensorflow');
    await flushPromises();
    expect(wrapper.get('[data-test=engine]').text()).toMatch(/^No TensorFlow\.js backend could start/);
    await wrapper.get('select[name=backend]').setValue('auto');
    await wrapper.get('select[name=engine]').setValue('tfjs');
    await flushPromises();
    expect(wrapper.get('[data-test=engine] span').text()).toBe('Backbone: TensorFlow.js, WebAssembly (CPU) · Training: TensorFlow.js, WebAssembly (CPU)');
    expect(api.calls.filter((c) => c.route === 'training.engine').map((c) => c.input)).toEqual([
      { backend: 'auto', engine: 'auto', scratch: false },
      { backend: 'cpu', engine: 'auto', scratch: false },
      { backend: 'tensorflow', engine: 'auto', scratch: false },
      { backend: 'auto', engine: 'auto', scratch: false },
      { backend: 'auto', engine: 'tfjs', scratch: false },
    ]);
  });

  it('offers a small CNN from scratch: no backbone in the engine line, its own input size, the backbone-only settings disabled, and the run asked for as set', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], []);
    api.engines = { auto: wasm, 'auto/scratch': { ...wasm, backbone: { engine: 'none', label: 'none (a small CNN trained from scratch)', notUsed: [] } } };
    const wrapper = await mountTrainView(api);
    expect(wrapper.find('select[name=cnnInputSize]').exists()).toBe(false);
    await wrapper.get('select[name=backbone]').setValue('small_cnn');
    await flushPromises();
    expect(wrapper.get('[data-test=engine] span').text()).toBe('Backbone: none (a small CNN trained from scratch) · Training: TensorFlow.js, WebAssembly (CPU)');
    expect(wrapper.get('[data-test=cnn-hint]').text()).toMatch(/15% of the train images choose the kept epoch, so val chooses nothing/);
    for (const name of ['headFit', 'inputSize', 'fineTuneBlocks']) expect(wrapper.get(`select[name=${name}]`).attributes('disabled'), name).toBeDefined();
    expect(wrapper.get('input[name=dropout]').attributes('disabled')).toBeDefined();
    await wrapper.get('select[name=cnnInputSize]').setValue('64');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    const started = api.calls.find((c) => c.route === 'training.start')?.input as { config: { backbone: unknown; fineTuneBlocks: number } };
    expect(started.config).toMatchObject({ backbone: { kind: 'small_cnn', inputSize: 64 }, fineTuneBlocks: 0 });
  });

  it('offers the CNN branch beside a backbone (auto by default, not for the CNN from scratch), asks for it as set, and says after the run whether it is in the model', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], []);
    api.engines = { auto: wasm, 'auto/scratch': { ...wasm, backbone: { engine: 'none', label: 'none (a small CNN trained from scratch)', notUsed: [] } } };
    const wrapper = await mountTrainView(api);
    const select = wrapper.get('select[name=cnnBranch]');
    expect((select.element as HTMLSelectElement).value).toBe('auto');
    await select.setValue('on');
    await wrapper.get('form').trigger('submit');
    await flushPromises();
    expect((api.calls.find((c) => c.route === 'training.start')?.input as { config: { cnnBranch: string } }).config.cnnBranch).toBe('on');
    await wrapper.get('select[name=backbone]').setValue('small_cnn');
    expect(wrapper.find('select[name=cnnBranch]').exists()).toBe(false);

    const reason = 'added: on 90 train images held out of both: the head alone 80.0% (log-loss 0.500), the mean with the CNN 90.0% (0.300)';
    api.trainingStatus = status({ state: 'finished', ended: finished, result: { evaluatedOn: 'val', valAccuracy: 0.975, accuracy: null, confusion: [[1, 0], [0, 1]], perClass: {}, modelChoice: null, cnnBranch: { used: true, reason } } });
    api.emit('training.ended', finished);
    await flushPromises();
    expect(wrapper.get('[data-test=cnn-branch]').text()).toBe(`CNN branch in the model: ${reason}.`);
  });

  it('shows the engine during a run, and after it the message with the diagnostics collapsed', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], []);
    api.engines = { auto: wasm };
    api.trainingStatus = status({});
    const wrapper = await mountTrainView(api);
    expect(wrapper.get('[data-test=backend] span').text()).toBe('Backbone: ONNX Runtime (CPU, 2 threads) · Training: TensorFlow.js, WebAssembly (CPU)');

    api.trainingStatus = status({ state: 'finished', ended: finished });
    api.emit('training.ended', finished);
    await flushPromises();
    expect(wrapper.get('[data-test=run-ended]').text()).toBe(finished.message);
    const details = wrapper.get('[data-test=run-details]');
    expect(details.element.tagName).toBe('DETAILS');
    expect(details.attributes('open')).toBeUndefined();
    expect(details.text()).toContain('main event loop lag p99 36.0 ms');
  });

  it('says after a restart that the last run was interrupted, and not once a run is under way', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], []);
    api.engines = { auto: wasm };
    api.otherRuns = [{ runId: '20260101-130000-abcd', name: null, epochs: [{ loss: 0.5 }], state: 'interrupted', interruptedAt: '2026-01-01T13:02:00.000Z', keptModel: null, valAccuracy: null, hasReport: false }];
    const wrapper = await mountTrainView(api);
    expect(wrapper.get('[data-test=interrupted]').text()).toMatch(/^The last run, 20260101-130000-abcd, was interrupted: the app stopped while it trained \(last seen .+\)\. It saved no model; earlier runs keep theirs\.$/);
    unmount?.();

    api.otherRuns = [{ ...(api.otherRuns[0] as (typeof api.otherRuns)[number]), keptModel: { epoch: 6, stage: 1, monitor: 'val_loss', value: 0.21034 } }];
    const kept = await mountTrainView(api);
    expect(kept.get('[data-test=interrupted]').text()).toMatch(
      /\(last seen .+\)\. It kept the model of epoch 7 \(val_loss 0\.21\), its best before the stop: Predict and Export model \(in Evaluate\) use it; it has no report to evaluate\.$/,
    );
    unmount?.();

    api.trainingStatus = status({});
    const running = await mountTrainView(api);
    expect(running.find('[data-test=interrupted]').exists()).toBe(false);
  });

  it('toasts the message for people only', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], []);
    api.engines = { auto: wasm };
    const { notices } = await mountTrainView(api);
    api.emit('training.ended', finished);
    api.emit('training.ended', { ...finished, reason: 'failed', message: 'Training stopped: the loss became NaN at epoch 1, batch 1', details: null, valAccuracy: null });
    expect(notices.notices.map((n) => [n.kind, n.text])).toEqual([
      ['info', finished.message],
      ['error', 'Training failed: Training stopped: the loss became NaN at epoch 1, batch 1'],
    ]);
    expect(endedNotice({ ...finished, reason: 'interrupted', message: 'Interrupted: the app stopped' })).toBe('Interrupted: the app stopped');
  });
});
