/** An error whose message is written for the user; anything else is reported as an internal error. */
export class UserError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** Long work (a run, a data check) stopped because the user cancelled it. */
export class CancelledError extends Error {
  constructor(work = 'Training') {
    super(`${work} was cancelled`);
  }
}

/** Turns a Node fs error into a sentence that names the file and what to do. */
export function describeFsError(error: unknown, path: string): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return `${path} no longer exists (moved or deleted outside LabelLoop?)`;
    case 'EACCES':
    case 'EPERM':
      return `No permission to access ${path}`;
    case 'ENOSPC':
      return `The disk is full while writing ${path}`;
    case 'EROFS':
      return `${path} is on a read-only file system`;
    case 'EBUSY':
      return `${path} is in use by another program`;
    default:
      return `${path}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
