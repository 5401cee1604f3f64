// One TensorFlow.js instance for the whole process. Loaded with require so that the native
// backends (tfjs-node, tfjs-node-gpu), which require '@tensorflow/tfjs' themselves, share it.
import { createRequire } from 'node:module';
import type * as TF from '@tensorflow/tfjs';

export const nodeRequire = createRequire(import.meta.url);
export const tf: typeof TF = nodeRequire('@tensorflow/tfjs');
export type { TF };
