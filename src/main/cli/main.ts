// `npx labelloop <command>`: the same services as the app, without a window.
import path from 'node:path';
import { generateDemoProject } from '../project/demo';
import { EventBus } from '../common/events';
import { ProjectSession } from '../project/project';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { isImageName } from '../../shared/images';
import { engineLine, selectBackend } from '../engine/backend';
import { exportRun } from '../inference/export';
import { isRunFolder, loadPredictor } from '../inference/predictor';
import { RUN_ID } from '../training/runs';
import { DATA_DIR } from '../project/scan';
import { decideLabel, facePredictionsCsv, type PredictionLine, predictionsCsv } from '../../shared/predictions';
import { loadFaceDetector } from '../inference/faces/detector';
import { DEFAULT_FACE_IMPORT, type FaceImportOptions, importFaces } from '../inference/faces/importFaces';
import { describeFaceImport } from '../../shared/faces';
import { checkProject, describeCheck } from '../inspection/dataCheck';
import { explainFiles, writeOverlays } from '../inspection/heatmaps';
import { annotatePhoto, annotationName, NO_FACE, predictFaces } from '../inference/faces/predictFaces';
import { describeAccuracy } from '../../shared/metrics';
import type { ModelChoice } from '../../shared/report';
import { type EngineInfo, FrozenEngine, TrainingConfig } from '../../shared/contract';
import { TrainingService } from '../training/session';
import { runWebMode } from '../web/run';
import { ProgressPrinter } from './progress';
import { appVersion, parseFlags } from './flags';
import { printable } from './terminalText';
import { backboneOption, ignoredBackboneFlags } from './backboneFlags';

