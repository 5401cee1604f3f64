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

/**
 * The input window that kernel offset (i, j) sees for every output position: [N, outH, outW, C],
 * or [C, N, outH, outW] from a channels-first copy.
 */
function windowAt(xPadded: TF.Tensor4D, i: number, j: number, info: TF.backend_util.Conv2DInfo, layout: 'NHWC' | 'CNHW' = 'NHWC'): TF.Tensor4D {
  const rowAxis = layout === 'NHWC' ? 1 : 2;
  const top = i * info.dilationHeight;
  const left = j * info.dilationWidth;
  const covers = top === 0 && left === 0 && info.strideHeight === 1 && info.strideWidth === 1 && xPadded.shape[rowAxis] === info.outHeight && xPadded.shape[rowAxis + 1] === info.outWidth;
  if (covers) return xPadded; // 1×1 stride 1: the window is the whole input, no copy needed
  const begin = [0, 0, 0, 0];
  const end = [...xPadded.shape];
  const strides = [1, 1, 1, 1];
  begin[rowAxis] = top;
  begin[rowAxis + 1] = left;
  end[rowAxis] = top + (info.outHeight - 1) * info.strideHeight + 1;
  end[rowAxis + 1] = left + (info.outWidth - 1) * info.strideWidth + 1;
  strides[rowAxis] = info.strideHeight;
  strides[rowAxis + 1] = info.strideWidth;
  return tf.stridedSlice(xPadded, begin, end, strides) as TF.Tensor4D;
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
    // im2col, built already transposed: every kernel offset's window of a channels-first copy of
    // x, stacked into [kh·kw·C, rows], then one matMul. Transposing x once is 9× less copying
    // than transposing the patches, and one large product beats a small one per offset.
    const xChannelsFirst = tf.transpose(xPadded, [3, 0, 1, 2]) as TF.Tensor4D;
    const windows: TF.Tensor[] = [];
    for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) windows.push(tf.reshape(windowAt(xChannelsFirst, i, j, info, 'CNHW'), [inChannels, rows]));
    const patchesT = windows.length === 1 ? (windows[0] as TF.Tensor) : tf.concat(windows, 0);
    const gradient = tf.matMul(patchesT, dy2d);
    return tf.reshape(gradient, [kh, kw, inChannels, outChannels]) as TF.Tensor4D;
  });
}

/**
 * dx of a stride-1, undilated conv: the forward conv of dy, padded so the output regains the
 * input's size, with the filter turned 180° and its channel axes swapped. wasm's forward conv
 * (XNNPACK) is ~10× faster than its own Conv2DBackpropInput.
 */
export function conv2dBackpropInputStride1(dy: TF.Tensor4D, filter: TF.Tensor4D, inputShape: [number, number, number, number], pad: Pad, rounding?: 'floor' | 'round' | 'ceil'): TF.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = filter.shape;
    const info = convGeometry(inputShape, filter.shape, 1, 1, pad, rounding, false);
    const [, height, width] = inputShape;
    const top = kh - 1 - info.padInfo.top;
    const left = kw - 1 - info.padInfo.left;
    const padded = tf.pad(dy, [
      [0, 0],
      [top, height - info.outHeight + kh - 1 - top],
      [left, width - info.outWidth + kw - 1 - left],
      [0, 0],
    ]);
    const turned = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as TF.Tensor4D;
    return tf.conv2d(padded, turned, 1, 'valid');
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

/**
 * dx of a 2×2, stride-2 max pool over an even-sized NHWC input: each window's dy goes to its
 * first maximum in row-major order, the cell tfjs' own kernels choose among ties (ReLU zeros tie
 * often). A plain loop over the values: ~5× faster than wasm's MaxPoolGrad.
 */
export function maxPool2x2Backprop(x: Float32Array, dy: Float32Array, [n, height, width, channels]: [number, number, number, number]): Float32Array {
  const dx = new Float32Array(x.length);
  const rowStride = width * channels;
  let out = 0;
  for (let b = 0; b < n; b++) {
    for (let row = 0; row < height; row += 2) {
      for (let column = 0; column < width; column += 2) {
        const corner = ((b * height + row) * width + column) * channels;
        for (let c = 0; c < channels; c++, out++) {
          const cells = [corner + c, corner + c + channels, corner + c + rowStride, corner + c + rowStride + channels];
          let best = -1;
          let max = Number.NEGATIVE_INFINITY;
          for (const cell of cells) {
            const value = x[cell] as number;
            if (value > max) {
              max = value;
              best = cell;
            }
          }
          if (best >= 0) dx[best] = dy[out] as number;
        }
      }
    }
  }
  return dx;
}

/**
 * Puts `faster` in place of wasm's kernel `name`; it hands the cases it does not cover to wasm's
 * own kernel (`original`). Nothing happens where wasm has no such kernel.
 */
function overrideWasmKernel(name: string, faster: (args: Parameters<TF.KernelFunc>[0], original: TF.KernelFunc) => ReturnType<TF.KernelFunc>): void {
  const registered = tf.getKernel(name, 'wasm');
  if (!registered) return;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...registered, kernelFunc: (args) => faster(args, registered.kernelFunc) });
}

