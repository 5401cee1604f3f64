// Opening an image for decoding, and saying in a few stable words why one cannot be decoded.
// libvips' own messages are no use to a user: multi-line, mentioning the wrong decoder, and (its
// error buffer being per thread) sometimes about another image decoded at the same time. So a
// reason is worked out from the file's own bytes; sharp's message only tells the pixel limit apart.
import { open } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { describeFsError } from '../common/errors';

/** Larger images are refused: a decompression bomb or a scan no classifier needs (100 MP). */
export const MAX_INPUT_PIXELS = 100_000_000;


/** The reason for a zero-byte file, given by the scan before anything decodes. */
export const EMPTY_FILE = 'Empty file (0 bytes)';

/** An image that cannot be used; its message is the short reason, ready for the user. */
export class UndecodableImage extends Error {}

/** A sharp instance with the settings every decode uses and its header, after refusing drawings and HEVC-coded HEIC. */
export async function openRaster(input: string | Uint8Array): Promise<{ image: Sharp; meta: Metadata }> {
  const image = sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'warning', animated: false });
  const meta = await image.metadata();
  // A drawing decodes (librsvg renders it) but is no photo to classify, whatever its extension.
  if (meta.format === 'svg') throw new UndecodableImage('Not a raster image (SVG)');
  if (meta.format === 'heif' && meta.compression === 'hevc') throw new UndecodableImage('Unsupported format HEIC');
  return { image, meta };
}

/**
 * A sharp instance for bytes already read, with the same refusals as openRaster but without its
 * header pass: drawings and HEIC are told by their first bytes. The model's decode runs for every
 * image of every run, and the extra header read cost it about a fifth of its time.
 */
export function rasterFromBytes(bytes: Uint8Array): Sharp {
  const head = bytes.subarray(0, SVG_HEAD_BYTES);
  const format = sniff(head, bytes.byteLength);
  if (format?.name === 'HEIC') throw new UndecodableImage('Unsupported format HEIC');
  // libvips renders SVG (and gzipped SVG) from bytes as readily as any photo; a recognised raster
  // format is left alone even if its metadata mentions "<svg".
  if (!format && head[0] === 0x1f && head[1] === 0x8b) throw new UndecodableImage('Not an image');
  if (!format && /<svg/i.test(ascii(head, 0, head.length))) throw new UndecodableImage('Not a raster image (SVG)');
  return sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'warning', animated: false });
}

/** How far into a file libvips looks for an SVG's root element. */
const SVG_HEAD_BYTES = 1024;

/** Formats recognised by their first bytes; `decodes` is whether this build of sharp reads them. */
interface Sniffed {
  name: string;
  decodes: boolean;
  /** Whether the bytes visibly stop before the format's end marker; null where the format has none. */
  truncated: (tail: Uint8Array) => boolean | null;
}

const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs']);
const AVIF_BRANDS = new Set(['avif', 'avis']);

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...bytes.subarray(start, end));
}

function endsWith(tail: Uint8Array, marker: number[]): boolean {
  // Some writers pad after the end marker; the marker must still be near the end.
  for (let i = tail.length - marker.length; i >= 0; i--) if (marker.every((b, k) => tail[i + k] === b)) return true;
  return false;
}

function uint32(bytes: Uint8Array, offset: number, littleEndian: boolean): number {
  if (offset + 4 > bytes.length) return 0;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, littleEndian);
}

