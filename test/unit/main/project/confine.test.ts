import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PathConfinement, isInside } from '../../../../src/main/project/confine';
import { tempDir } from '../../../helpers/fixtures';

describe('PathConfinement', () => {
  let root: string;
  let outside: string;
  let cleanups: (() => Promise<void>)[] = [];
  let confinement: PathConfinement;

  beforeEach(async () => {
    const a = await tempDir();
    const b = await tempDir();
    cleanups = [a.cleanup, b.cleanup];
    root = a.dir;
    outside = b.dir;
    await mkdir(path.join(root, 'OK'));
    await writeFile(path.join(root, 'OK/in.jpg'), 'x');
    await writeFile(path.join(outside, 'secret.jpg'), 'secret');
    await symlink(path.join(outside, 'secret.jpg'), path.join(root, 'OK/link-out.jpg'));
    await symlink(outside, path.join(root, 'OK/dir-out'));
    await symlink(path.join(root, 'OK/in.jpg'), path.join(root, 'OK/link-in.jpg'));
    confinement = await PathConfinement.create(root);
  });
  afterEach(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  it('resolves plain relative paths inside the project', async () => {
    expect(await confinement.existing('OK/in.jpg')).toBe(path.join(root, 'OK/in.jpg'));
    expect(confinement.lexical('OK/./in.jpg')).toBe(path.join(root, 'OK/in.jpg'));
  });

  it.each(['../secret.jpg', 'OK/../../secret.jpg', '..', 'OK\\..\\..\\x'])('refuses %s', (p) => {
    expect(() => confinement.lexical(p)).toThrow(/leaves the project/);
  });

  it('refuses absolute paths, drive letters and NUL bytes', () => {
    expect(() => confinement.lexical('/etc/passwd')).toThrow(/Absolute/);
    expect(() => confinement.lexical(path.join(outside, 'secret.jpg'))).toThrow(/Absolute/);
    expect(() => confinement.lexical('C:/Windows/x.jpg')).toThrow(/Absolute/);
    expect(() => confinement.lexical('OK/a\0.jpg')).toThrow(/NUL/);
  });

  it('refuses symlinks that point out of the project, file or folder', async () => {
    await expect(confinement.existing('OK/link-out.jpg')).rejects.toThrow(/outside the project/);
    await expect(confinement.existing('OK/dir-out/secret.jpg')).rejects.toThrow(/outside the project/);
    await expect(confinement.creatable('OK/dir-out/new.jpg')).rejects.toThrow(/outside the project/);
  });

  it('allows symlinks that stay inside', async () => {
    expect(await confinement.existing('OK/link-in.jpg')).toBe(path.join(root, 'OK/link-in.jpg'));
  });

  it('reports a missing file as not found, not as an escape', async () => {
    await expect(confinement.existing('OK/none.jpg')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('isInside does not confuse a sibling whose name starts with ..', () => {
    expect(isInside('/p', '/p/..foo/x')).toBe(true);
    expect(isInside('/p', '/p2/x')).toBe(false);
    expect(isInside('/p', '/p')).toBe(true);
  });
});
