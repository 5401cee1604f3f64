// Every path the renderer names is relative to the open project and must stay inside it,
// symlinks included: this is the one gate all services pass paths through.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { UserError, errnoCode } from '../common/errors';

export class PathConfinement {
  private constructor(
    readonly root: string,
    private readonly realRoot: string,
  ) {}

  static async create(root: string): Promise<PathConfinement> {
    const absolute = path.resolve(root);
    return new PathConfinement(absolute, await realpath(absolute));
  }

  /** Resolves a project-relative path lexically, refusing absolute paths and any `..` escape. */
  lexical(relative: string): string {
    if (typeof relative !== 'string' || relative.length === 0) throw new UserError('bad-path', 'Empty path');
    if (relative.includes('\0')) throw new UserError('bad-path', 'Path contains a NUL byte');
    const normalized = relative.replace(/\\/g, '/');
    if (normalized.startsWith('/') || /^[a-zA-Z]:/.test(normalized) || path.isAbsolute(relative)) {
      throw new UserError('outside-project', `Absolute paths are not allowed: ${relative}`);
    }
    const segments = normalized.split('/');
    if (segments.includes('..')) throw new UserError('outside-project', `Path leaves the project: ${relative}`);
    const absolute = path.resolve(this.root, ...segments.filter((s) => s !== '' && s !== '.'));
    if (!isInside(this.root, absolute)) throw new UserError('outside-project', `Path leaves the project: ${relative}`);
    return absolute;
  }

  /** Resolves an existing path and checks that its real location (after symlinks) is in the project. */
  async existing(relative: string): Promise<string> {
    const absolute = this.lexical(relative);
    let real: string;
    try {
      real = await realpath(absolute);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') throw new UserError('not-found', `${relative} does not exist`);
      throw error;
    }
    if (!isInside(this.realRoot, real)) {
      throw new UserError('outside-project', `${relative} is a link to a place outside the project`);
    }
    return absolute;
  }

  /** For a path about to be created: its parent must exist inside the project. */
  async creatable(relative: string): Promise<string> {
    const absolute = this.lexical(relative);
    const parent = path.dirname(absolute);
    const realParent = await realpath(parent).catch(() => {
      throw new UserError('not-found', `Folder ${path.relative(this.root, parent) || '.'} does not exist`);
    });
    if (!isInside(this.realRoot, realParent)) {
      throw new UserError('outside-project', `${relative} would be written outside the project`);
    }
    return absolute;
  }

  /** Whether a real (symlink-resolved) absolute path lies inside the project. */
  containsReal(realAbsolute: string): boolean {
    return isInside(this.realRoot, realAbsolute);
  }

  toRelative(absolute: string): string {
    return path.relative(this.root, absolute).split(path.sep).join('/');
  }
}

export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
