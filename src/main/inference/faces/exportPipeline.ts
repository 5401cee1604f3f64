// The two-step pipeline an export brings for photos (predict-faces.mjs): face-api's detector, then
// model.onnx on each face cut exactly as LabelLoop cuts it (crop.ts, detector.ts): the same
// decode, detection copy, square, margin, black border, size limit and JPEG. A unit test runs the
// exported script and checks it gives the app's per-face probabilities.
import { MAX_CROP_SIDE } from './crop';
import { DETECT_MAX_SIDE } from './detector';

export const FACES_SCRIPT = 'predict-faces.mjs';

export function facesScript(): string {
  return `// Photos in, a verdict per face out, as LabelLoop's \`predict --faces\` does it:
// 1. face-api's SSD MobileNetV1 finds the faces (on a copy at most ${DETECT_MAX_SIDE} px wide);
// 2. each face is cut as a square (the box's longer side plus --margin of it on every side, black
//    past the photo's border, turned so the eyes lie level with --align, at most ${MAX_CROP_SIDE} px,
//    JPEG quality 92), the way the training crops were;
// 3. model.onnx classifies the crop, prepared as preprocessing.json says.
//
//   npm install @vladmandic/face-api @tensorflow/tfjs @tensorflow/tfjs-backend-wasm sharp onnxruntime-node
//   node predict-faces.mjs photo.jpg [more.jpg …] [--margin 0.25] [--min-confidence 0.5] [--align]
//
// Prints one JSON line per face: {"file", "face", "box": {x, y, width, height}, "score", "probabilities"}.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const sharp = require('sharp');
const ort = require('onnxruntime-node');
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const here = path.dirname(fileURLToPath(import.meta.url));
const prep = JSON.parse(readFileSync(path.join(here, 'preprocessing.json'), 'utf8'));
const args = process.argv.slice(2);
const stop = (message) => {
  console.error(message);
  process.exit(2);
};
const option = (name, fallback, low, high) => {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const [, text] = args.splice(at, 2);
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !(value >= low && value <= high)) stop(\`\${name} needs a number from \${low} to \${high}\`);
  return value;
};
const flag = (name) => {
  const at = args.indexOf(name);
  return at >= 0 && args.splice(at, 1).length === 1;
};
const margin = option('--margin', 0.25, 0, 2);
const minConfidence = option('--min-confidence', 0.5, 0.01, 0.99);
const align = flag('--align');
const unknown = args.find((a) => a.startsWith('--'));
if (unknown) stop(\`Unknown option \${unknown}\`);
if (args.length === 0) stop('Usage: node predict-faces.mjs photo.jpg [more.jpg …] [--margin 0.25] [--min-confidence 0.5] [--align]');

await tf.setBackend('wasm');
await tf.ready();
const models = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
await faceapi.nets.ssdMobilenetv1.loadFromDisk(models);
if (align) await faceapi.nets.faceLandmark68Net.loadFromDisk(models);
const session = await ort.InferenceSession.create(path.join(here, 'model.onnx'));
const fit = { stretch: 'fill', 'center-crop': 'cover', pad: 'contain' }[prep.resize];
const kernel = prep.interpolation === 'lanczos3' ? 'lanczos3' : 'linear';
const black = { r: 0, g: 0, b: 0 };

for (const file of args) {
  // Upright by EXIF, alpha onto black, 8-bit sRGB.
  const photo = await sharp(readFileSync(file)).rotate().flatten({ background: '#000000' }).toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const { width, height } = photo.info;
  const raw = { raw: { width, height, channels: 3 } };
  const scale = Math.min(1, ${DETECT_MAX_SIDE} / Math.max(width, height));
  const small = scale < 1 ? { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) } : { width, height };
  const pixels = scale < 1 ? await sharp(photo.data, raw).resize(small.width, small.height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer() : photo.data;
  const input = tf.tensor3d(pixels, [small.height, small.width, 3], 'int32');
  const detection = faceapi.detectAllFaces(input, new faceapi.SsdMobilenetv1Options({ minConfidence, maxResults: 1000 }));
  const found = align ? await detection.withFaceLandmarks() : (await detection).map((d) => ({ detection: d }));
  input.dispose();
  const back = (p) => ({ x: p.x * (width / small.width), y: p.y * (height / small.height) });
  const faces = found
    .map((f) => {
      const b = f.detection.box;
      const { x, y } = back(b);
      const far = back({ x: b.x + b.width, y: b.y + b.height });
      return { score: f.detection.score, box: { x, y, width: far.x - x, height: far.y - y }, landmarks: f.landmarks?.positions.map(back) };
    })
    .sort((a, b) => a.box.x - b.box.x || a.box.y - b.box.y);
  // The photo's pixels in a square that may reach past its border, black there.
  const squarePixels = async (left, top, side) => {
    const [x0, y0, x1, y1] = [Math.max(0, left), Math.max(0, top), Math.min(width, left + side), Math.min(height, top + side)];
    if (x1 <= x0 || y1 <= y0) return Buffer.alloc(side * side * 3);
    return sharp(photo.data, raw).extract({ left: x0, top: y0, width: x1 - x0, height: y1 - y0 }).extend({ left: x0 - left, top: y0 - top, right: left + side - x1, bottom: top + side - y1, background: black }).raw().toBuffer();
  };
  // The tilt of the line through the eye centres (landmarks 36–41 and 42–47), clockwise in degrees.
  const eyeTilt = (points) => {
    const mean = (p) => ({ x: p.reduce((s, q) => s + q.x, 0) / p.length, y: p.reduce((s, q) => s + q.y, 0) / p.length });
    const [l, r] = [mean(points.slice(36, 42)), mean(points.slice(42, 48))];
    return (Math.atan2(r.y - l.y, r.x - l.x) * 180) / Math.PI;
  };
  for (const [k, face] of faces.entries()) {
    const side = Math.max(1, Math.round(Math.max(face.box.width, face.box.height) * (1 + 2 * margin)));
    const left = Math.round(face.box.x + face.box.width / 2 - side / 2);
    const top = Math.round(face.box.y + face.box.height / 2 - side / 2);
    const tilt = align ? eyeTilt(face.landmarks) : 0;
    let square;
    if (Math.abs(tilt) < 0.01) {
      square = await squarePixels(left, top, side);
    } else {
      // Turn a wider square, so the turned crop has no empty corners, and cut its centre.
      const wide = Math.ceil(side * Math.SQRT2) + 2;
      const pad = Math.floor((wide - side) / 2);
      const turned = await sharp(await squarePixels(left - pad, top - pad, wide), { raw: { width: wide, height: wide, channels: 3 } }).rotate(-tilt, { background: black }).raw().toBuffer({ resolveWithObject: true });
      square = await sharp(turned.data, { raw: { width: turned.info.width, height: turned.info.height, channels: 3 } })
        .extract({ left: Math.floor((turned.info.width - side) / 2), top: Math.floor((turned.info.height - side) / 2), width: side, height: side }).raw().toBuffer();
    }
    const crop = sharp(square, { raw: { width: side, height: side, channels: 3 } });
    if (side > ${MAX_CROP_SIDE}) crop.resize(${MAX_CROP_SIDE}, ${MAX_CROP_SIDE}, { kernel: 'linear' });
    const jpeg = await crop.jpeg({ quality: 92 }).toBuffer();
    const { data } = await sharp(jpeg).rotate().flatten({ background: '#000000' }).toColourspace('srgb')
      .resize(prep.inputSize, prep.inputSize, { fit, position: 'centre', background: '#000000', kernel }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const x = new ort.Tensor('float32', Float32Array.from(data, (v) => (prep.scale === '0,1' ? v / 255 : v / 127.5 - 1)), [1, prep.inputSize, prep.inputSize, 3]);
    const out = await session.run({ [session.inputNames[0]]: x });
    console.log(JSON.stringify({ file, face: k + 1, box: face.box, score: face.score, probabilities: Array.from(out[session.outputNames[0]].data) }));
  }
}
`;
}

