// Tests that need something from outside the repository (the shared data sets beside the clone,
// a chromium binary) skip where it is missing, except under CI=true: CI always provides them, so
// there a missing one fails the run, and a green CI means these tests ran.
import { existsSync } from 'node:fs';

export const IN_CI: boolean = process.env['CI'] === 'true';

/**
 * A skip reason when `what` is not available outside CI, false when it is (run the test); under
 * CI=true a missing one throws. Use as `describe(name, { skip: needs(...) }, ...)` or
 * `const skip = needs(...); if (skip) return t.skip(skip);`.
 */
export function needs(available: boolean, what: string): string | false {
  if (available) return false;
  if (IN_CI) throw new Error(`${what} is missing, and CI=true: CI must provide it, so this test fails rather than skips`);
  return `${what} is missing (CI provides it and runs this test)`;
}

/** `needs` for a file or folder, typically under ../shared/data. */
export function requireData(path: string): string | false {
  return needs(existsSync(path), path);
}
