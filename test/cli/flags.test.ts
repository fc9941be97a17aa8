// Flag helpers: an unknown option named as typed, with the nearest known one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { typedOption, unknownOptionMessage } from '../../src/cli/flags.ts';

describe('typedOption', () => {
  it('finds the argument cac turned into a camelCase key', () => {
    assert.equal(typedOption(['tiles/', '--test-fractions', '0.3'], 'testFractions'), '--test-fractions');
    assert.equal(typedOption(['--lr=0.1', '--weight-decays=0'], 'weightDecays'), '--weight-decays');
    assert.equal(typedOption(['--no-such-thing'], 'suchThing'), '--no-such-thing');
    assert.equal(typedOption(['--Data', 'x'], 'Data'), '--Data');
    assert.equal(typedOption(['-xz', 'a'], 'z'), '-z');
  });

  it('reads no argument after --, and falls back to cac\'s own naming', () => {
    assert.equal(typedOption(['--', '--test-fractions'], 'testFractions'), '--testFractions');
    assert.equal(typedOption([], 'q'), '-q');
  });
});

describe('unknownOptionMessage', () => {
  const declared = ['--test-fraction <x>', '--folds <k>', '--no-augment', '-h, --help', '-v, --version'];
  it('suggests the option one or two slips away', () => {
    assert.equal(unknownOptionMessage('--test-fractions', declared, 'senet-ort split --help'), 'Unknown option `--test-fractions`; did you mean `--test-fraction`?');
    assert.equal(unknownOptionMessage('--fold', declared, 'x --help'), 'Unknown option `--fold`; did you mean `--folds`?');
    assert.equal(unknownOptionMessage('--no-augmnt', declared, 'x --help'), 'Unknown option `--no-augmnt`; did you mean `--no-augment`?');
  });

  it('otherwise says where the options are listed', () => {
    assert.equal(unknownOptionMessage('--seed', declared, 'senet-ort split --help'), 'Unknown option `--seed`; senet-ort split --help lists the options');
    assert.equal(unknownOptionMessage('-x', declared, 'gen-graph --help'), 'Unknown option `-x`; gen-graph --help lists the options');
  });
});
