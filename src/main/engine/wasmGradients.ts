// The three gradient kernels that tfjs' wasm backend lacks, so convolutional layers can be
// fine-tuned on wasm (no libtensorflow needed): each is composed of kernels wasm does have
// (strided slices, matMul, multiply/sum, pad), one kernel offset at a time. For the 1×1 convs
// that make up most of MobileNetV2 the filter gradient is a single matMul.
// Checked against the cpu backend's own kernels in test/unit/main/engine/wasmGradients.test.ts.
import type { TF } from './tf';
import { tf } from './tf';

type Pad = 'valid' | 'same' | number | TF.backend_util.ExplicitPadding;
type Pair = [number, number] | number;

function convGeometry(xShape: number[], filterShape: [number, number, number, number], strides: Pair, dilations: Pair, pad: Pad, rounding: 'floor' | 'round' | 'ceil' | undefined, depthwise: boolean) {
  const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape, strides, dilations, pad, rounding, depthwise, 'channelsLast');
  return info;
}

/** The input window that kernel offset (i, j) sees for every output position: [N, outH, outW, C]. */
function windowAt(xPadded: TF.Tensor4D, i: number, j: number, info: TF.backend_util.Conv2DInfo): TF.Tensor4D {
  const [n, , , c] = xPadded.shape;
  const top = i * info.dilationHeight;
  const left = j * info.dilationWidth;
  const covers = top === 0 && left === 0 && info.strideHeight === 1 && info.strideWidth === 1 && xPadded.shape[1] === info.outHeight && xPadded.shape[2] === info.outWidth;
  if (covers) return xPadded; // 1×1 stride 1: the window is the whole input, no copy needed
  return tf.stridedSlice(
    xPadded,
    [0, top, left, 0],
    [n, top + (info.outHeight - 1) * info.strideHeight + 1, left + (info.outWidth - 1) * info.strideWidth + 1, c],
    [1, info.strideHeight, info.strideWidth, 1],
  ) as TF.Tensor4D;
}

function padInput(x: TF.Tensor4D, info: TF.backend_util.Conv2DInfo): TF.Tensor4D {
  const { top, bottom, left, right } = info.padInfo;
  // 'same' padding can leave the bottom/right edge unused: pad at least enough for every window.
  const needH = (info.outHeight - 1) * info.strideHeight + (info.filterHeight - 1) * info.dilationHeight + 1;
  const needW = (info.outWidth - 1) * info.strideWidth + (info.filterWidth - 1) * info.dilationWidth + 1;
  const extraBottom = Math.max(bottom, needH - top - x.shape[1]);
  const extraRight = Math.max(right, needW - left - x.shape[2]);
  if (top === 0 && left === 0 && extraBottom <= 0 && extraRight <= 0) return x;
  return tf.pad(x, [
    [0, 0],
    [top, Math.max(0, extraBottom)],
    [left, Math.max(0, extraRight)],
    [0, 0],
  ]);
}

export function conv2dBackpropFilter(x: TF.Tensor4D, dy: TF.Tensor4D, filterShape: [number, number, number, number], strides: Pair, pad: Pad, rounding?: 'floor' | 'round' | 'ceil'): TF.Tensor4D {
  return tf.tidy(() => {
    const info = convGeometry(x.shape, filterShape, strides, 1, pad, rounding, false);
    const [kh, kw, inChannels, outChannels] = filterShape;
    const xPadded = padInput(x, info);
    const rows = dy.shape[0] * info.outHeight * info.outWidth;
    const dy2d = tf.reshape(dy, [rows, outChannels]);
    const taps: TF.Tensor[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const window = tf.reshape(windowAt(xPadded, i, j, info), [rows, inChannels]);
        // An explicit transpose then a plain matMul: wasm's matMul with transposeA is ~10× slower.
        taps.push(tf.matMul(tf.transpose(window), dy2d));
      }
    }
    return tf.reshape(taps.length === 1 ? (taps[0] as TF.Tensor) : tf.stack(taps), [kh, kw, inChannels, outChannels]) as TF.Tensor4D;
  });
}

