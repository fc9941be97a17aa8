// Headless Chromium (Debian's /usr/bin/chromium) driven over the DevTools protocol through
// --remote-debugging-pipe: Chromium reads commands from fd 3 and writes replies and events to fd 4,
// each a JSON message ended by a NUL byte. No npm package is needed, and nothing listens on a port.
// Every request of the page and its workers is logged, and a page error, console error or CSP
// violation is recorded for the test to fail on.
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM: string = (spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout ?? '').trim();

/** SwiftShader's Vulkan driver, which Debian's chromium brings: a WebGPU adapter without a GPU. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

type Json = Record<string, unknown>;

export interface RequestRecord {
  readonly url: string;
  readonly method: string;
  /** Bytes of a request body, 0 for none. */
  readonly bodyBytes: number;
  /** Which target asked: the page, or a worker's URL. */
  readonly from: string;
}

export interface BrowserOptions {
  /** WebGPU on SwiftShader's Vulkan (the ICD must exist); default off (--disable-gpu). */
  readonly webgpu?: boolean;
  /** Where downloads go; default none allowed. */
  readonly downloads?: string;
}

export class Browser {
  readonly requests: RequestRecord[] = [];
  /** Page errors, console errors and CSP violations, as lines. */
  readonly problems: string[] = [];
  readonly console: string[] = [];
  readonly #process: ChildProcess;
  readonly #profile: string;
  readonly #pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void; method: string }>();
  readonly #listeners: ((method: string, params: Json, sessionId: string | undefined) => void)[] = [];
  #next = 1;
  #buffer = Buffer.alloc(0);
  #session = '';
  readonly #targets = new Map<string, string>();

