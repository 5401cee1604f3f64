// What crosses a transport for every call. Free of zod so the renderer bundle stays small.

/** Errors travel as data, never as thrown objects. */
export type Envelope<T> = { ok: true; result: T } | { ok: false; error: { code: string; message: string } };

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function unwrap<T>(envelope: Envelope<T>): T {
  if (envelope.ok) return envelope.result;
  throw new ApiError(envelope.error.code, envelope.error.message);
}