/** 2×2 stride-2 pools over even sizes through maxPool2x2Backprop; anything else on wasm's kernel. */
function speedUpMaxPoolGrad(): void {
  overrideWasmKernel('MaxPoolGrad', (args, original) => {
    const { dy, input } = args.inputs as { dy: TF.TensorInfo; input: TF.TensorInfo };
    const a = args.attrs as unknown as TF.MaxPoolGradAttrs;
    const pair = (v: number | [number, number]) => (typeof v === 'number' ? [v, v] : v);
    const [fh, fw] = pair(a.filterSize);
    const [sh, sw] = pair(a.strides);
    const shape = input.shape as [number, number, number, number];
    const padless = a.pad === 'valid' || a.pad === 'same' || a.pad === 0;
    if (fh !== 2 || fw !== 2 || sh !== 2 || sw !== 2 || !padless || shape[1] % 2 !== 0 || shape[2] % 2 !== 0) return original(args);
    const backend = args.backend as TF.KernelBackend;
    const values = (info: TF.TensorInfo) => backend.readSync(info.dataId) as Float32Array;
    return tf.tensor4d(maxPool2x2Backprop(values(input), values(dy), shape), shape);
  });
}

/**
 * matMul with a transpose flag through explicit transposes: wasm's BatchMatMul reads a transposed
 * operand ~10× slower than it transposes one. Of Aᵀ·B computed as is and (Bᵀ·A)ᵀ, whichever
 * copies fewer values (a Dense layer's weight gradient, xᵀ·dy, is one of these every step).
 */
function speedUpTransposedMatMul(tensor: (info: TF.TensorInfo) => TF.Tensor4D): void {
  overrideWasmKernel('BatchMatMul', (args, original) => {
    const { a: aInfo, b: bInfo } = args.inputs as { a: TF.TensorInfo; b: TF.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as TF.BatchMatMulAttrs;
    if (!transposeA && !transposeB) return original(args);
    return tf.tidy(() => {
      const a = tensor(aInfo) as TF.Tensor;
      const b = tensor(bInfo) as TF.Tensor;
      const swapLast = (t: TF.Tensor) => {
        const perm = t.shape.map((_, axis) => axis);
        perm.splice(-2, 2, t.rank - 1, t.rank - 2);
        return tf.transpose(t, perm);
      };
      const rows = transposeA ? (a.shape.at(-1) as number) : (a.shape.at(-2) as number);
      const columns = transposeB ? (b.shape.at(-2) as number) : (b.shape.at(-1) as number);
      const batch = Math.max(a.size / ((a.shape.at(-1) as number) * (a.shape.at(-2) as number)), b.size / ((b.shape.at(-1) as number) * (b.shape.at(-2) as number)));
      const direct = (transposeA ? a.size : 0) + (transposeB ? b.size : 0);
      const swapped = (transposeA ? 0 : a.size) + (transposeB ? 0 : b.size) + batch * rows * columns;
      if (direct <= swapped) return tf.matMul(transposeA ? swapLast(a) : a, transposeB ? swapLast(b) : b);
      return swapLast(tf.matMul(transposeB ? b : swapLast(b), transposeA ? a : swapLast(a)));
    });
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
  speedUpStride1BackpropInput(tensor);
  speedUpTransposedMatMul(tensor);
  speedUpMaxPoolGrad();
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

/**
 * Stride-1 convs: 1×1 unpadded ones (most of MobileNetV2) as dy · Wᵀ, the others (a small CNN's
 * 3×3 'same' convs) as a forward conv; both ~10× faster than wasm's own kernel.
 */
function speedUpStride1BackpropInput(tensor: (info: TF.TensorInfo) => TF.Tensor4D): void {
  overrideWasmKernel('Conv2DBackpropInput', (args, original) => {
    const { dy, filter } = args.inputs as { dy: TF.TensorInfo; filter: TF.TensorInfo };
    const a = args.attrs as unknown as TF.Conv2DBackpropInputAttrs;
    const [kh, kw, inChannels, outChannels] = filter.shape as [number, number, number, number];
    const [sh, sw] = typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides;
    if (sh !== 1 || sw !== 1 || a.dataFormat === 'NCHW') return original(args);
    const unpadded = a.pad === 'valid' || a.pad === 'same' || a.pad === 0;
    if (kh === 1 && kw === 1 && unpadded) {
      return tf.tidy(() => {
        const rows = a.inputShape[0] * a.inputShape[1] * a.inputShape[2];
        const dy2d = tf.reshape(tensor(dy), [rows, outChannels]);
        const weightsT = tf.transpose(tf.reshape(tensor(filter), [inChannels, outChannels]));
        return tf.reshape(tf.matMul(dy2d, weightsT), a.inputShape);
      });
    }
    // Padding wider than the kernel would need a crop after the conv: left to wasm's kernel.
    const widePad = typeof a.pad === 'number' ? a.pad > Math.min(kh, kw) - 1 : typeof a.pad === 'object';
    if (widePad) return original(args);
    return tf.tidy(() => conv2dBackpropInputStride1(tensor(dy), tensor(filter), a.inputShape, a.pad, a.dimRoundingMode));
  });
}
