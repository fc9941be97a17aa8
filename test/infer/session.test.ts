import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { createSession, cudaStatus, executionProviders, ortVersion } from '../../src/infer/session.ts';

describe('sessions', () => {
  it('lists the execution providers and the ONNX Runtime version', () => {
    assert.ok(executionProviders().some((p) => p.name === 'cpu' && p.bundled));
    assert.match(ortVersion(), /^\d+\.\d+\.\d+/);
  });

  it('--device cuda without a usable CUDA provider says why and how to install it', async (t) => {
    const cuda = await cudaStatus();
    if (cuda.usable) return t.skip('CUDA is usable on this machine');
    await assert.rejects(createSession(new Uint8Array(8), { threads: 1, device: 'cuda' }), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /^--device cuda: /);
      if (!executionProviders().some((p) => p.name === 'cuda')) return true;
      assert.match(err.message, /npm ci --onnxruntime-node-install=cuda12|did not start/);
      return true;
    });
  });

  it('a model ONNX Runtime cannot load is a one-line UserError', async () => {
    await assert.rejects(createSession(new Uint8Array([1, 2, 3]), { threads: 1, device: 'cpu' }), (err: Error) => err instanceof UserError && /^model: ONNX Runtime cannot load it \(/.test(err.message) && !err.message.includes('\n'));
  });
});