/** The export README's part on photos: the script above, and the same two steps in a browser. */
export function facesReadme(prep: { inputSize: number; scale: '0,1' | '-1,1' }): string {
  return `
## Photos with faces (\`${FACES_SCRIPT}\`)

If the model judges faces (trained on crops from LabelLoop's "Import photos (faces)" or
\`labelloop faces\`), a photo takes two steps: find the faces, then classify each crop cut exactly
as the training crops were. \`${FACES_SCRIPT}\` does both in Node (its first lines say what to
install) and gives the same per-face probabilities as \`labelloop predict --faces\` (a LabelLoop
test checks this to 1e-4):

\`\`\`sh
node ${FACES_SCRIPT} photo.jpg --margin 0.25 --min-confidence 0.5
\`\`\`

Give the margin the crops were imported with, and \`--align\` if they were levelled ("Level the eyes").

In a browser, with face-api and TF.js loaded (the crop's JPEG step is left out, so the figures
can differ slightly from the app's):

\`\`\`js
await faceapi.nets.ssdMobilenetv1.loadFromUri('face-api/model');
const model = await tf.loadLayersModel('model.json');
for (const { box } of await faceapi.detectAllFaces(img, new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5 }))) {
  const side = Math.round(Math.max(box.width, box.height) * 1.5); // margin 0.25 on every side
  const canvas = Object.assign(document.createElement('canvas'), { width: side, height: side });
  const context = canvas.getContext('2d');
  context.fillRect(0, 0, side, side); // black past the photo's border
  context.drawImage(img, box.x + box.width / 2 - side / 2, box.y + box.height / 2 - side / 2, side, side, 0, 0, side, side);
  const x = tf.tidy(() => tf.browser.fromPixels(canvas).resizeBilinear([${prep.inputSize}, ${prep.inputSize}]).toFloat()${prep.scale === '0,1' ? '.div(255)' : '.div(127.5).sub(1)'}.expandDims());
  console.log(box, model.predict(x).dataSync());
}
\`\`\`
`;
}