function sniff(head: Uint8Array, size: number): Sniffed | null {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  const noEnd = () => null;
  if (starts(0xff, 0xd8, 0xff)) return { name: 'JPEG', decodes: true, truncated: (tail) => !endsWith(tail, [0xff, 0xd9]) };
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return { name: 'PNG', decodes: true, truncated: (tail) => !endsWith(tail, [0x49, 0x45, 0x4e, 0x44]) };
  if (ascii(head, 0, 4) === 'GIF8') return { name: 'GIF', decodes: true, truncated: (tail) => !endsWith(tail, [0x3b]) };
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return { name: 'WebP', decodes: true, truncated: () => uint32(head, 4, true) + 8 > size };
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return { name: 'TIFF', decodes: true, truncated: noEnd };
  if (ascii(head, 4, 8) === 'ftyp') {
    const brands = [ascii(head, 8, 12)];
    const boxEnd = Math.min(head.length, uint32(head, 0, false));
    for (let at = 16; at + 4 <= boxEnd; at += 4) brands.push(ascii(head, at, at + 4));
    if (brands.some((b) => AVIF_BRANDS.has(b))) return { name: 'AVIF', decodes: sharp.format.heif.input.file, truncated: noEnd };
    if (brands.some((b) => HEIC_BRANDS.has(b))) return { name: 'HEIC', decodes: false, truncated: noEnd };
    return null;
  }
  if (ascii(head, 0, 2) === 'BM' && head.length >= 14 && uint32(head, 6, true) === 0) return { name: 'BMP', decodes: false, truncated: noEnd };
  if (starts(0xff, 0x0a) || (ascii(head, 4, 8) === 'JXL ' && starts(0, 0, 0, 0x0c))) return { name: 'JPEG XL', decodes: false, truncated: noEnd };
  if (ascii(head, 4, 8) === 'jP  ' || starts(0xff, 0x4f, 0xff, 0x51)) return { name: 'JPEG 2000', decodes: false, truncated: noEnd };
  if (ascii(head, 0, 4) === '8BPS') return { name: 'PSD', decodes: false, truncated: noEnd };
  if (starts(0x00, 0x00, 0x01, 0x00) && head[4] !== undefined && head[4] > 0) return { name: 'ICO', decodes: false, truncated: noEnd };
  return null;
}

function looksLikeText(head: Uint8Array): boolean {
  return head.length > 0 && head.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || b >= 0x20);
}

const HEAD_BYTES = 256;
const TAIL_BYTES = 64;

/** The first and last bytes of the file or buffer, and its size. */
async function ends(source: string | Uint8Array): Promise<{ head: Uint8Array; tail: Uint8Array; size: number }> {
  if (typeof source !== 'string') return { head: source.subarray(0, HEAD_BYTES), tail: source.subarray(-TAIL_BYTES), size: source.byteLength };
  const handle = await open(source, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(HEAD_BYTES, size));
    await handle.read(head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(TAIL_BYTES, size));
    await handle.read(tail, 0, tail.length, size - tail.length);
    return { head, tail, size };
  } finally {
    await handle.close();
  }
}

/**
 * Why a file (path) or upload (bytes) did not decode, as one short line that stays the same for
 * the same file: "Empty file (0 bytes)", "Not an image", "Not an image (text)", "Not a raster
 * image (SVG)", "Unsupported format HEIC", "Truncated file (PNG)", "Damaged file (JPEG)",
 * "Over the 100 MP limit (12000×12000, 144 MP)", or why the file could not be read at all.
 */
export async function explainDecodeError(source: string | Uint8Array, error: unknown): Promise<string> {
  return (await diagnoseDecodeError(source, error)).reason;
}

/** The reason, and whether it is about the file's content (worth caching with the file's version). */
export async function diagnoseDecodeError(source: string | Uint8Array, error: unknown): Promise<{ reason: string; aboutContent: boolean }> {
  const about = (reason: string) => ({ reason, aboutContent: true });
  if (error instanceof UndecodableImage) return about(error.message);
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    const meta = await sharp(source, { limitInputPixels: false }).metadata().catch(() => null);
    const size = meta?.width && meta.height ? ` (${meta.width}×${meta.height}, ${Math.round((meta.width * meta.height) / 1e6)} MP)` : '';
    return about(`Over the ${MAX_INPUT_PIXELS / 1e6} MP limit${size}`);
  }
  let bytes;
  try {
    bytes = await ends(source);
  } catch (readError) {
    return { reason: describeFsError(readError, typeof source === 'string' ? path.basename(source) : 'the upload'), aboutContent: false };
  }
  if (bytes.size === 0) return about(EMPTY_FILE);
  const format = sniff(bytes.head, bytes.size);
  if (!format) {
    if (ascii(bytes.head, 0, 5) === '%PDF-') return about('Not an image (PDF)');
    if (/<svg[\s>]/i.test(ascii(bytes.head, 0, bytes.head.length))) return about('Not a raster image (SVG)');
    return about(looksLikeText(bytes.head) ? 'Not an image (text)' : 'Not an image');
  }
  if (!format.decodes) return about(`Unsupported format ${format.name}`);
  const truncated = format.truncated(bytes.tail) ?? /premature end|truncated|unexpected end|not enough data|end of file/i.test(message);
  return about(truncated ? `Truncated file (${format.name})` : `Damaged file (${format.name})`);
}
