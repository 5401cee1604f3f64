// Run as a child process by the kill -9 stress test: opens a project's journal and relabels, undoes
// and redoes at random, as fast as it can, until it is killed. Prints "ready" once it is open.
// It drives the journal, not ProjectSession, so that it starts without loading sharp.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { PathConfinement } from '../../src/main/project/confine';
import { LabelJournal } from '../../src/main/project/journal';

/** Class folders and the images in them and in the root, skipping hidden entries such as .labelloop. */
async function listProject(root: string): Promise<{ classes: string[]; images: string[] }> {
  const classes = (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  const images: string[] = [];
  for (const folder of ['', ...classes]) {
    for (const name of await readdir(path.join(root, folder))) {
      if (name.endsWith('.jpg') && !name.startsWith('.')) images.push(folder ? `${folder}/${name}` : name);
    }
  }
  return { classes, images };
}

const [root, seedText] = process.argv.slice(2);
if (!root) throw new Error('usage: relabelDriver <projectDir> <seed>');
let state = Number(seedText ?? 1) >>> 0 || 1;
// xorshift32: each trial its own repeatable sequence of steps.
const random = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32;
};

const confinement = await PathConfinement.create(root);
const journal = new LabelJournal(confinement, path.join(root, '.labelloop'));
await journal.open();
process.stdout.write('ready\n');
for (;;) {
  const { classes, images } = await listProject(root);
  const roll = random();
  if (roll < 0.15 && journal.history.canUndo) await journal.undo();
  else if (roll < 0.25 && journal.history.canRedo) await journal.redo();
  else {
    const targets = [...classes, ''];
    const to = targets[Math.floor(random() * targets.length)] ?? '';
    await journal.relabel(images.filter(() => random() < 0.3), to);
  }
}
