// A full or failing disk at every single write of a relabel, an undo and a class rename: the step is
// refused with nothing moved (or finished on the next open), and every image exists exactly once.
import { existsSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { appendFile, cp, readdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../../src/main/common/errors';
import { EventBus } from '../../../../src/main/common/events';
import { ProjectSession } from '../../../../src/main/project/project';
import { TRASH_DIR } from '../../../../src/shared/images';
import { type FaultCode, FaultyFs } from '../../../helpers/faultyFs';
import { jpeg, makeProject, tempDir } from '../../../helpers/fixtures';
import { contentByPath, contentHashes } from '../../../helpers/inventory';

interface Scenario {
  name: string;
  /** Run with a healthy disk before the fault is armed. */
  setup(project: ProjectSession): Promise<unknown>;
  step(project: ProjectSession): Promise<unknown>;
  /** What a refusal says when the disk is full. */
  fullDisk: RegExp;
}

const scenarios: Scenario[] = [
  {
    name: 'a relabel',
    setup: async () => undefined,
    // OK/a.jpg collides with NG/a.jpg, so one of the three gets a " (2)" name.
    step: (project) => project.relabel(['OK/a.jpg', 'OK/b.JPG', 'loose.jpg'], 'NG'),
    fullDisk: /^The disk is full: nothing was moved$/,
  },
  {
    name: 'a trash (the data check keeping one of a group)',
    setup: async () => undefined,
    // Two same-named images of two classes, and an unlabeled one, into the trash's class folders.
    step: (project) => project.trash(['OK/a.jpg', 'NG/a.jpg', 'loose.jpg']),
    fullDisk: /^The disk is full: nothing was moved$/,
  },
  {
    name: 'an undo of a trash',
    setup: (project) => project.trash(['OK/a.jpg', 'NG/a.jpg', 'loose.jpg']),
    step: (project) => project.undo(),
    fullDisk: /^The disk is full: nothing was moved$/,
  },
  {
    name: 'an undo',
    setup: (project) => project.relabel(['OK/a.jpg', 'OK/b.JPG', 'loose.jpg'], 'NG'),
    step: (project) => project.undo(),
    fullDisk: /^The disk is full: nothing was moved$/,
  },
  {
    name: 'a class rename',
    setup: (project) => project.relabel(['OK/a.jpg', 'loose.jpg'], 'NG'),
    step: (project) => project.renameClass('NG', 'Bad'),
    fullDisk: /^The disk is full: "NG" was not renamed$/,
  },
];

const open = (root: string, fs?: FaultyFs['fs']) => ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false, fs });

