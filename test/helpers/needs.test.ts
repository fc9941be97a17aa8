// The skip-or-fail rule for tests that need the shared data: skip outside CI, fail under CI=true.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { REPO } from '../data/fixtures.ts';

function probe(ci: string | undefined, path: string) {
  const env = { ...process.env };
  delete env['CI'];
  if (ci !== undefined) env['CI'] = ci;
  const script = `import { requireData } from './test/helpers/needs.ts'; console.log(JSON.stringify(requireData(${JSON.stringify(path)})));`;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, env, encoding: 'utf8' });
}

describe('requireData', () => {
  it('gives a skip reason outside CI, throws under CI=true, and runs the test when the data is there', () => {
    const missing = '/nonexistent/shared/data';
    const local = probe(undefined, missing);
    assert.equal(local.status, 0, local.stderr);
    assert.match(local.stdout, /\/nonexistent\/shared\/data is missing \(CI provides it and runs this test\)/);
    const ci = probe('true', missing);
    assert.notEqual(ci.status, 0);
    assert.match(ci.stderr, /\/nonexistent\/shared\/data is missing, and CI=true: CI must provide it/);
    const present = probe('true', REPO);
    assert.equal(present.status, 0, present.stderr);
    assert.equal(present.stdout.trim(), 'false');
  });
});
