// What a relabel may move (only the project's image files) and how two at once share a class folder.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../src/main/common/events';
import type { CrashPoints } from '../../../../src/main/project/journal';
import { ProjectSession } from '../../../../src/main/project/project';
import { jpeg, makeProject, tempDir, writeJpeg } from '../../../helpers/fixtures';
import { contentByPath, contentHashes } from '../../../helpers/inventory';

describe('relabel', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  const open = (crashPoints?: CrashPoints) =>
    ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false, crashPoints });

  beforeEach(async () => {
    ({ dir: root, cleanup } = await tempDir());
    await makeProject(root);
  });
  afterEach(() => cleanup());

  it('moves only image files of the project: never .labelloop, a folder, a hidden or a non-image file', async () => {
    await writeFile(path.join(root, 'OK/notes.txt'), 'not an image');
    await writeJpeg(path.join(root, 'OK/.hidden.jpg'));
    const project = await open();
    await project.relabel(['NG/d.jpg'], 'OK'); // something in the journal worth keeping
    const before = await contentByPath(root);
    const journal = await readFile(path.join(root, '.labelloop/journal.jsonl'), 'utf8');

    const result = await project.relabel(['.labelloop/journal.jsonl', 'NG', 'OK/day1', '.', 'OK/notes.txt', 'OK/.hidden.jpg', 'OK/./../NG/a.jpg'], 'OK');
    expect(result.moves).toEqual([]);
    expect(Object.fromEntries(result.failed.map((f) => [f.path, f.message]))).toEqual({
      '.labelloop/journal.jsonl': expect.stringMatching(/hidden or inside LabelLoop's \.labelloop folder/),
      NG: expect.stringMatching(/NG is a folder: only image files can be relabeled/),
      'OK/day1': expect.stringMatching(/is a folder/),
      '.': expect.stringMatching(/is the project folder/),
      'OK/notes.txt': expect.stringMatching(/not an image file/),
      'OK/.hidden.jpg': expect.stringMatching(/hidden/),
      'OK/./../NG/a.jpg': expect.stringMatching(/leaves the project/),
    });
    expect(await contentByPath(root)).toEqual(before);
    expect(await readdir(path.join(root, 'NG'))).toEqual(['a.jpg']);
    expect(await readFile(path.join(root, '.labelloop/journal.jsonl'), 'utf8')).toBe(journal);
    // The journal is still where it belongs and still undoes.
    await project.undo();
    expect((await contentByPath(root)).has('NG/d.jpg')).toBe(true);
    await project.close();
  });

  it('accepts the same image named two ways once, by its plain path', async () => {
    const project = await open();
    const result = await project.relabel(['OK/a.jpg', 'OK//a.jpg', './OK/a.jpg'], 'NG');
    expect(result).toMatchObject({ moves: [{ from: 'OK/a.jpg', to: 'NG/a (2).jpg' }], failed: [] });
    await project.close();
  });

  it('two clients moving same-named files into one class at once both succeed, under distinct names', async () => {
    for (const folder of ['A', 'B', 'C']) await writeJpeg(path.join(root, folder, 'same_000.jpg'), folder === 'A' ? '#a00' : folder === 'B' ? '#0b0' : '#00c');
    const hashes = await contentHashes(root);
    const project = await open();
    const results = await Promise.all(['A', 'B', 'C'].map((folder) => project.relabel([`${folder}/same_000.jpg`], 'OK')));
    expect(results.flatMap((r) => r.failed)).toEqual([]);
    expect(results.map((r) => r.moves[0]?.to).sort()).toEqual(['OK/same_000 (2).jpg', 'OK/same_000 (3).jpg', 'OK/same_000.jpg']);
    expect(await contentHashes(root)).toEqual(hashes);
    await project.close();
  });

  it('a name taken between planning and moving gets the next free one, recorded so undo and recovery find it', async () => {
    const stranger = await jpeg('#123');
    const takeTheName: CrashPoints = { afterBegin: () => writeFileSync(path.join(root, 'NG/d (2).jpg'), stranger) };
    await writeJpeg(path.join(root, 'OK/d.jpg'), '#777');
    let project = await open(takeTheName);
    const result = await project.relabel(['OK/d.jpg'], 'NG');
    expect(result).toMatchObject({ moves: [{ from: 'OK/d.jpg', to: 'NG/d (3).jpg' }], failed: [] });
    await project.close();

    project = await open();
    await project.undo();
    const files = await contentByPath(root);
    expect(files.has('OK/d.jpg')).toBe(true);
    expect(files.has('NG/d (3).jpg')).toBe(false);
    expect(files.has('NG/d (2).jpg')).toBe(true); // the stranger stays
    await project.close();
  });

  it('rolls back a crash after a retargeted move, finding the file under its new name', async () => {
    const stranger = await jpeg('#123');
    await writeJpeg(path.join(root, 'OK/d.jpg'), '#777');
    const before = await contentByPath(root);
    const crashing = await open({
      afterBegin: () => writeFileSync(path.join(root, 'NG/d (2).jpg'), stranger),
      afterMove: () => {
        throw new Error('simulated crash');
      },
    });
    await expect(crashing.relabel(['OK/d.jpg'], 'NG')).rejects.toThrow(/simulated crash/);
    expect((await contentByPath(root)).has('NG/d (3).jpg')).toBe(true);
    const project = await open();
    expect(project.snapshot().recovered[0]).toMatch(/rolled back \(1 moved back\)/);
    const after = await contentByPath(root);
    after.delete('NG/d (2).jpg');
    expect(after).toEqual(before);
    await project.close();
    await crashing.close();
  });
});