export function depthwiseBackpropFilter(x: TF.Tensor4D, dy: TF.Tensor4D, filterShape: [number, number, number, number], strides: Pair, dilations: Pair, pad: Pad, rounding?: 'floor' | 'round' | 'ceil'): TF.Tensor4D {
  return tf.tidy(() => {
    const info = convGeometry(x.shape, filterShape, strides, dilations, pad, rounding, true);
    const [kh, kw, channels, multiplier] = filterShape;
    const xPadded = padInput(x, info);
    const dy5 = tf.reshape(dy, [dy.shape[0], info.outHeight, info.outWidth, channels, multiplier]);
    const taps: TF.Tensor[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const window = tf.expandDims(windowAt(xPadded, i, j, info), 4);
        taps.push(tf.sum(tf.mul(window, dy5), [0, 1, 2]));
      }
    }
    return tf.reshape(tf.stack(taps), [kh, kw, channels, multiplier]) as TF.Tensor4D;
  });
}

/** Inserts (stride − 1) zeros between rows and columns, the transpose of a strided read. */
function dilate(t: TF.Tensor4D, strideH: number, strideW: number): TF.Tensor4D {
  let out = t;
  const [n, h, w, c] = t.shape;
  if (strideH > 1) {
    out = tf.reshape(tf.pad(tf.reshape(out, [n, h, 1, w, c]), [[0, 0], [0, 0], [0, strideH - 1], [0, 0], [0, 0]]), [n, h * strideH, w, c]);
    out = tf.slice(out, [0, 0, 0, 0], [n, (h - 1) * strideH + 1, w, c]);
  }
  if (strideW > 1) {
    const rows = out.shape[1];
    out = tf.reshape(tf.pad(tf.reshape(out, [n, rows, w, 1, c]), [[0, 0], [0, 0], [0, 0], [0, strideW - 1], [0, 0]]), [n, rows, w * strideW, c]);
    out = tf.slice(out, [0, 0, 0, 0], [n, rows, (w - 1) * strideW + 1, c]);
  }
  return out;
}

export function depthwiseBackpropInput(dy: TF.Tensor4D, filter: TF.Tensor4D, inputShape: [number, number, number, number], strides: Pair, dilations: Pair, pad: Pad, rounding?: 'floor' | 'round' | 'ceil'): TF.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, channels, multiplier] = filter.shape;
    const info = convGeometry(inputShape, filter.shape, strides, dilations, pad, rounding, true);
    const [n, height, width] = inputShape;
    const { top, left } = info.padInfo;
    const dy5 = tf.reshape(dy, [n, info.outHeight, info.outWidth, channels, multiplier]);
    const canvasH = Math.max(height + top, (info.outHeight - 1) * info.strideHeight + (kh - 1) * info.dilationHeight + 1);
    const canvasW = Math.max(width + left, (info.outWidth - 1) * info.strideWidth + (kw - 1) * info.dilationWidth + 1);
    const contributions: TF.Tensor4D[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const tap = tf.reshape(tf.slice(filter, [i, j, 0, 0], [1, 1, channels, multiplier]), [channels, multiplier]);
        const spread = dilate(tf.sum(tf.mul(dy5, tap), 4) as TF.Tensor4D, info.strideHeight, info.strideWidth);
        const rowOffset = i * info.dilationHeight;
        const colOffset = j * info.dilationWidth;
        contributions.push(
          tf.pad(spread, [
            [0, 0],
            [rowOffset, canvasH - rowOffset - spread.shape[1]],
            [colOffset, canvasW - colOffset - spread.shape[2]],
            [0, 0],
          ]),
        );
      }
    }
    const canvas = contributions.length === 1 ? (contributions[0] as TF.Tensor4D) : (tf.addN(contributions) as TF.Tensor4D);
    return tf.slice(canvas, [0, top, left, 0], [n, height, width, channels]);
  });
}

let registered = false;

