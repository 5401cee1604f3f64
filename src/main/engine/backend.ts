// Picks the fastest TensorFlow.js backend that works here: native GPU → native CPU → wasm → cpu,
// and says why each better one did not load. tf.setBackend returns false (and tfjs quietly stays
// on another backend) when one fails, so every switch is checked.
import type { EngineInfo } from '../../shared/contract';
import { nodeRequire, tf } from './tf';

export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendChoice {
  name: BackendName;
  /** What runs, in words: "wasm (SIMD, 1 thread)". */
  description: string;
  /** Why each faster backend was not used. */
  skipped: { name: BackendName; reason: string }[];
}

type Loader = (moduleName: string) => unknown;

interface Candidate {
  name: BackendName;
  tfBackend: string;
  load(loader: Loader): Promise<string>;
}

const NATIVE_HELP = 'see README "GPU"';

function nativeCandidate(name: 'tensorflow-gpu' | 'tensorflow', moduleName: string): Candidate {
  return {
    name,
    tfBackend: 'tensorflow',
    async load(loader) {
      loader(moduleName);
      return name === 'tensorflow-gpu' ? 'native TensorFlow with CUDA' : 'native TensorFlow on the CPU';
    },
  };
}

const CANDIDATES: Candidate[] = [
  nativeCandidate('tensorflow-gpu', '@tensorflow/tfjs-node-gpu'),
  nativeCandidate('tensorflow', '@tensorflow/tfjs-node'),
  {
    name: 'wasm',
    tfBackend: 'wasm',
    async load(loader) {
      loader('@tensorflow/tfjs-backend-wasm');
      return 'wasm';
    },
  },
  { name: 'cpu', tfBackend: 'cpu', load: async () => 'pure JavaScript (slow)' },
];

/** Explains a failed native load the way a user can act on it. */
export function explainLoadFailure(moduleName: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  if (code === 'MODULE_NOT_FOUND' && message.includes(moduleName)) {
    return `${moduleName} is not installed: its install step could not download libtensorflow (${NATIVE_HELP})`;
  }
  if (/libcudart|libcublas|libcufft|libcurand|libcusolver|libcusparse|cuda/i.test(message)) {
    return `CUDA 11.2 / cuDNN 8.1 not found (${firstLine(message)})`;
  }
  if (/libcudnn/i.test(message)) return `cuDNN 8.1 not found (${firstLine(message)})`;
  if (/libtensorflow/i.test(message)) return `libtensorflow could not be loaded (${firstLine(message)}); ${NATIVE_HELP}`;
  if (/NODE_MODULE_VERSION|was compiled against a different Node\.js version/i.test(message)) {
    return `its native addon was built for another Node.js: run npm rebuild ${moduleName}`;
  }
  return firstLine(message);
}

export async function selectBackend(preference: BackendPreference = 'auto', loader: Loader = nodeRequire): Promise<BackendChoice> {
  const wanted =
    preference === 'auto' ? CANDIDATES : CANDIDATES.filter((c) => (preference === 'tensorflow' ? c.tfBackend === 'tensorflow' : c.name === preference));
  const skipped: BackendChoice['skipped'] = [];
  for (const candidate of wanted) {
    try {
      const label = await candidate.load(loader);
      if (!(await tf.setBackend(candidate.tfBackend))) throw new Error(`tf.setBackend('${candidate.tfBackend}') failed`);
      await tf.ready();
      if (tf.getBackend() !== candidate.tfBackend) throw new Error(`tfjs stayed on ${tf.getBackend()}`);
      return { name: candidate.name, description: await describe(candidate, label), skipped };
    } catch (error) {
      const moduleName = candidate.name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : candidate.name === 'tensorflow' ? '@tensorflow/tfjs-node' : candidate.name;
      skipped.push({ name: candidate.name, reason: explainLoadFailure(moduleName, error) });
    }
  }
  throw new Error(`No TensorFlow.js backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}

async function describe(candidate: Candidate, label: string): Promise<string> {
  if (candidate.name !== 'wasm') return label;
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  // tfjs turns wasm threads off in Node: its workers start from blob: URLs, which Node refuses.
  return `wasm (${simd ? 'SIMD' : 'no SIMD'}, 1 thread: tfjs disables wasm threads in Node)`;
}

const ENGINE_LABELS: Record<BackendName, string> = {
  'tensorflow-gpu': 'Native TensorFlow (GPU)',
  tensorflow: 'Native TensorFlow (CPU)',
  wasm: 'WebAssembly (CPU)',
  cpu: 'Plain JavaScript (CPU, slow)',
};

/** The choices as the window shows them: short labels, with the reasons kept for a details toggle. */
export function engineInfo(choice: BackendChoice, backbone: EngineInfo['backbone']): EngineInfo {
  return { name: choice.name, label: ENGINE_LABELS[choice.name], description: choice.description, notUsed: choice.skipped, backbone };
}

/** "Backbone: ONNX Runtime (CPU, 2 threads) · Training: TensorFlow.js, WebAssembly (CPU)". */
export function engineLine(info: EngineInfo): string {
  const backbone = info.backbone.engine === 'tfjs' ? `TensorFlow.js, ${info.label}` : info.backbone.label;
  return `Backbone: ${backbone} · Training: TensorFlow.js, ${info.label}`;
}

/** One line for logs and the UI: what runs and why nothing faster does. */
export function summarizeBackend(choice: BackendChoice): string {
  const why = choice.skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  return why ? `${choice.description}. Not used: ${why}` : choice.description;
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? text;
}
