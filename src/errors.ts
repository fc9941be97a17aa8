/**
 * The one error class for problems a user can fix (bad arguments, bad files, bad graphs).
 * The CLI prints its message as a single line, without a stack; anything else is a bug.
 */
export class UserError extends Error {
  override readonly name: string = 'UserError';
}

/** The one message shape for bad arguments: "expected X for P but received V". */
export function expected(what: string, param: string, received: unknown): UserError {
  const shown = typeof received === 'string' ? JSON.stringify(received) : String(received);
  return new UserError(`expected ${what} for ${param} but received ${shown}`);
}
