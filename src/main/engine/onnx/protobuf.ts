// The few ONNX protobuf messages a converted model needs, written by hand: the wire format is
// tags, varints and length-prefixed bytes, so a protobuf library would add more than it saves.
// Field numbers are those of onnx/onnx.proto (IR version 8).

export type OnnxAttribute =
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'ints'; value: number[] }
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'string'; value: string };

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

export type OnnxTensor = { name: string; dims: number[] } & ({ type: 'float'; data: Float32Array } | { type: 'int64'; data: number[] });

/** A graph input or output: float, its dimensions with the batch as a symbolic `batch` and null where unknown. */
export interface OnnxValueInfo {
  name: string;
  dims: (number | 'batch' | null)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export const ONNX_OPSET = 13;
const IR_VERSION = 8;
const DATA_TYPE = { float: 1, int64: 7 } as const;
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, ints: 7 } as const;
const WIRE = { varint: 0, fixed32: 5, bytes: 2 } as const;

/** Appends protobuf fields to a growing list of byte chunks. */
class Writer {
  private chunks: Uint8Array[] = [];

  private varint(value: number | bigint): void {
    // int64 fields are two's complement: negative values take ten bytes.
    let v = BigInt.asUintN(64, BigInt(value));
    const bytes: number[] = [];
    do {
      const low = Number(v & 0x7fn);
      v >>= 7n;
      bytes.push(v > 0n ? low | 0x80 : low);
    } while (v > 0n);
    this.chunks.push(Uint8Array.from(bytes));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number): this {
    this.tag(field, WIRE.varint);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE.fixed32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.chunks.push(bytes);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE.bytes);
    this.varint(value.length);
    this.chunks.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (writer: Writer) => void): this {
    const inner = new Writer();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((sum, c) => sum + c.length, 0));
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

/** Little-endian raw bytes, as TensorProto.raw_data requires on every platform. */
function rawData(tensor: OnnxTensor): Uint8Array {
  if (tensor.type === 'float') {
    const bytes = new Uint8Array(tensor.data.length * 4);
    const view = new DataView(bytes.buffer);
    tensor.data.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return bytes;
  }
  const bytes = new Uint8Array(tensor.data.length * 8);
  const view = new DataView(bytes.buffer);
  tensor.data.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return bytes;
}

function writeTensor(w: Writer, tensor: OnnxTensor): void {
  for (const d of tensor.dims) w.int(1, d);
  w.int(2, DATA_TYPE[tensor.type]).string(8, tensor.name).bytes(9, rawData(tensor));
}

function writeAttribute(w: Writer, attribute: OnnxAttribute): void {
  w.string(1, attribute.name).int(20, ATTRIBUTE_TYPE[attribute.type]);
  if (attribute.type === 'int') w.int(3, attribute.value);
  else if (attribute.type === 'float') w.float(2, attribute.value);
  else if (attribute.type === 'string') w.string(4, attribute.value);
  else for (const v of attribute.value) w.int(8, v);
}

function writeNode(w: Writer, node: OnnxNode): void {
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  w.string(3, node.name).string(4, node.opType);
  for (const attribute of node.attributes) w.message(5, (a) => writeAttribute(a, attribute));
}

/** ValueInfoProto → TypeProto.tensor_type → elem_type + TensorShapeProto. */
function writeValueInfo(w: Writer, info: OnnxValueInfo): void {
  w.string(1, info.name).message(2, (type) =>
    type.message(1, (tensorType) =>
      tensorType.int(1, DATA_TYPE.float).message(2, (shape) => {
        for (const d of info.dims) {
          shape.message(1, (dim) => {
            if (d === 'batch') dim.string(2, d);
            else if (d !== null) dim.int(1, d);
          });
        }
      }),
    ),
  );
}

export function encodeModel(graph: OnnxGraph, producer: { name: string; version: string }): Uint8Array {
  return new Writer()
    .int(1, IR_VERSION)
    .string(2, producer.name)
    .string(3, producer.version)
    .message(7, (g) => {
      for (const node of graph.nodes) g.message(1, (n) => writeNode(n, node));
      g.string(2, graph.name);
      for (const tensor of graph.initializers) g.message(5, (t) => writeTensor(t, tensor));
      for (const input of graph.inputs) g.message(11, (v) => writeValueInfo(v, input));
      for (const output of graph.outputs) g.message(12, (v) => writeValueInfo(v, output));
    })
    .message(8, (opset) => opset.string(1, '').int(2, ONNX_OPSET))
    .finish();
}
