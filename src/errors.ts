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

/** Choices as a sentence says them: "cpu or cuda", "cpu, cuda or webgpu". */
export function either(choices: readonly (string | number)[]): string {
  return choices.length <= 2 ? choices.join(' or ') : `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`;
}
