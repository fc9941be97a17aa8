// The browser app in headless Chromium: built once per test process into a temporary folder,
// served by the app's own server, opened in a fresh browser. Skips (outside CI) without chromium,
// and the WebGPU runs without SwiftShader's Vulkan driver.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { buildApp } from '../../src/web/build.ts';
import type { RunningServer } from '../../src/web/serve.ts';
import { serveApp } from '../../src/web/serve.ts';
import type { BrowserOptions, RequestRecord } from './browser.ts';
import { Browser, CHROMIUM, SWIFTSHADER_ICD } from './browser.ts';
import { needs } from './needs.ts';

let built: Promise<string> | null = null;

/** The app built into a temporary folder, once per process (removed when the process exits). */
export function builtApp(): Promise<string> {
  if (!built) {
    const dir = mkdtempSync(join(tmpdir(), 'senet-ort-web-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    built = buildApp(join(dir, 'app')).then(() => join(dir, 'app'));
  }
  return built;
}

/** Why a browser test cannot run here (false when it can); under CI=true a missing piece fails. */
export function browserSkip(webgpu = false): string | false {
  return needs(CHROMIUM !== '', 'chromium (Debian: apt-get install chromium)') || (webgpu && needs(existsSync(SWIFTSHADER_ICD), `SwiftShader's Vulkan driver (${SWIFTSHADER_ICD}, Debian's chromium)`));
}

/** The app served and a browser on it, both closed after the test. */
export async function openApp(t: TestContext, options: BrowserOptions & { headers?: Record<string, string> } = {}): Promise<{ browser: Browser; server: RunningServer }> {
  const server = await serveApp({ root: await builtApp(), port: 0, host: '127.0.0.1', ...(options.headers ? { headers: options.headers } : {}) });
  const browser = await Browser.launch(options);
  t.after(async () => {
    await browser.close();
    await server.close();
  });
  return { browser, server };
}

/** Requests that went anywhere but the app's origin, or carried a body (an upload). */
export function leaks(requests: readonly RequestRecord[], origin: string): string[] {
  return requests.filter((r) => !(r.url.startsWith(`${origin}/`) || r.url.startsWith('blob:' + origin) || r.url.startsWith('data:')) || r.method !== 'GET' || r.bodyBytes > 0).map((r) => `${r.from}: ${r.method} ${r.url} (${r.bodyBytes} bytes)`);
}