describe('a full or failing disk at every write', () => {
  let base: string;
  let template: string;
  let original: string[];
  let cleanup: () => Promise<void>;
  let trial = 0;

  beforeAll(async () => {
    ({ dir: base, cleanup } = await tempDir());
    template = path.join(base, 'template');
    await makeProject(template);
    original = await contentHashes(template);
  });
  afterAll(() => cleanup());

  const freshProject = async () => {
    const root = path.join(base, `trial-${++trial}`);
    await cp(template, root, { recursive: true });
    return root;
  };

  /** Every image's content, in the project's folders and in its trash: equal lists mean every image exists exactly once. */
  const everyContent = async (root: string) => {
    const trash = path.join(root, TRASH_DIR);
    return [...(await contentByPath(root)).values(), ...(existsSync(trash) ? (await contentByPath(trash)).values() : [])].sort();
  };

  /** After reopening on a healthy disk: recovery left no doubt, and undo/redo walk all of history. */
  const expectHealthyAfterReopen = async (root: string) => {
    const project = await open(root);
    expect(project.readOnly).toBeNull();
    expect(project.snapshot().recovered.join('\n')).not.toMatch(/Could not|not completely|Kept both|missing/);
    expect(await everyContent(root)).toEqual(original);
    while (project.snapshot().history.canUndo) expect((await project.undo()).failed).toEqual([]);
    expect(await contentHashes(root)).toEqual(original);
    while (project.snapshot().history.canRedo) expect((await project.redo()).failed).toEqual([]);
    expect(await everyContent(root)).toEqual(original);
    await project.close();
    const journal = await readFile(path.join(root, '.labelloop/journal.jsonl'), 'utf8');
    // Empty, or whole lines only.
    expect(journal === '' || journal.endsWith('\n')).toBe(true);
    for (const line of journal.split('\n').slice(0, -1)) expect(() => JSON.parse(line)).not.toThrow();
  };

  const cases = [...scenarios.map((scenario) => ({ scenario, crossDevice: false })), { scenario: scenarios[0] as Scenario, crossDevice: true }];
  for (const { scenario, crossDevice } of cases) {
    const title = `${scenario.name}${crossDevice ? ' across file systems (copy, sync, link, delete)' : ''}`;
    it(`${title}: each write failing with ENOSPC or EIO, once or from then on`, async () => {
      // A healthy run counts the writes the step makes: each one gets its turn to fail.
      const counting = new FaultyFs();
      counting.crossDevice = crossDevice;
      const dry = await open(await freshProject(), counting.fs);
      await scenario.setup(dry);
      counting.count();
      await scenario.step(dry);
      const writes = counting.writes;
      await dry.close();
      expect(writes).toBeGreaterThan(2);

      for (let n = 1; n <= writes; n++) {
        for (const code of ['ENOSPC', 'EIO'] as FaultCode[]) {
          for (const persistent of [false, true]) {
            const where = `${title}, ${code} at write ${n}${persistent ? ' and after' : ''}`;
            const root = await freshProject();
            const faulty = new FaultyFs();
            faulty.crossDevice = crossDevice;
            const project = await open(root, faulty.fs);
            await scenario.setup(project);
            const before = await contentByPath(root);
            faulty.arm(n, code, persistent);
            const error = await scenario.step(project).then(
              () => null,
              (e: unknown) => e,
            );
            const message = error instanceof Error ? error.message : '';
            if (error === null) {
              // Only a copy's best-effort writes may fail unseen (a directory fsync, removing the hidden
              // partial file): the step is then done.
              expect(crossDevice, where).toBe(true);
              expect(await contentHashes(root), where).toEqual(original);
            } else if (project.readOnly === null) {
              expect(error, where).toBeInstanceOf(UserError);
              // Refused cleanly: nothing moved, and the journal takes the next step.
              expect(message, where).toMatch(code === 'ENOSPC' ? scenario.fullDisk : /input\/output error \(EIO\)/);
              expect(await contentByPath(root), where).toEqual(before);
            } else {
              // The disk failed the clean-up too: the project stops taking changes until reopened.
              expect(error, where).toBeInstanceOf(UserError);
              expect(message, where).toMatch(/reopen the project/);
              await expect(project.relabel(['NG/d.jpg'], 'OK'), where).rejects.toThrow(/cannot be relabeled/);
            }
            faulty.heal();
            await project.close();
            await expectHealthyAfterReopen(root);
          }
        }
      }
    });
  }

  it('an import, each write failing with ENOSPC or EIO, once or from then on: imported exactly once, or not at all and said so', async () => {
    const image = await jpeg('#abcdef');
    const imageHash = createHash('sha256').update(image).digest('hex');
    const counting = new FaultyFs();
    const dry = await open(await freshProject(), counting.fs);
    counting.count();
    expect((await dry.importFile('OK', 'new.jpg', image)).imported).toEqual(['OK/new.jpg']);
    const writes = counting.writes;
    await dry.close();
    // Open, write and sync the hidden partial file, link it into place, remove the partial name.
    expect(writes).toBe(5);

    for (let n = 1; n <= writes; n++) {
      for (const code of ['ENOSPC', 'EIO'] as FaultCode[]) {
        for (const persistent of [false, true]) {
          const where = `import, ${code} at write ${n}${persistent ? ' and after' : ''}`;
          const root = await freshProject();
          const faulty = new FaultyFs();
          const project = await open(root, faulty.fs);
          const before = await contentByPath(root);
          faulty.arm(n, code, persistent);
          const result = await project.importFile('OK', 'new.jpg', image);
          faulty.heal();
          const copies = (await contentHashes(root)).filter((hash) => hash === imageHash).length;
          if (result.imported.length > 0) {
            expect(result, where).toEqual({ imported: ['OK/new.jpg'], duplicates: [], rejected: [] });
            expect(copies, where).toBe(1);
            expect(project.snapshot().items.map((item) => item.path), where).toContain('OK/new.jpg');
          } else {
            const reason = code === 'ENOSPC' ? 'The disk is full' : 'The disk reported an input/output error (EIO)';
            expect(result, where).toEqual({ imported: [], duplicates: [], rejected: [{ name: 'new.jpg', message: `${reason}: new.jpg was not imported` }] });
            expect(await contentByPath(root), where).toEqual(before);
          }
          expect(project.readOnly, where).toBeNull();
          await project.close();
          // A partial name the failed write left behind goes on the next open.
          await (await open(root)).close();
          expect(await readdir(path.join(root, 'OK')), where).not.toContainEqual(expect.stringMatching(/labelloop-partial$/));
        }
      }
    }
  });

  it('an image another program holds open (Windows, no delete sharing) is never left in two classes', async () => {
    const root = await freshProject();
    const faulty = new FaultyFs();
    const project = await open(root, faulty.fs);
    const before = await contentByPath(root);
    // Linking to OK/ works; removing NG/d.jpg fails, and so does removing the new name OK/d.jpg.
    await faulty.holdOpen(path.join(root, 'NG/d.jpg'));
    await expect(project.relabel(['OK/a.jpg', 'NG/d.jpg'], 'OK')).rejects.toThrow(
      /^Another program holds d\.jpg open \(EBUSY\), so it could not be moved in the middle of a relabel, .*reopen the project.*: no image is lost\. Could not restore NG\/d\.jpg: OK\/d\.jpg is in use by another program$/,
    );
    expect(project.readOnly).toMatch(/reopen the project/);
    await project.close();

    // The program let go: reopening finishes the rollback, and every image is in one place only.
    faulty.release();
    const reopened = await open(root, faulty.fs);
    expect(reopened.snapshot().recovered.join('\n')).toMatch(/interrupted relabel of 1 image\(s\) was rolled back\./);
    expect(await contentByPath(root)).toEqual(before);
    await reopened.close();
    await expectHealthyAfterReopen(root);
  });

  it('a refused relabel says what taking it back found: a file put at the old name meanwhile is kept beside the image', async () => {
    const root = await freshProject();
    const faulty = new FaultyFs();
    const stranger = Buffer.from('another file, written while the relabel ran');
    const project = await ProjectSession.open(root, new EventBus(), {
      watchIntervalMs: 0,
      backgroundValidation: false,
      fs: faulty.fs,
      crashPoints: {
        afterMove: () => {
          writeFileSync(path.join(root, 'NG/d.jpg'), stranger);
          faulty.arm(1, 'ENOSPC', false); // the commit
        },
      },
    });
    await expect(project.relabel(['NG/d.jpg'], 'OK')).rejects.toThrow(
      /^The disk is full: nothing was moved\. Kept both NG\/d\.jpg and OK\/d\.jpg: they differ, so neither was removed$/,
    );
    expect(project.readOnly).toBeNull();
    expect(await readFile(path.join(root, 'NG/d.jpg'))).toEqual(stranger);
    await project.close();
  });

  it('a held image whose new name could be removed is refused cleanly, with nothing moved', async () => {
    const root = await freshProject();
    const faulty = new FaultyFs();
    const project = await open(root, faulty.fs);
    const before = await contentByPath(root);
    // Only the old name is locked (a copy across disks is a different file): the move undoes itself.
    faulty.crossDevice = true;
    await faulty.holdOpen(path.join(root, 'NG/d.jpg'));
    const result = await project.relabel(['NG/d.jpg'], 'OK');
    expect(result.moves).toEqual([]);
    expect(result.failed).toEqual([{ path: 'NG/d.jpg', message: 'NG/d.jpg is in use by another program' }]);
    expect(project.readOnly).toBeNull();
    expect(await contentByPath(root)).toEqual(before);
    await project.close();
  });

  it('a relabel of 100 images on a full disk leaves the journal byte for byte as it was', async () => {
    const root = await freshProject();
    const { writeJpeg } = await import('../../../helpers/fixtures');
    const names: string[] = [];
    for (let i = 0; i < 100; i++) names.push(`many_${String(i).padStart(3, '0')}.jpg`);
    await Promise.all(names.map((name, i) => writeJpeg(path.join(root, 'OK', name), `#${(i * 2).toString(16).padStart(2, '0')}0000`)));
    const faulty = new FaultyFs();
    const project = await open(root, faulty.fs);
    await project.relabel(['NG/d.jpg'], 'OK');
    const journal = path.join(root, '.labelloop/journal.jsonl');
    const journalBefore = await readFile(journal);
    const before = await contentByPath(root);

    faulty.arm(1, 'ENOSPC', true);
    await expect(project.relabel(names.map((n) => `OK/${n}`), 'NG')).rejects.toThrow(/^The disk is full: nothing was moved$/);
    expect(await readFile(journal)).toEqual(journalBefore);
    expect(await contentByPath(root)).toEqual(before);

    // Space freed: the next relabel and its undo touch exactly the steps they should.
    faulty.heal();
    await project.relabel(['OK/a.jpg'], 'NG');
    await project.undo();
    expect(await contentByPath(root)).toEqual(before);
    await project.undo(); // the first relabel, NG/d.jpg → OK
    expect((await contentByPath(root)).has('NG/d.jpg')).toBe(true);
    await project.close();
  });

  it('a write the disk takes only half of (then ENOSPC or EIO) is cut back: the journal stays byte for byte as it was', async () => {
    for (const code of ['ENOSPC', 'EIO'] as const) {
      const root = await freshProject();
      const faulty = new FaultyFs();
      const project = await open(root, faulty.fs);
      await project.relabel(['NG/d.jpg'], 'OK');
      const journal = path.join(root, '.labelloop/journal.jsonl');
      const journalBefore = await readFile(journal);
      const before = await contentByPath(root);
      // The first write of the relabel is its begin record: half of it lands, then the disk fails.
      faulty.arm(1, code, code === 'ENOSPC', { short: true });
      await expect(project.relabel(['OK/a.jpg', 'OK/b.jpg'], 'NG')).rejects.toThrow(code === 'ENOSPC' ? /^The disk is full: nothing was moved$/ : /nothing was moved/);
      expect(await readFile(journal), code).toEqual(journalBefore);
      expect(await contentByPath(root), code).toEqual(before);
      faulty.heal();
      await project.relabel(['OK/a.jpg'], 'NG');
      await project.undo();
      expect(await contentByPath(root), code).toEqual(before);
      await project.close();
      // A restart finds no torn line and the same history.
      const reopened = await open(root);
      expect(reopened.snapshot().recovered, code).toEqual([]);
      await reopened.undo(); // the first relabel, NG/d.jpg → OK
      expect((await contentByPath(root)).has('NG/d.jpg'), code).toBe(true);
      await reopened.close();
    }
  });

  it('cuts a torn last record away on open, so the next record starts on a line of its own', async () => {
    const root = await freshProject();
    let project = await open(root);
    await project.relabel(['OK/a.jpg'], 'NG');
    await project.close();
    const journal = path.join(root, '.labelloop/journal.jsonl');
    const whole = (await stat(journal)).size;
    await appendFile(journal, '{"t":"begin","id":"torn","kind":"do","mo');

    project = await open(root);
    expect(project.snapshot().recovered.join('\n')).toMatch(/last entry was cut off/);
    expect((await stat(journal)).size).toBe(whole);
    await project.relabel(['OK/b.JPG'], 'NG');
    await project.close();

    project = await open(root);
    expect(project.snapshot().recovered).toEqual([]);
    await project.undo();
    expect((await contentByPath(root)).has('OK/b.JPG')).toBe(true);
    await project.undo();
    expect((await contentByPath(root)).has('OK/a.jpg')).toBe(true);
    await project.close();
  });

  it('reads a journal that an older version appended to a torn line, keeping the record at its end', async () => {
    const root = await freshProject();
    let project = await open(root);
    await project.relabel(['OK/a.jpg'], 'NG');
    await project.close();
    // What the old append did: a torn begin, then the next relabel's records, the first on the same line.
    const move = { from: 'NG/d.jpg', to: 'OK/d.jpg' };
    await appendFile(
      path.join(root, '.labelloop/journal.jsonl'),
      '{"t":"begin","id":"torn","kind":"do","mo' +
        `${JSON.stringify({ t: 'begin', id: 'later', kind: 'do', moves: [move], at: '' })}\n${JSON.stringify({ t: 'commit', id: 'later', failed: [] })}\n`,
    );
    await rename(path.join(root, move.from), path.join(root, move.to));

    project = await open(root);
    expect(project.snapshot().recovered.join('\n')).toMatch(/Skipped 1 damaged line/);
    await project.undo();
    expect((await contentByPath(root)).has('NG/d.jpg')).toBe(true);
    await project.close();
  });
});
