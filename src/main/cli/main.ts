// `npx labelloop <command>`: the same services as the app, without a window.
import path from 'node:path';
import { generateDemoProject } from '../services/demo';
import { EventBus } from '../services/events';
import { ProjectSession } from '../services/project';
import { writeFile } from 'node:fs/promises';
import { TrainingConfig } from '../../shared/contract';
import { TrainingService } from '../training/session';
import { runWebMode } from '../web/run';
import { ProgressPrinter } from './progress';
import { appVersion, parseFlags } from './flags';

const USAGE = `LabelLoop ${appVersion}

Usage:
  labelloop demo [dir] [--per-class N] [--seed N] [--size PX]   make the synthetic faces project (default ./labelloop-demo)
  labelloop scan <projectDir>                                  count images per class and list unreadable files
  labelloop web [--port N] [--project DIR]                     serve the app to a browser on 127.0.0.1
  labelloop train <projectDir> [--epochs N] [--batch N] [--lr X] [--optimizer sgd|adam|rmsprop]
                  [--val 0.2] [--test 0] [--seed N] [--input-size 96|128|160|192|224]
                  [--balancing none|oversample|class-weights] [--patience N]
                  [--backend auto|tensorflow|wasm|cpu] [--report report.json]
                  [--fine-tune-layers 0-4 (top MobileNetV2 blocks)] [--fine-tune-epochs N] [--fine-tune-lr X]
                  [--backbone model.json|URL [--cut-layer NAME]] [--input-scale 0,1|-1,1]
                  [--resize stretch|center-crop|pad]
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
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
      for (const line of snapshot.recovered) console.log(`recovered: ${line}`);
      for (const warning of snapshot.warnings) console.log(`warning: ${warning}`);
      const counts = new Map<string, number>();
      for (const item of snapshot.items) counts.set(item.label ?? '(unlabeled)', (counts.get(item.label ?? '(unlabeled)') ?? 0) + 1);
      console.log(`${snapshot.name}: ${snapshot.items.length} images in ${snapshot.classes.length} classes`);
      for (const name of [...snapshot.classes, '(unlabeled)']) if (counts.has(name) || name !== '(unlabeled)') console.log(`  ${name.padEnd(20)} ${counts.get(name) ?? 0}`);
      const unreadable = snapshot.items.filter((i) => i.status === 'unreadable');
      for (const item of unreadable) console.log(`unreadable: ${item.path}: ${item.problem}`);
      return unreadable.length > 0 ? 2 : 0;
    }
    case 'train':
      return train(rest);
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
    'fine-tune-layers': 'number',
    'fine-tune-epochs': 'number',
    'fine-tune-lr': 'number',
    backbone: 'string',
    'cut-layer': 'string',
    'input-scale': 'string',
    resize: 'string',
    report: 'string',
  });
  const dir = positional[0];
  if (!dir) throw new Error('train needs a project folder: labelloop train <projectDir>');
  const parsed = TrainingConfig.safeParse({
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
    backbone: values.backbone ? { kind: 'keras', source: values.backbone, cutLayer: values['cut-layer'] } : undefined,
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
  const training = new TrainingService(events, { workerFile: path.join(import.meta.dirname, 'trainWorker.js') });
  const printer = new ProgressPrinter(process.stdout);
  events.subscribe((event, payload) => printer.onEvent(event, payload));
  try {
    const runId = await training.start(project, parsed.data);
    process.once('SIGINT', () => {
      printer.line('Cancelling…');
      training.cancel(runId);
    });
    const { status, report } = await training.whenDone(runId);
    printer.finish();
    if (status.backend) console.log(`backend: ${status.backend}`);
    console.log(`${status.ended?.reason}: ${status.ended?.message}`);
    if (!report) return status.state === 'cancelled' ? 130 : 1;
    console.log(`val accuracy ${report.valAccuracy === null ? 'n/a (no val split)' : `${(report.valAccuracy * 100).toFixed(1)}%`}; run folder .labelloop/runs/${runId}`);
    for (const skipped of report.skipped) console.log(`skipped ${skipped.path}: ${skipped.reason}`);
    if (typeof values.report === 'string') {
      await writeFile(path.resolve(values.report), JSON.stringify(report, null, 2));
      console.log(`report written to ${path.resolve(values.report)}`);
    }
    return 0;
  } finally {
    await project.close();
  }
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
