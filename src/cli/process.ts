import { UserError } from '../errors.ts';

/**
 * The one place that touches process exit codes: run a command's body, print a UserError as one
 * line ("gen-graph: expected ..."), and keep the stack for real bugs only.
 */
export async function runCli(program: string, body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (err instanceof UserError || isCacError(err)) {
      process.stderr.write(`${program}: ${(err as Error).message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(`${program}: internal error (please report): ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 2;
  }
}

function isCacError(err: unknown): boolean {
  return err instanceof Error && err.name === 'CACError';
}