/** Adds the missing kernels to the wasm backend (once; a no-op where they already exist). */
export function registerWasmGradients(): void {
  if (registered) return;
  registered = true;
  // Kernel inputs arrive as bare TensorInfos. Wrapping one in a Tensor must also take a reference
  // on its data, or disposing the wrapper would free the caller's tensor.
  const tensor = (info: TF.TensorInfo) => {
    const wrapped = tf.engine().makeTensorFromTensorInfo(info) as TF.Tensor4D;
    tf.engine().backend.incRef(info.dataId);
    return wrapped;
  };
  // Each kernel: its inputs wrapped as tensors, its attributes as typed, computed inside a tidy.
  const composed = <A>(kernelName: string, compute: (input: (name: string) => TF.Tensor4D, attrs: A) => TF.Tensor): TF.KernelConfig => ({
    kernelName,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => tf.tidy(() => compute((name) => tensor(inputs[name] as TF.TensorInfo), attrs as unknown as A)),
  });
  const kernels: TF.KernelConfig[] = [
    composed<TF.Conv2DBackpropFilterAttrs>('Conv2DBackpropFilter', (input, a) => {
      if (a.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm: only NHWC is supported');
      return conv2dBackpropFilter(input('x'), input('dy'), a.filterShape, a.strides, a.pad, a.dimRoundingMode);
    }),
    composed<TF.DepthwiseConv2dNativeBackpropFilterAttrs>('DepthwiseConv2dNativeBackpropFilter', (input, a) =>
      depthwiseBackpropFilter(input('x'), input('dy'), a.filterShape, a.strides, a.dilations, a.pad, a.dimRoundingMode),
    ),
    composed<TF.DepthwiseConv2dNativeBackpropInputAttrs>('DepthwiseConv2dNativeBackpropInput', (input, a) =>
      depthwiseBackpropInput(input('dy'), input('filter'), a.inputShape, a.strides, a.dilations, a.pad, a.dimRoundingMode),
    ),
  ];
  for (const kernel of kernels) if (!tf.getKernel(kernel.kernelName, 'wasm')) tf.registerKernel(kernel);
  speedUpPointwiseBackpropInput(tensor);
  tf.registerGradient(batchNormGradient);
}

/**
 * tfjs-core's FusedBatchNorm gradient with one change: dx broadcasts 1/√(var+ε) over the
 * batch instead of tiling it to the activation's full shape (a third of a fine-tuning step on
 * wasm went to that Tile). The mathematics is unchanged; the other derivatives are as upstream.
 */
const batchNormGradient: TF.GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const { varianceEpsilon } = attrs as unknown as TF.FusedBatchNormAttrs;
    const [x, mean, variance, scale] = saved as [TF.Tensor, TF.Tensor, TF.Tensor, TF.Tensor | undefined];
    const grad = dy as TF.Tensor;
    const scaleValue = scale ?? tf.scalar(1);
    const axes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const reduce = (t: TF.Tensor) => tf.reshape(mean.rank === 1 ? tf.sum(t, axes) : t, mean.shape);
    const xMinusMean = tf.sub(x, mean);
    const dyTimesScale = tf.mul(grad, scaleValue);
    const oneOverSqrtVariance = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const minusHalfRCube = tf.mul(tf.mul(tf.mul(oneOverSqrtVariance, oneOverSqrtVariance), oneOverSqrtVariance), tf.scalar(-0.5));
    return {
      x: () => tf.reshape(tf.mul(tf.mul(grad, oneOverSqrtVariance), scaleValue), x.shape),
      mean: () => reduce(tf.mul(tf.mul(oneOverSqrtVariance, tf.scalar(-1)), dyTimesScale)),
      variance: () => reduce(tf.mul(tf.mul(minusHalfRCube, xMinusMean), dyTimesScale)),
      scale: () => reduce(tf.mul(grad, tf.mul(xMinusMean, oneOverSqrtVariance))),
      offset: () => reduce(grad),
    };
  },
};

/** 1×1, stride-1, unpadded convs (most of MobileNetV2) as dy · Wᵀ, ~10× faster than wasm's own kernel. */
function speedUpPointwiseBackpropInput(tensor: (info: TF.TensorInfo) => TF.Tensor4D): void {
  const original = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (!original) return;
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const { dy, filter } = args.inputs as { dy: TF.TensorInfo; filter: TF.TensorInfo };
      const a = args.attrs as unknown as TF.Conv2DBackpropInputAttrs;
      const [kh, kw, inChannels, outChannels] = filter.shape as [number, number, number, number];
      const [sh, sw] = typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides;
      const unpadded = a.pad === 'valid' || a.pad === 'same' || a.pad === 0;
      if (kh !== 1 || kw !== 1 || sh !== 1 || sw !== 1 || !unpadded || a.dataFormat === 'NCHW') return original.kernelFunc(args);
      return tf.tidy(() => {
        const rows = a.inputShape[0] * a.inputShape[1] * a.inputShape[2];
        const dy2d = tf.reshape(tensor(dy), [rows, outChannels]);
        const weightsT = tf.transpose(tf.reshape(tensor(filter), [inChannels, outChannels]));
        return tf.reshape(tf.matMul(dy2d, weightsT), a.inputShape);
      });
    },
  });
}
