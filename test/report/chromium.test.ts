// Opens the HTML report in headless Chromium (Debian's `chromium`; .ci/run installs it): the page
// must render every section and plot with no console message at all (the report has no script, so
// any message is an error: a parse error or a blocked fetch). The screenshot stays in
// test-output/report-test/ to look at. Skips only outside CI when chromium is not installed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { renderReport } from '../../src/report/html.ts';
import { TEST_OUTPUT, syntheticLooks, syntheticReport } from './fixtures.ts';
import { needs } from '../helpers/needs.ts';

const CHROMIUM = (spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout ?? '').trim();
const WIDTH = 1280;
const HEIGHT = 4000;
/** The screenshot covers the whole page, up to this height. */
const MAX_HEIGHT = 16000;

/** Injected into a copy of the report (before its CSP, so it may run): records errors and what rendered. */
const PROBE = `<script>
(() => {
  const errors = [];
  const save = () => {
    const svgs = [...document.querySelectorAll('svg')].map((s) => { const r = s.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; });
    const images = [...document.querySelectorAll('svg image')].map((i) => { const r = i.getBoundingClientRect(); return r.width > 20 && r.height > 20; });
    document.documentElement.setAttribute('data-probe', JSON.stringify({
      errors, svgs, images,
      sections: [...document.querySelectorAll('section')].map((s) => s.id),
      scrollWidth: document.documentElement.scrollWidth, scrollHeight: document.documentElement.scrollHeight,
    }));
  };
  addEventListener('error', (e) => { errors.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || 'unknown')); save(); }, true);
  addEventListener('securitypolicyviolation', (e) => { errors.push('CSP: ' + e.violatedDirective + ' ' + e.blockedURI); save(); });
  for (const level of ['error', 'warn']) { const f = console[level]; console[level] = (...a) => { errors.push(level + ': ' + a.join(' ')); save(); f.apply(console, a); }; }
  addEventListener('DOMContentLoaded', save);
  addEventListener('load', save);
})();
</script>`;

function chromium(args: string[], profile: string): { stdout: string; stderr: string } {
  const result = spawnSync(
    CHROMIUM,
    [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--hide-scrollbars', `--user-data-dir=${profile}`, ...args,
    ],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  assert.equal(result.error, undefined, `chromium did not run: ${result.error?.message}`);
  assert.equal(result.status, 0, `chromium exited with ${result.status}: ${result.stderr.slice(-2000)}`);
  return { stdout: result.stdout, stderr: result.stderr };
}

function pngSize(path: string): [number, number] {
  const png = readFileSync(path);
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}

describe('HTML report in headless Chromium', { skip: needs(CHROMIUM !== '', 'chromium (Debian: apt-get install chromium; .ci/run installs it)') }, () => {
  it('renders every section and plot, the Grad-CAM pictures included, with no console errors (screenshot in test-output/report-test/report.png)', async (t) => {
    mkdirSync(TEST_OUTPUT, { recursive: true });
    const report = join(TEST_OUTPUT, 'report.html');
    const probe = join(TEST_OUTPUT, 'report.probe.html');
    const screenshot = join(TEST_OUTPUT, 'report.png');
    const html = renderReport({ ...syntheticReport(), looks: await syntheticLooks() });
    writeFileSync(report, html);
    writeFileSync(probe, html.replace('<head>', `<head>${PROBE}`));
    rmSync(screenshot, { force: true });
    const profile = mkdtempSync(join(tmpdir(), 'senet-ort-chromium-'));
    t.after(() => rmSync(profile, { recursive: true, force: true }));

    // 1. The probed copy: what the DOM holds after load, and how tall the page is.
    const dom = chromium([`--window-size=${WIDTH},${HEIGHT}`, '--dump-dom', pathToFileURL(probe).href], profile).stdout;
    const attr = /data-probe="([^"]*)"/.exec(dom);
    assert.ok(attr, 'the probe ran');
    const result = JSON.parse(attr[1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as {
      errors: string[]; svgs: [number, number][]; images: boolean[]; sections: string[]; scrollWidth: number; scrollHeight: number;
    };
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.sections, ['configuration', 'data', 'curves', 'metrics', 'comparison', 'excitation', 'looks']);
    assert.equal(result.svgs.length, 8 + 2, 'the plots and the two "Where they look" figures');
    // Every tile and map picture (8 classes x 3 tiles x 3 pictures) is laid out at a visible size.
    assert.deepEqual([result.images.length, result.images.every(Boolean)], [72, true]);
    for (const [w, h] of result.svgs) assert.ok(w > 300 && h > 150, `every plot is drawn at a readable size (${w}x${h})`);
    assert.ok(result.scrollWidth <= WIDTH, `no horizontal scrolling (${result.scrollWidth} px wide)`);

    // 2. The report as users get it: a screenshot of the whole page, and chromium's log of console messages.
    const height = Math.min(Math.max(result.scrollHeight, HEIGHT), MAX_HEIGHT);
    const shot = chromium(['--enable-logging=stderr', '--v=0', `--window-size=${WIDTH},${height}`, `--screenshot=${screenshot}`, pathToFileURL(report).href], profile);
    const console = shot.stderr.split('\n').filter((line) => /CONSOLE/.test(line));
    assert.deepEqual(console, [], 'console messages');
    assert.deepEqual(pngSize(screenshot), [WIDTH, height]);
    assert.ok(statSync(screenshot).size > 50_000, 'the screenshot is not blank');
    t.diagnostic(`report ${result.scrollHeight} px tall; screenshot ${screenshot}`);
  });
});