const USAGE = `LabelLoop ${appVersion}

Usage:
  labelloop demo [dir] [--per-class N] [--seed N] [--size PX]   make the synthetic faces project (default ./labelloop-demo)
  labelloop scan <projectDir>                                  count images per class and list unreadable files
  labelloop web [--port N] [--project DIR]                     serve the app to a browser on 127.0.0.1
  labelloop train <projectDir> [--epochs N] [--batch N] [--lr X] [--optimizer sgd|adam|rmsprop]
                  [--val 0.2] [--test 0] [--seed N] [--input-size 96|128|160|192|224]
                  [--balancing none|oversample|class-weights] [--patience N]
                  [--head-fit converged|epochs (default converged; epochs when --epochs, --lr, --optimizer,
                   --batch or --patience is given)]
                  [--backend auto|tensorflow|wasm|cpu] [--engine auto|onnx|onnx-cuda|onnx-webgpu|tfjs]
                  [--report report.json]
                  [--fine-tune-layers 0-19 (top MobileNetV2 units; 19 = the whole network)] [--fine-tune-epochs N] [--fine-tune-lr X]
                  [--backbone auto|mobilenet_v2|mobilenet_v2_depths|inception_v3|small_cnn|model.json|URL]
                  [--auto-budget SECONDS (default 120: how long Auto may compare models)]
                  [--cnn-size 32|64|96|128 (small_cnn: no backbone, a small CNN from scratch; default 32)]
                  [--cnn-branch auto|on|off (a small CNN beside the frozen head, the two averaged; auto: tried on
                   grayscale images, kept where it beats the head alone on train images held out)]
                  [--cut-layer NAME] [--input-scale 0,1|-1,1] (these two for a model.json only)
                  [--resize stretch|center-crop|pad]
  labelloop export <runDir> <outDir>                           a run as TF.js model.json + model.onnx + labels.json + preprocessing.json
  labelloop predict <exportDir|runDir|runId> <files or folders…> [--csv out.csv] [--project DIR (for a run id; default .)]
                  [--engine auto|onnx|onnx-cuda|onnx-webgpu|tfjs]
                  [--faces [--annotate outDir] [--margin 0.25] [--min-confidence 0.5] [--align]] (a row per face found;
                  margin and align as the training crops were cut)
  labelloop check <projectDir> [--report check.json]          exact and near duplicates, copies across the split (leaks) or
                                                               under two labels (conflicts), quality outliers
  labelloop explain <runDir|exportDir|runId> <images or folders…> --out DIR [--class NAME] [--per-image-scale]
                  [--opacity 0.5] [--project DIR (for a run id; default .)]
                                                               where the model looked: an overlay PNG per image and
                                                               heatmaps.json (maps scaled across the images unless per image)
  labelloop faces <photos or folders…> --into <projectDir> [--class NAME (default: unlabeled)]
                  [--min-confidence 0.5] [--min-size 32 (px)] [--margin 0.25] [--align]
                                                               crop every face found into the project

--backend picks the TensorFlow.js backend that trains; --engine what runs the frozen backbone and
predicts (auto: ONNX Runtime, with its CUDA provider where installed, else TensorFlow.js).
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  switch (command) {
    case 'demo': {
      const { positional, values } = parseFlags(rest, { 'per-class': 'number', seed: 'number', size: 'number' });
      const dir = path.resolve(positional[0] ?? 'labelloop-demo');
      const started = Date.now();
      const { files } = await generateDemoProject(dir, {
        perClass: values['per-class'],
        seed: values.seed,
        size: values.size,
      });
      console.log(`Wrote ${files} images to ${dir} (OK/ masked, NG/ unmasked) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return 0;
    }
    case 'scan': {
      const dir = parseFlags(rest, {}).positional[0];
      if (!dir) throw new Error('scan needs a project folder');
      const project = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0 });
      await project.whenValidated();
      const snapshot = project.snapshot();
      await project.close();
      if (snapshot.readOnly) console.log(`read-only: ${printable(snapshot.readOnly)}: nothing was saved in .labelloop; relabeling, import and training need a writable disk`);
      for (const line of snapshot.recovered) console.log(`recovered: ${printable(line)}`);
      for (const warning of snapshot.warnings) console.log(`warning: ${printable(warning)}`);
      const counts = new Map<string, number>();
      for (const item of snapshot.items) counts.set(item.label ?? '(unlabeled)', (counts.get(item.label ?? '(unlabeled)') ?? 0) + 1);
      console.log(`${printable(snapshot.name)}: ${snapshot.items.length} images in ${snapshot.classes.length} classes`);
      for (const name of [...snapshot.classes, '(unlabeled)']) if (counts.has(name) || name !== '(unlabeled)') console.log(`  ${printable(name).padEnd(20)} ${counts.get(name) ?? 0}`);
      const unreadable = snapshot.items.filter((i) => i.status === 'unreadable');
      for (const item of unreadable) console.log(`unreadable: ${printable(item.path)}: ${printable(item.problem ?? '')}`);
      return unreadable.length > 0 ? 2 : 0;
    }
    case 'train':
      return train(rest);
    case 'export': {
      const [runDir, outDir] = parseFlags(rest, {}).positional;
      if (!runDir || !outDir) throw new Error('export needs a run folder (.labelloop/runs/<id>) and an output folder');
      await selectBackend('auto');
      const { files, notes } = await exportRun(path.resolve(runDir), path.resolve(outDir));
      console.log(`Exported ${files.join(', ')} to ${path.resolve(outDir)}`);
      for (const note of notes) console.log(`note: ${printable(note)}`);
      return 0;
    }
    case 'predict':
      return predict(rest);
    case 'faces':
      return faces(rest);
    case 'check':
      return check(rest);
    case 'explain':
      return explain(rest);
    case 'web':
      await runWebMode(rest, import.meta.dirname);
      return -1; // keeps serving
    case undefined:
    case '--help':
    case 'help':
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    default:
      console.error(`Unknown command "${command}".\n\n${USAGE}`);
      return 1;
  }
}