  private constructor(process: ChildProcess, profile: string) {
    this.#process = process;
    this.#profile = profile;
    const out = process.stdio[4] as Readable;
    out.on('data', (chunk: Buffer) => this.#receive(chunk));
    process.on('exit', () => {
      for (const p of this.#pending.values()) p.reject(new Error(`chromium exited during ${p.method}`));
      this.#pending.clear();
    });
  }

  static async launch(options: BrowserOptions = {}): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), 'senet-ort-chromium-'));
    const gpu = options.webgpu
      ? ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=native', '--use-angle=swiftshader', '--ignore-gpu-blocklist', '--disable-vulkan-surface']
      : ['--disable-gpu'];
    const args = [
      '--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-default-apps', '--disable-extensions', '--mute-audio', '--no-default-browser-check',
      `--user-data-dir=${profile}`, '--remote-debugging-pipe', ...gpu, 'about:blank',
    ];
    const env = options.webgpu ? { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD } : process.env;
    const child = spawn(CHROMIUM, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], env });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const browser = new Browser(child, profile);
    try {
      await browser.#attachPage(options);
    } catch (err) {
      await browser.close();
      throw new Error(`chromium did not start: ${(err as Error).message}\n${stderr}`);
    }
    return browser;
  }

  #receive(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (let end = this.#buffer.indexOf(0); end >= 0; end = this.#buffer.indexOf(0)) {
      const message = JSON.parse(this.#buffer.subarray(0, end).toString('utf8')) as Json;
      this.#buffer = this.#buffer.subarray(end + 1);
      if (typeof message['id'] === 'number') {
        const p = this.#pending.get(message['id']);
        this.#pending.delete(message['id']);
        if (message['error']) p?.reject(new Error(`${p.method}: ${JSON.stringify(message['error'])}`));
        else p?.resolve((message['result'] ?? {}) as Json);
      } else {
        for (const l of this.#listeners) l(String(message['method']), (message['params'] ?? {}) as Json, message['sessionId'] as string | undefined);
      }
    }
  }

  /** Send one DevTools command, to the page's session by default. */
  send(method: string, params: Json = {}, sessionId: string | undefined = this.#session || undefined): Promise<Json> {
    const id = this.#next++;
    const message = JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) });
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      (this.#process.stdio[3] as Writable).write(`${message}\0`);
    });
  }

  /** Wait for an event matching `accept`, up to `ms`. */
  waitFor(method: string, accept: (params: Json) => boolean = () => true, ms = 60_000): Promise<Json> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${method} within ${ms} ms`)), ms);
      const listener = (m: string, params: Json): void => {
        if (m !== method || !accept(params)) return;
        clearTimeout(timer);
        this.#listeners.splice(this.#listeners.indexOf(listener), 1);
        resolve(params);
      };
      this.#listeners.push(listener);
    });
  }

  async #attachPage(options: BrowserOptions): Promise<void> {
    this.#listeners.push((method, params, sessionId) => this.#record(method, params, sessionId));
    const { targetInfos } = (await this.send('Target.getTargets', {}, undefined)) as { targetInfos: { targetId: string; type: string }[] };
    const page = targetInfos.find((t) => t.type === 'page');
    const targetId = page?.targetId ?? ((await this.send('Target.createTarget', { url: 'about:blank' }, undefined)) as { targetId: string }).targetId;
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true }, undefined)) as { sessionId: string };
    this.#session = sessionId;
    this.#targets.set(sessionId, 'page');
    if (options.downloads) await this.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: options.downloads, eventsEnabled: true }, undefined);
    await this.#enable(sessionId);
    await this.send('Page.enable');
  }

  /** Log requests and problems in a session (the page's, or a worker's), and follow its own workers. */
  async #enable(sessionId: string): Promise<void> {
    // Some targets lack a domain (a service worker has no Log); the others are still followed.
    await Promise.allSettled([
      this.send('Network.enable', {}, sessionId),
      this.send('Runtime.enable', {}, sessionId),
      this.send('Log.enable', {}, sessionId),
      this.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: true }, sessionId),
    ]);
  }

  #record(method: string, params: Json, sessionId: string | undefined): void {
    const from = (sessionId && this.#targets.get(sessionId)) ?? 'browser';
    if (method === 'Target.attachedToTarget') {
      const info = params['targetInfo'] as { url: string; type: string };
      const child = String(params['sessionId']);
      this.#targets.set(child, `${info.type} ${info.url}`);
      // A worker waits for the debugger. A session handles its commands in order, so the domains are on
      // before it runs and its requests are logged from its first one; waiting for the replies
      // could wait for ever (a paused service worker answers nothing).
      const enabled = this.#enable(child);
      void this.send('Runtime.runIfWaitingForDebugger', {}, child).catch(() => undefined);
      void enabled;
    } else if (method === 'Network.requestWillBeSent') {
      const request = params['request'] as { url: string; method: string; postData?: string; hasPostData?: boolean; postDataEntries?: { bytes?: string }[] };
      const bodyBytes = request.postDataEntries?.reduce((n, e) => n + Buffer.from(e.bytes ?? '', 'base64').length, 0) ?? (request.postData?.length ?? (request.hasPostData ? 1 : 0));
      this.requests.push({ url: request.url, method: request.method, bodyBytes, from });
    } else if (method === 'Runtime.exceptionThrown') {
      const d = params['exceptionDetails'] as { text: string; exception?: { description?: string } };
      this.problems.push(`${from}: ${d.exception?.description ?? d.text}`);
    } else if (method === 'Runtime.consoleAPICalled') {
      const text = (params['args'] as { value?: unknown; description?: string }[]).map((a) => (a.value !== undefined ? String(a.value) : a.description ?? '')).join(' ');
      this.console.push(`${from}: ${params['type']}: ${text}`);
      if (params['type'] === 'error') this.problems.push(`${from}: console.error: ${text}`);
    } else if (method === 'Log.entryAdded') {
      const entry = params['entry'] as { level: string; source: string; text: string; url?: string };
      if (entry.level === 'error' || entry.source === 'security') this.problems.push(`${from}: ${entry.source} ${entry.level}: ${entry.text}${entry.url ? ` (${entry.url})` : ''}`);
    }
  }

  /** Open `url` and wait for its load event. */
  async open(url: string): Promise<void> {
    const loaded = this.waitFor('Page.loadEventFired');
    const { errorText } = (await this.send('Page.navigate', { url })) as { errorText?: string };
    if (errorText) throw new Error(`${url}: ${errorText}`);
    await loaded;
  }

  /** The value of a JavaScript expression in the page (awaited when it is a promise). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as { result: { value: T }; exceptionDetails?: { text: string; exception?: { description?: string } } };
    if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value;
  }

  /** Poll `expression` until it is truthy; its value. */
  async until<T>(expression: string, ms: number, what: string): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      let value: T | undefined;
      try {
        value = await this.evaluate<T>(expression);
      } catch (err) {
        // The page reloading (its service worker's first start) destroys the context asked in.
        if (!/context|Inspected target navigated/i.test((err as Error).message)) throw err;
      }
      if (value) return value;
      if (this.problems.length > 0) throw new Error(`page problem while waiting for ${what}: ${this.problems.join(' | ')}`);
      if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async close(): Promise<void> {
    if (this.#process.exitCode === null && !this.#process.killed) {
      const exited = new Promise((r) => this.#process.once('exit', r));
      try {
        await Promise.race([this.send('Browser.close', {}, undefined), new Promise((r) => setTimeout(r, 2000))]);
      } catch {
        // already gone
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (this.#process.exitCode === null) this.#process.kill('SIGKILL');
    }
    rmSync(this.#profile, { recursive: true, force: true });
  }
}
