import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsv, toCsv } from '../../src/formats/csv.ts';

describe('csv', () => {
  it('quotes fields with commas, quotes and line breaks, and reads them back', () => {
    const rows = [['a.png', 'slide, "left"', 3], ['b', 'two\nlines', 0.25]];
    const text = toCsv(['file', 'source', 'n'], rows);
    assert.equal(text, 'file,source,n\na.png,"slide, ""left""",3\nb,"two\nlines",0.25\n');
    assert.deepEqual(parseCsv(text), [['file', 'source', 'n'], ['a.png', 'slide, "left"', '3'], ['b', 'two\nlines', '0.25']]);
  });

  it('reads CRLF line ends and skips blank lines', () => {
    assert.deepEqual(parseCsv('a,b\r\n\r\n1,2\r\n'), [['a', 'b'], ['1', '2']]);
  });
});