async function train(argv: string[]): Promise<number> {
  const { positional, values } = parseFlags(argv, {
    epochs: 'number',
    batch: 'number',
    lr: 'number',
    optimizer: 'string',
    val: 'number',
    test: 'number',
    seed: 'number',
    'input-size': 'number',
    balancing: 'string',
    patience: 'number',
    backend: 'string',
    engine: 'string',
    'head-fit': 'string',
    'fine-tune-layers': 'number',
    'fine-tune-epochs': 'number',
    'fine-tune-lr': 'number',
    backbone: 'string',
    'cut-layer': 'string',
    'auto-budget': 'number',
    'cnn-size': 'number',
    'cnn-branch': 'string',
    'input-scale': 'string',
    resize: 'string',
    report: 'string',
  });
  const dir = positional[0];
  if (!dir) throw new Error('train needs a project folder: labelloop train <projectDir>');
  // The Keras-style settings mean the user wants epochs: they apply to stage 1 only then.
  const kerasSettings = ['epochs', 'lr', 'optimizer', 'batch', 'patience'].some((name) => values[name as keyof typeof values] !== undefined);
  const parsed = TrainingConfig.safeParse({
    headFit: values['head-fit'] ?? (kerasSettings ? 'epochs' : undefined),
    cnnBranch: values['cnn-branch'],
    epochs: values.epochs,
    batchSize: values.batch,
    learningRate: values.lr,
    optimizer: values.optimizer,
    val: values.val,
    test: values.test,
    seed: values.seed,
    inputSize: values['input-size'],
    balancing: values.balancing,
    backend: values.backend,
    engine: values.engine,
    // Fine-tuning needs MobileNetV2: asking for it without naming a backbone picks that one.
    backbone: backboneOption(values.backbone ?? ((values['fine-tune-layers'] ?? 0) > 0 ? 'mobilenet_v2' : undefined), { cutLayer: values['cut-layer'], autoBudget: values['auto-budget'], cnnSize: values['cnn-size'] }),
    scale: values['input-scale'],
    resize: values.resize,
    fineTuneBlocks: values['fine-tune-layers'],
    fineTuneEpochs: values['fine-tune-epochs'],
    fineTuneLearningRate: values['fine-tune-lr'],
    ...(values.patience !== undefined ? { earlyStopping: { patience: values.patience } } : {}),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`Invalid option ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const events = new EventBus();
  const project = await ProjectSession.open(dir, events, { watchIntervalMs: 0, backgroundValidation: false });
  const training = new TrainingService(events, { workerFile: path.join(import.meta.dirname, 'worker.js') });
  const printer = new ProgressPrinter(process.stdout);
  events.subscribe((event, payload) => printer.onEvent(event, payload));
  try {
    project.requireWritable('training cannot start, as a run is saved in the project');
    for (const note of ignoredBackboneFlags(parsed.data.backbone.kind, values)) console.log(`note: ${note}`);
    printEngine(await training.engine(parsed.data.backend, parsed.data.backbone.kind === 'small_cnn' ? 'none' : parsed.data.engine), (line) => console.log(line));
    const runId = await training.start(project, parsed.data);
    process.once('SIGINT', () => {
      printer.line('Cancelling…');
      training.cancel(runId);
    });
    const { status, report } = await training.whenDone(runId);
    printer.finish();
    if (status.backend) console.log(`backend: ${status.backend}`);
    console.log(`${status.ended?.reason}: ${status.ended?.message}`);
    if (status.ended?.details) console.log(`details: ${status.ended.details}`);
    if (!report) return status.state === 'cancelled' ? 130 : 1;
    console.log(`val accuracy ${report.valAccuracy === null ? 'n/a (no val split)' : `${(report.valAccuracy * 100).toFixed(1)}%`}; run folder .labelloop/runs/${runId}`);
    if (report.modelChoice) for (const line of modelChoiceLines(report.modelChoice)) console.log(line);
    if (report.cnnBranch) console.log(`CNN branch: ${report.cnnBranch.reason}`);
    if (report.accuracy) console.log(`accuracy ${describeAccuracy(report.accuracy)}`);
    if (report.labelErrorEstimate) console.log(`label errors: about ${(report.labelErrorEstimate.share * 100).toFixed(1)}% of labels look wrong (${report.labelErrorEstimate.count} of ${report.samples.length}); ${report.samples.filter((s) => s.likelyMislabeled).length} flagged in report.samples`);
    if (report.unlabeled?.length) {
      const uncertain = [...report.unlabeled].sort((a, b) => Math.max(...Object.values(a.probabilities)) - Math.max(...Object.values(b.probabilities)))[0];
      console.log(`suggested labels: ${report.unlabeled.length} unlabeled image(s) judged in report.unlabeled; least certain: ${printable(uncertain?.path ?? '')}`);
    }
    for (const skipped of report.skipped) console.log(`skipped ${printable(skipped.path)}: ${printable(skipped.reason)}`);
    if (typeof values.report === 'string') {
      await writeFile(path.resolve(values.report), JSON.stringify(report, null, 2));
      console.log(`report written to ${path.resolve(values.report)}`);
    }
    return 0;
  } finally {
    await project.close();
  }
}

/** `labelloop check`: duplicates, leakage, conflicts and quality outliers, in words and as JSON. */
async function check(argv: string[]): Promise<number> {
  const { positional, values } = parseFlags(argv, { report: 'string' });
  const dir = positional[0];
  if (!dir) throw new Error('check needs a project folder: labelloop check <projectDir> [--report check.json]');
  const project = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
  try {
    const report = await checkProject(project, {
      onProgress: ({ phase, done, total }) => {
        if (done % 500 === 0 || done === total) console.error(phase === 'measuring' ? `checked ${done}/${total} images` : `compared ${done}/${total} pairs of close neighbours`);
      },
    });
    for (const line of describeCheck(report)) console.log(printable(line));
    if (values.report) {
      await writeFile(path.resolve(values.report), JSON.stringify(report, null, 2));
      console.log(`report written to ${printable(path.resolve(values.report))}`);
    }
    return 0;
  } finally {
    await project.close();
  }
}

/** `labelloop faces`: every face found in the photos, cropped into a class (or unlabeled). */
async function faces(argv: string[]): Promise<number> {
  const { positional, values } = parseFlags(argv, { into: 'string', class: 'string', 'min-confidence': 'number', 'min-size': 'number', margin: 'number', align: 'boolean' });
  if (!values.into) throw new Error('faces needs the project to crop into: labelloop faces <photos or folders…> --into <projectDir>');
  if (positional.length === 0) throw new Error('faces needs photos or folders of photos');
  const options = faceImportOptions(values);
  const project = await ProjectSession.open(values.into, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
  try {
    if (options.className !== null && !project.snapshot().classes.includes(options.className)) throw new Error(`There is no class "${options.className}" in ${project.root} (make its folder first, or leave out --class for unlabeled)`);
    const detector = await loadFaceDetector();
    let cancelled = false;
    process.once('SIGINT', () => {
      cancelled = true;
      console.log('Cancelling after this photo: the crops saved so far are kept…');
    });
    const summary = await importFaces(project, detector, positional, options, {
      isCancelled: () => cancelled,
      onProgress: (done, total, photo) => {
        if (photo && (done % 10 === 0 || total < 20)) console.log(`photo ${done + 1}/${total}: ${printable(photo)}`);
      },
    });
    for (const line of describeFaceImport(summary)) console.log(printable(line));
    return summary.unreadable.length > 0 ? 2 : 0;
  } finally {
    await project.close();
  }
}

/** The faces flags with their defaults, each checked: a bad value is refused in words, never replaced. */
function faceImportOptions(values: { class?: string; 'min-confidence'?: number; 'min-size'?: number; margin?: number; align?: boolean }): FaceImportOptions {
  const options = {
    className: values.class ?? null,
    minConfidence: values['min-confidence'] ?? DEFAULT_FACE_IMPORT.minConfidence,
    minSize: values['min-size'] ?? DEFAULT_FACE_IMPORT.minSize,
    margin: values.margin ?? DEFAULT_FACE_IMPORT.margin,
    align: values.align ?? DEFAULT_FACE_IMPORT.align,
  };
  if (!(options.minConfidence > 0 && options.minConfidence < 1)) throw new Error('--min-confidence must lie between 0 and 1 (exclusive)');
  if (!(options.minSize >= 1)) throw new Error('--min-size must be at least 1 (pixels)');
  if (!(options.margin >= 0 && options.margin <= 2)) throw new Error('--margin must lie between 0 and 2 (a share of the face box on every side)');
  return options;
}

async function predict(argv: string[]): Promise<number> {
  const { positional, values } = parseFlags(argv, { csv: 'string', project: 'string', engine: 'string', faces: 'boolean', annotate: 'string', margin: 'number', 'min-confidence': 'number', align: 'boolean' });
  if (!values.faces && (values.annotate !== undefined || values.margin !== undefined || values['min-confidence'] !== undefined || values.align !== undefined)) {
    throw new Error('--annotate, --margin, --min-confidence and --align go with --faces');
  }
  const engine = FrozenEngine.safeParse(values.engine ?? 'auto');
  if (!engine.success) throw new Error(`Invalid option engine: expected one of ${FrozenEngine.options.join(', ')}`);
  const [source, ...inputs] = positional;
  if (!source || inputs.length === 0) throw new Error('predict needs a model (export folder, run folder or run id) and images or folders');
  const modelDir = await resolveModel(source, path.resolve(values.project ?? '.'));
  const files = (await Promise.all(inputs.map((input) => listImages(path.resolve(input))))).flat();
  if (files.length === 0) throw new Error('No images found (jpg, jpeg, png, webp, bmp, gif, tif, tiff)');
  await selectBackend('auto');
  const predictor = await loadPredictor(modelDir, { engine: engine.data });
  const { classes, preprocessing } = predictor;
  // On stderr, so that the CSV on stdout stays clean.
  console.error(`Model: ${predictor.engine.label}`);
  for (const note of predictor.engine.notUsed) console.error(`  ${note.name} not used: ${printable(note.reason)}`);
  if (values.faces) {
    const { minConfidence, margin, align } = faceImportOptions(values);
    const lines = await predictFaces(predictor, await loadFaceDetector(), files, { minConfidence, margin, align });
    await predictor.dispose();
    const csv = facePredictionsCsv(classes, lines);
    if (values.csv) await writeFile(path.resolve(values.csv), csv);
    else process.stdout.write(csv);
    if (values.annotate) {
      const outDir = path.resolve(values.annotate);
      await mkdir(outDir, { recursive: true });
      const written = new Set<string>();
      for (const file of files) {
        const own = lines.filter((l) => l.file === file);
        if (own.some((l) => l.error && l.face === null && l.error !== NO_FACE)) continue;
        const name = annotationName(file, written);
        await annotatePhoto(file, own, classes, path.join(outDir, name));
      }
      console.error(`${written.size} annotated photo(s) written to ${outDir}`);
    }
    const summary = `${files.length} photo(s), ${lines.filter((l) => l.face !== null).length} face(s)`;
    console.error(values.csv ? `${summary}: predictions written to ${path.resolve(values.csv)}` : summary);
    for (const line of lines.filter((l) => l.error)) console.error(`${line.error === NO_FACE ? 'no face' : 'unreadable'}: ${printable(line.file)}${line.error === NO_FACE ? '' : `: ${printable(line.error ?? '')}`}`);
    return lines.some((l) => l.error && l.error !== NO_FACE) ? 2 : 0;
  }
  // predictFiles batches internally and keeps going past unreadable files.
  const outcomes = await predictor.predict(files);
  await predictor.dispose();
  const lines: PredictionLine[] = outcomes.map((outcome, k) => ({
    file: files[k] as string,
    predicted: outcome.probabilities && decideLabel(outcome.probabilities, classes, preprocessing.threshold),
    ...outcome,
  }));
  const csv = predictionsCsv(classes, lines);
  if (values.csv) {
    await writeFile(path.resolve(values.csv), csv);
    console.log(`${files.length} prediction(s) written to ${path.resolve(values.csv)}`);
  } else {
    process.stdout.write(csv);
  }
  const failed = lines.filter((l) => l.error);
  for (const line of failed) console.error(`unreadable: ${printable(line.file)}: ${printable(line.error ?? '')}`);
  return failed.length > 0 ? 2 : 0;
}

async function explain(argv: string[]): Promise<number> {
  const { positional, values } = parseFlags(argv, { out: 'string', class: 'string', 'per-image-scale': 'boolean', opacity: 'number', project: 'string' });
  const [source, ...inputs] = positional;
  if (!source || inputs.length === 0) throw new Error('explain needs a model (run folder, export folder or run id) and images or folders');
  if (!values.out) throw new Error('explain needs --out DIR for the overlays and heatmaps.json');
  const opacity = values.opacity ?? 0.5;
  if (!(opacity >= 0 && opacity <= 1)) throw new Error('--opacity must lie between 0 and 1');
  const modelDir = await resolveModel(source, path.resolve(values.project ?? '.'));
  const files = (await Promise.all(inputs.map((input) => listImages(path.resolve(input))))).flat();
  if (files.length === 0) throw new Error('No images found (jpg, jpeg, png, webp, bmp, gif, tif, tiff)');
  await selectBackend('auto');
  const result = await explainFiles(modelDir, files, { className: values.class, scale: values['per-image-scale'] ? 'per-image' : 'shared' });
  const outDir = path.resolve(values.out);
  await mkdir(outDir, { recursive: true });
  const names = await writeOverlays(result.entries, result.preprocessing.resize, outDir, opacity);
  await writeFile(path.join(outDir, 'heatmaps.json'), JSON.stringify(result.entries, null, 1));
  const how = result.method === 'cam' ? 'class activation maps (the head on the last feature maps)' : 'Grad-CAM (the last feature map weighted by the class gradient)';
  console.log(`${result.entries.length} heatmap(s) of ${how}, scaled ${values['per-image-scale'] ? 'per image' : 'across the images'}, written to ${outDir} (${names.length} overlays and heatmaps.json)`);
  for (const u of result.unreadable) console.error(`unreadable: ${printable(u.file)}: ${printable(u.reason)}`);
  return result.unreadable.length > 0 ? 2 : 0;
}

/** "Backbone: … · Training: …" before a run starts, and why each faster engine is not used. */
function printEngine(info: EngineInfo, print: (line: string) => void): void {
  print(engineLine(info));
  for (const note of [...info.backbone.notUsed, ...info.notUsed]) print(`  ${note.name} not used: ${printable(note.reason)}`);
}

/** A folder as given, or a run id of the project (`--project`, default: the current folder). */
async function resolveModel(source: string, projectDir: string): Promise<string> {
  const asPath = path.resolve(source);
  if (await stat(asPath).catch(() => null)) return asPath;
  if (RUN_ID.test(source)) {
    const runDir = path.join(projectDir, DATA_DIR, 'runs', source);
    if (await isRunFolder(runDir)) return runDir;
    throw new Error(`No trained run ${source} in ${projectDir} (use --project DIR, or give the run or export folder)`);
  }
  throw new Error(`${asPath} does not exist`);
}

async function listImages(target: string): Promise<string[]> {
  const info = await stat(target).catch(() => {
    throw new Error(`${target} does not exist`);
  });
  if (info.isFile()) return [target];
  const entries = await readdir(target, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && isImageName(e.name)).map((e) => path.join(e.parentPath ?? e.path, e.name)).sort();
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`labelloop: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);


/** Auto's table: each candidate's inner-fold score, or why it was skipped, and the winner. */
function modelChoiceLines(choice: ModelChoice): string[] {
  const rows = choice.candidates.map((c) =>
    c.skipped === null
      ? `  ${c.backbone === choice.chosen ? '*' : ' '} ${c.backbone.padEnd(20)} held-out accuracy ${((c.accuracy ?? 0) * 100).toFixed(1).padStart(5)}%  log-loss ${(c.logLoss ?? 0).toFixed(3)}  ${c.seconds.toFixed(1)} s${c.note ? `  (${c.note})` : ''}`
      : `    ${c.backbone.padEnd(20)} skipped: ${c.skipped}`,
  );
  return [`model choice (Auto, ${choice.probeImages} train images; backbones by inner folds, the small CNN on a held-out third):`, ...rows, `chose ${choice.chosen}: ${choice.reason}`];
}
