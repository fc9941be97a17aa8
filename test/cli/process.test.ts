// Every command and bin names an unknown option as it was typed (cac itself names it in camelCase),
// in one line, with exit status 1.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBin } from '../helpers/cli.ts';

function refusal(bin: string, args: readonly string[]): string {
  const r = runBin(bin, args);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout.length, 0);
  assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  return r.stderr;
}

describe('an unknown option, named as typed', () => {
  it('split --test-fractions: the flag as typed, and the one meant', () => {
    assert.equal(refusal('main', ['split', 'tiles/', '--test-fractions', '0.3']), 'senet-ort: Unknown option `--test-fractions`; did you mean `--test-fraction`?\n');
  });

  const commands = [...runBin('main', ['--help']).stdout.toString().matchAll(/^ {2}\$ senet-ort (\S+) --help$/gm)].map((m) => m[1]!);
  it('every senet-ort command', () => {
    assert.ok(commands.length >= 13, commands.join(' '));
    for (const command of commands) {
      assert.equal(refusal('main', [command, '--made-up-option', '1']), `senet-ort: Unknown option \`--made-up-option\`; senet-ort ${command} --help lists the options\n`, command);
    }
  });

  for (const bin of ['gen-graph', 'ort-train']) {
    it(bin, () => {
      assert.equal(refusal(bin, ['--made-up-option', '1']), `${bin}: Unknown option \`--made-up-option\`; ${bin} --help lists the options\n`);
      assert.equal(refusal(bin, ['--no-made-up']), `${bin}: Unknown option \`--no-made-up\`; ${bin} --help lists the options\n`);
    });
  }
});
