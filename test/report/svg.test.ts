import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { el, escapeAttr, escapeText, fragment, num, raw, render, svgDocument } from '../../src/report/svg.ts';
import { checkWellFormed } from './xml.ts';

describe('svg builder', () => {
  it('escapes text and attribute values, and inserts only markup verbatim', () => {
    const nasty = `<script>alert("x")</script> & 'y'`;
    const m = el('text', { x: 1, 'data-name': nasty }, nasty, el('tspan', {}, 'ok'));
    assert.equal(
      m.text,
      '<text x="1" data-name="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;">' +
        '&lt;script&gt;alert("x")&lt;/script&gt; &amp; \'y\'<tspan>ok</tspan></text>',
    );
    assert.equal(render(['a<', 1, null, false, undefined, [raw('<b/>'), 'c&']]), 'a&lt;1<b/>c&amp;');
    checkWellFormed(m.text);
  });

  it('replaces characters that XML cannot hold, even escaped', () => {
    assert.equal(escapeText('a\u0000b\u001Fc\uD800d\tok\n'), 'a\uFFFDb\uFFFDc\uFFFDd\tok\n');
    assert.equal(escapeAttr('😀'), '😀');
  });

  it('writes numbers with at most 2 decimals, never -0, and refuses NaN', () => {
    assert.deepEqual([num(1.005), num(-0.001), num(12), num(0.1 + 0.2), num(1.23456, 4)], ['1', '0', '12', '0.3', '1.2346']);
    assert.throws(() => num(Number.NaN), /non-finite/);
    assert.throws(() => el('rect', { width: Number.POSITIVE_INFINITY }), /non-finite/);
  });

  it('self-closes empty shapes and void elements only; skips false, null and undefined attributes', () => {
    assert.equal(el('path', { d: 'M0 0', dash: undefined, hidden: false, x: null }).text, '<path d="M0 0"/>');
    assert.equal(el('g').text, '<g></g>');
    assert.equal(el('div').text, '<div></div>');
    assert.equal(el('meta', { charset: 'utf-8' }).text, '<meta charset="utf-8"/>');
    assert.equal(el('input', { checked: true }).text, '<input checked=""/>');
    assert.equal(fragment('a', el('br')).text, 'a<br/>');
  });

  it('refuses element and attribute names that would break the markup', () => {
    assert.throws(() => el('g onload=x'), /invalid element name/);
    assert.throws(() => el('g', { 'a"b': 1 }), /invalid attribute name/);
  });

  it('makes a standalone SVG document with a title, a viewBox and a white background', () => {
    const svg = svgDocument(200, 100, 'A <title>', el('circle', { cx: 5, cy: 5, r: 2 }));
    const names = checkWellFormed(svg);
    assert.deepEqual(names, ['svg', 'title', 'rect', 'circle']);
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="200" height="100" viewBox="0 0 200 100"/);
    assert.match(svg, /<title>A &lt;title&gt;<\/title>/);
  });
});

describe('well-formedness checker (the tests rely on it)', () => {
  for (const bad of ['<a><b></a></b>', '<a>x < y</a>', '<a x="1" x="2"/>', '<a>&nbsp;</a>', '<a/><b/>', '<a>', 'text<a/>', '<a x=1/>']) {
    it(`rejects ${bad}`, () => assert.throws(() => checkWellFormed(bad)));
  }
  it('accepts entities, comments and a doctype when asked', () => {
    assert.deepEqual(checkWellFormed('<!DOCTYPE html>\n<html><!-- c --><p a="&amp;&#39;">&lt;&#x41;</p></html>', { allowDoctype: true }), ['html', 'p']);
  });
});
