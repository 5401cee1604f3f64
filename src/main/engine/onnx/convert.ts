// TF.js LayersModel → ONNX graph, so the frozen part of a model can run on ONNX Runtime.
// Image tensors (rank 4) are kept NCHW inside the graph, as ONNX's Conv and pooling want: one
// Transpose turns the NHWC input around and another turns an image-shaped output back.
// Weights are initializers (ONNX Runtime optimises only convs with constant weights), batch
// normalisation after a conv is folded into its weights and zero padding into its pads.
import type { OnnxAttribute, OnnxGraph, OnnxNode, OnnxTensor, OnnxValueInfo } from './protobuf';
import { encodeModel } from './protobuf';
import { tf, type TF } from '../tf';

/** A layer the converter has no ONNX translation for: callers run the model on TF.js instead. */
export class UnsupportedLayerError extends Error {
  constructor(
    readonly layerName: string,
    readonly className: string,
    detail?: string,
  ) {
    super(`Cannot convert layer "${layerName}" (${className}) to ONNX${detail ? `: ${detail}` : ''}`);
    this.name = 'UnsupportedLayerError';
  }
}

export const CONVERTER_VERSION = 1;

/** Axis i of an NCHW tensor is axis TO_NCHW[i] of the NHWC one. */
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];
const IDENTITY_AT_INFERENCE = new Set(['Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
/** tfjs' SELU constants (ONNX's defaults are rounded differently). */
const SELU = { alpha: 1.6732632423543772, gamma: 1.0507009873554805 };

type Symbolic = TF.SymbolicTensor;
type Layer = TF.layers.Layer;
type Pads = [top: number, left: number, bottom: number, right: number];
type Config = Record<string, unknown>;

/** A Conv node whose weights may still absorb a following BatchNormalization. */
interface ConvPlan {
  weight: OnnxTensor & { type: 'float' };
  bias: OnnxTensor & { type: 'float' };
}

/**
 * Converts the part of `model` from its inputs to `outputLayer`'s output (default: the model's
 * outputs) into ONNX bytes. Inputs stay NHWC float with a free batch size; the spatial size must
 * be fixed in the model (it decides the explicit pads of `same` convs and pools).
 */
export function convertLayersModel(model: TF.LayersModel, options: { outputLayer?: string } = {}): Uint8Array {
  const outputs = options.outputLayer ? [model.getLayer(options.outputLayer).output as Symbolic] : (model.outputs as Symbolic[]);
  return encodeModel(new GraphBuilder(model.inputs as Symbolic[], outputs).build(model.name), { name: 'labelloop', version: String(CONVERTER_VERSION) });
}

/** What a model and the models nested in it write into together. */
interface SharedGraph {
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  usedNames: Set<string>;
}

class GraphBuilder {
  /** ONNX value holding each symbolic tensor (NCHW when rank 4). */
  private values = new Map<number, string>();
  private consumers = new Map<number, number>();
  /** Zero padding not yet emitted because the conv reading it takes it as pads. */
  private pendingPads = new Map<number, Pads>();
  private convPlans = new Map<number, ConvPlan>();
  private order: Symbolic[] = [];

  constructor(
    private readonly inputs: Symbolic[],
    private readonly outputs: Symbolic[],
    private readonly shared: SharedGraph = { nodes: [], initializers: [], usedNames: new Set() },
  ) {
    const seen = new Set<number>();
    const visit = (t: Symbolic): void => {
      if (seen.has(t.id)) return;
      seen.add(t.id);
      for (const input of t.inputs) {
        visit(input);
        this.consumers.set(input.id, (this.consumers.get(input.id) ?? 0) + 1);
      }
      this.order.push(t);
    };
    for (const output of outputs) {
      visit(output);
      this.consumers.set(output.id, (this.consumers.get(output.id) ?? 0) + 1);
    }
  }

  build(graphName: string): OnnxGraph {
    const graphInputs: OnnxValueInfo[] = this.inputs.map((input) => {
      const name = this.uniqueName(input.sourceLayer.name);
      this.values.set(input.id, input.rank === 4 ? this.transpose(name, TO_NCHW, `${name}_nchw`) : name);
      return { name, dims: ['batch', ...input.shape.slice(1).map((d) => this.fixed(d, input.sourceLayer))] };
    });
    this.convertAll();
    const graphOutputs: OnnxValueInfo[] = this.outputs.map((output) => {
      const name = this.uniqueName(`${output.sourceLayer.name}_output`);
      const value = this.materialise(output);
      if (output.rank === 4) this.node('Transpose', [value], name, [{ name: 'perm', type: 'ints', value: TO_NHWC }]);
      else this.node('Identity', [value], name);
      return { name, dims: ['batch', ...output.shape.slice(1)] };
    });
    return { name: graphName, nodes: this.shared.nodes, initializers: this.shared.initializers, inputs: graphInputs, outputs: graphOutputs };
  }

  private convertAll(): void {
    for (const t of this.order) {
      if (this.values.has(t.id)) continue;
      if (t.sourceLayer.getClassName() === 'InputLayer') throw new UnsupportedLayerError(t.sourceLayer.name, 'InputLayer', 'an input of the graph that is not an input of the model');
      this.values.set(t.id, this.convertLayerCall(t));
    }
  }

  /** A model used as a layer (a Keras application inside a Sequential): its graph inlined. */
  private inlineModel(t: Symbolic, model: TF.LayersModel): string {
    if (model.outputs.length !== 1) throw new UnsupportedLayerError(model.name, model.getClassName(), 'a nested model with several outputs');
    const inner = new GraphBuilder(model.inputs as Symbolic[], model.outputs as Symbolic[], this.shared);
    model.inputs.forEach((input, i) => inner.values.set(input.id, this.materialise(t.inputs[i] as Symbolic)));
    inner.convertAll();
    return inner.materialise(model.outputs[0] as Symbolic);
  }

  /** Emits the nodes of the layer call that produced `t`; returns the value holding `t`. */
  private convertLayerCall(t: Symbolic): string {
    const layer = t.sourceLayer;
    if (layer instanceof tf.LayersModel) return this.inlineModel(t, layer);
    const className = layer.getClassName();
    const config = layer.getConfig() as Config;
    const unsupported = (detail?: string) => new UnsupportedLayerError(layer.name, className, detail);
    if (t.tensorIndex !== 0) throw unsupported('a layer with several outputs');
    if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast') throw unsupported(`data format ${String(config.dataFormat)}`);
    const out = this.uniqueName(layer.name);
    const inputs = t.inputs;
    const first = inputs[0] as Symbolic;
    switch (className) {
      case 'Conv2D':
      case 'DepthwiseConv2D':
      case 'SeparableConv2D':
        return this.convolution(t, layer, className, config, out);
      case 'BatchNormalization':
        return this.batchNormalization(t, layer, config, out);
      case 'Dense':
        return this.dense(t, layer, config, out);
      case 'Activation':
        return this.activation(String(config.activation), this.materialise(first), out, this.onnxAxis(-1, t.rank), unsupported);
      case 'ReLU': {
        const maxValue = config.maxValue as number | null | undefined;
        return maxValue == null ? this.node('Relu', [this.materialise(first)], out) : this.clip(this.materialise(first), 0, maxValue, out);
      }
      case 'LeakyReLU':
        return this.node('LeakyRelu', [this.materialise(first)], out, [{ name: 'alpha', type: 'float', value: config.alpha as number }]);
      case 'ELU':
        return this.node('Elu', [this.materialise(first)], out, [{ name: 'alpha', type: 'float', value: config.alpha as number }]);
      case 'Softmax':
        return this.node('Softmax', [this.materialise(first)], out, [{ name: 'axis', type: 'int', value: this.onnxAxis(config.axis as number, t.rank) }]);
      case 'Add':
      case 'Multiply':
      case 'Average':
      case 'Maximum':
      case 'Minimum': {
        if (inputs.some((i) => i.rank !== t.rank)) throw unsupported('inputs of different ranks');
        const op = { Add: inputs.length === 2 ? 'Add' : 'Sum', Multiply: 'Mul', Average: 'Mean', Maximum: 'Max', Minimum: 'Min' }[className];
        const names = inputs.map((i) => this.materialise(i));
        // Mul is binary; the others take any number of inputs.
        if (op === 'Mul') return names.slice(1).reduce((acc, name, i) => this.node('Mul', [acc, name], i === names.length - 2 ? out : `${out}_${i}`), names[0] as string);
        return this.node(op as string, names, out);
      }
      case 'Concatenate':
        if (inputs.some((i) => i.rank !== t.rank)) throw unsupported('inputs of different ranks');
        return this.node('Concat', inputs.map((i) => this.materialise(i)), out, [{ name: 'axis', type: 'int', value: this.onnxAxis(config.axis as number, t.rank) }]);
      case 'ZeroPadding2D': {
        const [[top, bottom], [left, right]] = config.padding as [[number, number], [number, number]];
        const pads: Pads = [top, left, bottom, right];
        const consumer = this.singleConsumerLayer(t);
        if (consumer && ['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D'].includes(consumer.getClassName())) {
          this.pendingPads.set(t.id, addPads(pads, this.pendingPads.get(first.id)));
          return this.values.get(first.id) as string;
        }
        const padsValue = this.int64Constant(`${out}_pads`, [0, 0, top, left, 0, 0, bottom, right]);
        return this.node('Pad', [this.materialise(first), padsValue], out);
      }
      case 'Cropping2D': {
        const [[top, bottom], [left, right]] = config.cropping as [[number, number], [number, number]];
        const [height, width] = [this.fixed(first.shape[1], layer), this.fixed(first.shape[2], layer)];
        const starts = this.int64Constant(`${out}_starts`, [top, left]);
        const ends = this.int64Constant(`${out}_ends`, [height - bottom, width - right]);
        const axes = this.int64Constant(`${out}_axes`, [2, 3]);
        return this.node('Slice', [this.materialise(first), starts, ends, axes], out);
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const kernel = pair(config.poolSize);
        const strides = pair(config.strides ?? config.poolSize);
        const pads = this.samePads(first, kernel, strides, [1, 1], String(config.padding), layer);
        return this.node(className === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [this.materialise(first)], out, [
          { name: 'kernel_shape', type: 'ints', value: kernel },
          { name: 'strides', type: 'ints', value: strides },
          { name: 'pads', type: 'ints', value: pads },
        ]);
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        const pooled = this.node(className === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', [this.materialise(first)], `${out}_nc11`);
        return this.node('Flatten', [pooled], out, [{ name: 'axis', type: 'int', value: 1 }]);
      }
      case 'Flatten': {
        if (first.rank === 2) return this.materialise(first);
        // TF flattens in NHWC order: turn the channels back last first.
        const source = first.rank === 4 ? this.transpose(this.materialise(first), TO_NHWC, `${out}_nhwc`) : this.materialise(first);
        return this.node('Flatten', [source], out, [{ name: 'axis', type: 'int', value: 1 }]);
      }
      case 'Reshape': {
        const source = first.rank === 4 ? this.transpose(this.materialise(first), TO_NHWC, `${out}_nhwc`) : this.materialise(first);
        // tfjs writes the inferred dimension (Keras' -1) as null; 0 keeps the batch.
        const shape = this.int64Constant(`${out}_shape`, [0, ...(config.targetShape as (number | null)[]).map((d) => d ?? -1)]);
        const reshaped = this.node('Reshape', [source, shape], t.rank === 4 ? `${out}_nhwc_out` : out);
        return t.rank === 4 ? this.transpose(reshaped, TO_NCHW, out) : reshaped;
      }
      case 'Permute': {
        const tfPerm = [0, ...(config.dims as number[])];
        // NCHW axis i ← NHWC axis TO_NCHW[i] ← input NHWC axis tfPerm[...] ← input NCHW axis TO_NHWC[...].
        const perm = t.rank === 4 ? TO_NCHW.map((a) => TO_NHWC[tfPerm[a] as number] as number) : tfPerm;
        return this.transpose(this.materialise(first), perm, out);
      }
      case 'Rescaling': {
        const scaled = this.node('Mul', [this.materialise(first), this.floatConstant(`${out}_scale`, [], [config.scale as number])], `${out}_scaled`);
        return this.node('Add', [scaled, this.floatConstant(`${out}_offset`, [], [config.offset as number])], out);
      }
      default:
        if (IDENTITY_AT_INFERENCE.has(className)) return this.materialise(first);
        throw unsupported();
    }
  }

  private convolution(t: Symbolic, layer: Layer, className: string, config: Config, out: string): string {
    const input = t.inputs[0] as Symbolic;
    const unsupported = (detail: string) => new UnsupportedLayerError(layer.name, className, detail);
    if (input.rank !== 4) throw unsupported(`input of rank ${input.rank}`);
    const kernel = pair(config.kernelSize);
    const strides = pair(config.strides);
    const dilations = pair(config.dilationRate);
    const padding = String(config.padding);
    if (padding !== 'same' && padding !== 'valid') throw unsupported(`padding ${padding}`);
    const pads = addPads(this.samePads(input, kernel, strides, dilations, padding, layer), this.pendingPads.get(input.id));
    const weights = weightsByRole(layer);
    const inChannels = this.fixed(input.shape[3], layer);
    const geometry: OnnxAttribute[] = [
      { name: 'kernel_shape', type: 'ints', value: kernel },
      { name: 'strides', type: 'ints', value: strides },
      { name: 'dilations', type: 'ints', value: dilations },
      { name: 'pads', type: 'ints', value: pads },
    ];
    // Pending zero padding is in `pads` already, so the unpadded value is read.
    let source = this.values.get(input.id) as string;
    let plan: ConvPlan;
    if (className === 'Conv2D') {
      plan = this.convPlan(out, conv2dWeight(role(weights, 'kernel', layer), kernel, inChannels), weights.get('bias'));
    } else {
      const depthwiseKernel = role(weights, 'depthwise_kernel', layer);
      const multiplier = depthwiseKernel.shape[3] as number;
      const depthwise = depthwiseWeight(depthwiseKernel, kernel, inChannels, multiplier);
      if (className === 'DepthwiseConv2D') {
        plan = this.convPlan(out, depthwise, weights.get('bias'));
      } else {
        // SeparableConv2D: a bias-free depthwise conv, then a 1×1 conv that carries the bias.
        const depthwisePlan = this.convPlan(`${out}_depthwise`, depthwise, undefined);
        source = this.node('Conv', [source, depthwisePlan.weight.name, depthwisePlan.bias.name], `${out}_depthwise`, [...geometry, { name: 'group', type: 'int', value: inChannels }]);
        plan = this.convPlan(out, conv2dWeight(role(weights, 'pointwise_kernel', layer), [1, 1], inChannels * multiplier), weights.get('bias'));
        geometry.splice(0, geometry.length, { name: 'kernel_shape', type: 'ints', value: [1, 1] });
      }
    }
    const group = className === 'DepthwiseConv2D' ? inChannels : 1;
    const activation = String(config.activation ?? 'linear');
    const convOut = activation === 'linear' ? out : `${out}_linear`;
    this.node('Conv', [source, plan.weight.name, plan.bias.name], convOut, [...geometry, { name: 'group', type: 'int', value: group }]);
    if (activation === 'linear') this.convPlans.set(t.id, plan);
    return this.activation(activation, convOut, out, this.onnxAxis(-1, 4), (detail) => unsupported(detail ?? 'activation'));
  }

  private convPlan(name: string, weight: { dims: number[]; data: Float32Array }, bias: TF.Tensor | undefined): ConvPlan {
    const outChannels = weight.dims[0] as number;
    const plan: ConvPlan = {
      weight: { name: `${name}_weight`, type: 'float', ...weight },
      bias: { name: `${name}_bias`, type: 'float', dims: [outChannels], data: bias ? Float32Array.from(bias.dataSync()) : new Float32Array(outChannels) },
    };
    this.shared.initializers.push(plan.weight, plan.bias);
    return plan;
  }

  private batchNormalization(t: Symbolic, layer: Layer, config: Config, out: string): string {
    const input = t.inputs[0] as Symbolic;
    const axis = (config.axis as number) < 0 ? (config.axis as number) + t.rank : (config.axis as number);
    if (axis !== t.rank - 1) throw new UnsupportedLayerError(layer.name, 'BatchNormalization', `normalises axis ${String(config.axis)}, not the channels`);
    const weights = weightsByRole(layer);
    const mean = role(weights, 'moving_mean', layer).dataSync();
    const variance = role(weights, 'moving_variance', layer).dataSync();
    const gamma = weights.get('gamma')?.dataSync();
    const beta = weights.get('beta')?.dataSync();
    const epsilon = config.epsilon as number;
    // Inference-mode batch norm as y = x·scale + shift, which a conv's weights and bias can absorb.
    const scale = Float32Array.from(mean, (_, c) => (gamma ? (gamma[c] as number) : 1) / Math.sqrt((variance[c] as number) + epsilon));
    const shift = Float32Array.from(mean, (m, c) => (beta ? (beta[c] as number) : 0) - m * (scale[c] as number));
    const plan = this.convPlans.get(input.id);
    if (plan && this.consumers.get(input.id) === 1) {
      const perChannel = plan.weight.data.length / scale.length;
      plan.weight.data.forEach((w, i) => (plan.weight.data[i] = w * (scale[Math.floor(i / perChannel)] as number)));
      plan.bias.data.forEach((b, c) => (plan.bias.data[c] = b * (scale[c] as number) + (shift[c] as number)));
      this.convPlans.set(t.id, plan);
      return this.values.get(input.id) as string;
    }
    const dims = t.rank === 4 ? [scale.length, 1, 1] : [scale.length];
    const scaled = this.node('Mul', [this.materialise(input), this.floatConstant(`${out}_scale`, dims, scale)], `${out}_scaled`);
    return this.node('Add', [scaled, this.floatConstant(`${out}_shift`, dims, shift)], out);
  }

  private dense(t: Symbolic, layer: Layer, config: Config, out: string): string {
    const input = t.inputs[0] as Symbolic;
    const weights = weightsByRole(layer);
    const kernel = role(weights, 'kernel', layer);
    const kernelName = this.floatConstant(`${out}_kernel`, kernel.shape, Float32Array.from(kernel.dataSync()));
    // Dense acts on the last axis, which for an image tensor is the channels: NHWC around it.
    const source = input.rank === 4 ? this.transpose(this.materialise(input), TO_NHWC, `${out}_nhwc`) : this.materialise(input);
    let value = this.node('MatMul', [source, kernelName], `${out}_matmul`);
    const bias = weights.get('bias');
    if (bias) value = this.node('Add', [value, this.floatConstant(`${out}_bias`, bias.shape, Float32Array.from(bias.dataSync()))], `${out}_biased`);
    const activation = String(config.activation ?? 'linear');
    if (t.rank === 4) {
      value = this.activation(activation, value, `${out}_activated`, -1, (detail) => new UnsupportedLayerError(layer.name, 'Dense', detail));
      return this.transpose(value, TO_NCHW, out);
    }
    return this.activation(activation, value, out, -1, (detail) => new UnsupportedLayerError(layer.name, 'Dense', detail));
  }

  /**
   * Emits tfjs activation `name` on `input`; returns the value holding the result. `channelsAxis`
   * is where TF's last axis (softmax's) is in `input`'s layout.
   */
  private activation(name: string, input: string, out: string, channelsAxis: number, unsupported: (detail?: string) => Error): string {
    switch (name) {
      case 'linear':
        return input;
      case 'relu':
        return this.node('Relu', [input], out);
      case 'relu6':
        return this.clip(input, 0, 6, out);
      case 'sigmoid':
        return this.node('Sigmoid', [input], out);
      case 'tanh':
        return this.node('Tanh', [input], out);
      case 'softplus':
        return this.node('Softplus', [input], out);
      case 'softsign':
        return this.node('Softsign', [input], out);
      case 'elu':
        return this.node('Elu', [input], out, [{ name: 'alpha', type: 'float', value: 1 }]);
      case 'selu':
        return this.node('Selu', [input], out, [
          { name: 'alpha', type: 'float', value: SELU.alpha },
          { name: 'gamma', type: 'float', value: SELU.gamma },
        ]);
      case 'hardSigmoid':
        return this.node('HardSigmoid', [input], out, [
          { name: 'alpha', type: 'float', value: 0.2 },
          { name: 'beta', type: 'float', value: 0.5 },
        ]);
      case 'softmax':
        return this.node('Softmax', [input], out, [{ name: 'axis', type: 'int', value: channelsAxis }]);
      case 'swish':
        return this.node('Mul', [input, this.node('Sigmoid', [input], `${out}_sigmoid`)], out);
      case 'mish': {
        const softplus = this.node('Softplus', [input], `${out}_softplus`);
        return this.node('Mul', [input, this.node('Tanh', [softplus], `${out}_tanh`)], out);
      }
      default:
        throw unsupported(`activation ${name}`);
    }
  }

  /** Clip with bounds as inputs (opset 11+). */
  private clip(input: string, min: number, max: number, out: string): string {
    return this.node('Clip', [input, this.floatConstant(`${out}_min`, [], [min]), this.floatConstant(`${out}_max`, [], [max])], out);
  }

  private transpose(input: string, perm: number[], out: string): string {
    return this.node('Transpose', [input], out, [{ name: 'perm', type: 'ints', value: perm }]);
  }

  /** The value of `t`, with any zero padding that was waiting for a conv applied now. */
  private materialise(t: Symbolic): string {
    const value = this.values.get(t.id) as string;
    const pads = this.pendingPads.get(t.id);
    if (!pads) return value;
    const [top, left, bottom, right] = pads;
    const padded = this.node('Pad', [value, this.int64Constant(`${value}_pads`, [0, 0, top, left, 0, 0, bottom, right])], this.uniqueName(`${t.sourceLayer.name}_padded`));
    this.pendingPads.delete(t.id);
    this.values.set(t.id, padded);
    return padded;
  }

  /** ONNX pads [top, left, bottom, right] for TF `same` padding (the extra pixel goes last). */
  private samePads(input: Symbolic, kernel: number[], strides: number[], dilations: number[], padding: string, layer: Layer): Pads {
    if (padding === 'valid') return [0, 0, 0, 0];
    const [before, after] = [1, 2].map((axis) => {
      const size = this.fixed(input.shape[axis], layer);
      const i = axis - 1;
      const stride = strides[i] as number;
      const effectiveKernel = ((kernel[i] as number) - 1) * (dilations[i] as number) + 1;
      const total = Math.max((Math.ceil(size / stride) - 1) * stride + effectiveKernel - size, 0);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    }) as [[number, number], [number, number]];
    return [before[0], after[0], before[1], after[1]];
  }

  private fixed(dimension: number | null | undefined, layer: Layer): number {
    if (dimension == null) throw new UnsupportedLayerError(layer.name, layer.getClassName(), 'the model needs a fixed input size to convert');
    return dimension;
  }

  private onnxAxis(tfAxis: number, rank: number): number {
    const axis = tfAxis < 0 ? tfAxis + rank : tfAxis;
    return rank === 4 ? (TO_NHWC[axis] as number) : axis;
  }

  private singleConsumerLayer(t: Symbolic): Layer | null {
    if (this.consumers.get(t.id) !== 1 || this.outputs.includes(t)) return null;
    return this.order.find((other) => other.inputs.includes(t))?.sourceLayer ?? null;
  }

  private node(opType: string, inputs: string[], output: string, attributes: OnnxAttribute[] = []): string {
    this.shared.nodes.push({ opType, name: output, inputs, outputs: [output], attributes });
    return output;
  }

  private floatConstant(name: string, dims: number[], data: ArrayLike<number>): string {
    this.shared.initializers.push({ name, type: 'float', dims, data: Float32Array.from(data) });
    return name;
  }

  private int64Constant(name: string, data: number[]): string {
    this.shared.initializers.push({ name, type: 'int64', dims: [data.length], data });
    return name;
  }

  private uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.shared.usedNames.has(name); i++) name = `${base}_${i}`;
    this.shared.usedNames.add(name);
    return name;
  }
}

/** Weights by their Keras role (kernel, bias, gamma, moving_mean, …). */
function weightsByRole(layer: Layer): Map<string, TF.Tensor> {
  return new Map(layer.weights.map((w) => [(w.originalName.split('/').pop() as string).replace(/_\d+$/, ''), w.read()]));
}

function role(weights: Map<string, TF.Tensor>, name: string, layer: Layer): TF.Tensor {
  const weight = weights.get(name);
  if (!weight) throw new UnsupportedLayerError(layer.name, layer.getClassName(), `no ${name} weight among ${[...weights.keys()].join(', ')}`);
  if (weight.dtype !== 'float32') throw new UnsupportedLayerError(layer.name, layer.getClassName(), `${name} is ${weight.dtype}, not float32`);
  return weight;
}

/** Keras [kh, kw, in, out] → ONNX [out, in, kh, kw]. */
function conv2dWeight(kernel: TF.Tensor, size: number[], inChannels: number): { dims: number[]; data: Float32Array } {
  const [kh, kw] = size as [number, number];
  const source = kernel.dataSync();
  const outChannels = source.length / (kh * kw * inChannels);
  const data = new Float32Array(source.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < inChannels; i++)
        for (let o = 0; o < outChannels; o++) data[((o * inChannels + i) * kh + y) * kw + x] = source[((y * kw + x) * inChannels + i) * outChannels + o] as number;
  return { dims: [outChannels, inChannels, kh, kw], data };
}

/** Keras depthwise [kh, kw, in, multiplier] → ONNX grouped [in·multiplier, 1, kh, kw] (output c·m + j). */
function depthwiseWeight(kernel: TF.Tensor, size: number[], inChannels: number, multiplier: number): { dims: number[]; data: Float32Array } {
  const [kh, kw] = size as [number, number];
  const source = kernel.dataSync();
  const data = new Float32Array(source.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let c = 0; c < inChannels; c++)
        for (let m = 0; m < multiplier; m++) data[((c * multiplier + m) * kh + y) * kw + x] = source[((y * kw + x) * inChannels + c) * multiplier + m] as number;
  return { dims: [inChannels * multiplier, 1, kh, kw], data };
}

function pair(value: unknown): number[] {
  return Array.isArray(value) ? (value as number[]) : [value as number, value as number];
}

function addPads(pads: Pads, extra: Pads | undefined): Pads {
  return extra ? (pads.map((p, i) => p + (extra[i] as number)) as Pads) : pads;
}
