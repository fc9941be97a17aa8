// The ONNX checker's full check, onnx.checker.check_model(model, full_check=True): every node
// against its operator schema, and shape inference over the whole graph in strict mode. Run by
// Debian's python3-onnx (the system interpreter: PyPI is not reachable here); tests that use it
// skip where it is missing, except under CI=true (.ci/run installs it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { needs } from './needs.ts';

const PYTHON = '/usr/bin/python3';
const CHECK = 'import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print(onnx.__version__)';

const available = spawnSync(PYTHON, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;

/** A skip reason where the checker is missing outside CI, else false. */
export function needsOnnxChecker(): string | false {
  return needs(available, 'the onnx Python package (Debian: apt-get install python3-onnx)');
}

/** Fails with the checker's own message unless the model file passes the full check; returns the onnx version. */
export function assertOnnxChecks(path: string): string {
  const r = spawnSync(PYTHON, ['-c', CHECK, path], { encoding: 'utf8' });
  assert.equal(r.status, 0, `onnx.checker.check_model(full_check=True) refused ${path}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return r.stdout.trim();
}
