// `npx labelloop <command>`: the same services as the app, without a window.
import path from 'node:path';
import { generateDemoProject } from '../services/demo';
import { EventBus } from '../services/events';
import { ProjectSession } from '../services/project';
import { runWebMode } from '../web/run';
import { appVersion, parseFlags } from './flags';

const USAGE = `LabelLoop ${appVersion}

Usage:
  labelloop demo [dir] [--per-class N] [--seed N] [--size PX]   make the synthetic faces project (default ./labelloop-demo)
  labelloop scan <projectDir>                                  count images per class and list unreadable files
  labelloop web [--port N] [--project DIR]                     serve the app to a browser on 127.0.0.1
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
    case 'web':
      await runWebMode(rest, path.join(import.meta.dirname, '../renderer'));
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

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`labelloop: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
