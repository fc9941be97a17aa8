// Every command's --help has one clean shape: a usage line first, the options, examples as `$ `
// lines, no empty heading, no "(default: true)" on a --no-flag, no trailing spaces, one final
// newline. The subcommands checked are the ones `senet-ort --help` lists.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBin } from '../helpers/cli.ts';

function help(bin: string, args: readonly string[]): string {
  const r = runBin(bin, [...args, '--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  return r.stdout.toString();
}

function checkShape(text: string, program: string): void {
  assert.ok(text.endsWith('\n') && !text.endsWith('\n\n'), 'ends with exactly one newline');
  assert.ok(text.startsWith(`Usage:\n  $ ${program}`), `starts with the usage line of ${program}`);
  const lines = text.slice(0, -1).split('\n');
  assert.deepEqual(lines.filter((l) => l !== l.trimEnd()), [], 'lines with trailing spaces');
  const headings = lines.flatMap((l, i) => (/^[A-Z][^:]*:$/.test(l) ? [i] : []));
  assert.deepEqual(headings.filter((i) => !lines[i + 1]), [], 'headings with nothing under them');
  assert.deepEqual(lines.filter((l) => /^\s*--no-/.test(l) && /\(default: true\)/.test(l)), [], 'a --no-flag said to default to true');
  const at = (title: string): string[] => {
    const start = lines.indexOf(`${title}:`);
    assert.ok(start >= 0, `a ${title} section`);
    const end = lines.indexOf('', start);
    return lines.slice(start + 1, end < 0 ? undefined : end);
  };
  assert.ok(at('Options').some((l) => l.startsWith('  -h, --help')));
  const examples = at('Examples');
  assert.ok(examples.length > 0);
  for (const l of examples) assert.match(l, /^ {2}\$ (senet-ort|gen-graph|ort-train)\b/);
}

describe('--help', () => {
  const global = help('main', []);
  const commands = [...global.matchAll(/^ {2}\$ senet-ort (\S+) --help$/gm)].map((m) => m[1]!);

  it('senet-ort lists every command, each with its --help', () => {
    checkShape(global, 'senet-ort');
    for (const c of ['gen-graph', 'tile', 'split', 'ort-train', 'study', 'evaluate', 'compare', 'report', 'export', 'predict', 'explain', 'doctor']) {
      assert.ok(commands.includes(c), `senet-ort --help lists ${c}`);
    }
  });

  for (const command of commands) {
    it(`senet-ort ${command}`, () => {
      const text = help('main', [command]);
      checkShape(text, `senet-ort ${command}`);
      assert.ok(!/^Commands:$/m.test(text), 'a command lists no commands');
    });
  }

  for (const bin of ['gen-graph', 'ort-train']) {
    it(bin, () => {
      const text = help(bin, []);
      checkShape(text, bin);
      assert.ok(!/^Commands:$/m.test(text) && !/For more info/.test(text), 'a one-command bin lists no commands');
    });
  }

  it('ort-train shows --no-augment without "(default: true)"', () => {
    assert.match(help('ort-train', []), /^ {2}--no-augment +Train on the tiles as they are$/m);
  });
});
