// Assertions shared by the unit tests of numbers and user errors.
import assert from 'node:assert/strict';
import { UserError } from '../../src/errors.ts';

export function near(actual: number | null, expected: number, tolerance = 1e-9): void {
  assert.ok(actual !== null && Math.abs(actual - expected) <= tolerance, `expected ${expected}, received ${actual}`);
}

/** `fn` throws a UserError whose message matches and fits on one line. */
export function throwsOneLine(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UserError, `not a UserError: ${String(err)}`);
    assert.match(err.message, message);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
}

/** The message of the UserError `fn` throws, checked to fit on one line and to start with `path: `. */
export function oneLineAt(fn: () => unknown, path: string): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UserError, `not a UserError: ${String(err)}`);
    assert.ok(!err.message.includes('\n'), err.message);
    assert.ok(err.message.startsWith(`${path}: `), err.message);
    return err.message;
  }
  assert.fail('expected a UserError');
}
