/**
 * Whether onnxruntime-node's bundled WebGPU provider finds a GPU here, and why not when it does not.
 *
 * The provider is Dawn, linked into libonnxruntime: on Linux it loads the Vulkan loader
 * (libvulkan.so.1) at run time, which loads a driver's ICD (NVIDIA's, Mesa's radv or anv, or a CPU
 * implementation such as SwiftShader); on macOS it uses Metal, on Windows D3D12. A missing piece
 * shows only as "No supported adapters" and a few lines Dawn prints on stderr, so the check runs
 * one tiny session in a child process, whose stderr it reads, and names the missing piece itself:
 * no provider in this build (linux/arm64), no loader, no driver, or a container started without
 * the graphics capability that makes NVIDIA's container runtime mount the Vulkan driver.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Builder } from '../graph/builder.ts';
import { encodeModel } from '../formats/protobuf.ts';

export interface WebgpuStatus {
  readonly usable: boolean;
  readonly reason: string;
  /** What vulkaninfo says of the GPUs (where it is installed), else the Vulkan drivers found. */
  readonly adapter: string | null;
}

/** Where the Vulkan loader looks for drivers' manifests when no variable names them. */
const ICD_FOLDERS = ['/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/nvidia/share/vulkan/icd.d'];
const LIB_FOLDERS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];

/** The driver manifests the loader would read: VK_DRIVER_FILES / VK_ICD_FILENAMES, else the standard folders. */
export function vulkanDrivers(env: NodeJS.ProcessEnv = process.env): string[] {
  const named = env['VK_DRIVER_FILES'] ?? env['VK_ICD_FILENAMES'];
  if (named) return named.split(':').filter((f) => f && existsSync(f));
  return ICD_FOLDERS.filter(existsSync).flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.json')).map((f) => join(d, f)));
}

function vulkanLoader(env: NodeJS.ProcessEnv = process.env): boolean {
  const folders = [...(env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean), ...LIB_FOLDERS];
  return folders.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

/** The container hint: NVIDIA's runtime mounts the Vulkan driver only with the graphics capability. */
function containerHint(env: NodeJS.ProcessEnv = process.env): string {
  const visible = env['NVIDIA_VISIBLE_DEVICES'];
  if (!visible || visible === 'void' || visible === 'none') return '';
  const caps = (env['NVIDIA_DRIVER_CAPABILITIES'] ?? '').split(',').map((c) => c.trim());
  if (caps.includes('all') || caps.includes('graphics')) return '';
  return `; this container has NVIDIA GPUs (NVIDIA_VISIBLE_DEVICES=${visible}) but NVIDIA_DRIVER_CAPABILITIES=${env['NVIDIA_DRIVER_CAPABILITIES'] ?? '(unset)'} lacks "graphics", so the runtime did not mount the Vulkan driver: start it with NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics`;
}

/** The first lines of vulkaninfo --summary's device list, or null where it is not installed. */
function vulkanInfo(): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('vulkaninfo', ['--summary'], { timeout: 30_000 }, (err, stdout) => {
      if (err && !stdout) return resolve(null);
      const devices: string[] = [];
      let current: Record<string, string> = {};
      const flush = (): void => {
        if (current['deviceName']) devices.push(`${current['deviceName']} (${current['deviceType'] ?? 'unknown type'}, driver ${current['driverName'] ?? '?'} ${current['driverInfo'] ?? ''}, Vulkan ${current['apiVersion'] ?? '?'})`.replace(/ \)/, ')'));
        current = {};
      };
      for (const line of stdout.split('\n')) {
        if (/^GPU\d+:/.test(line.trim())) flush();
        const m = /^\s*(deviceName|deviceType|driverName|driverInfo|apiVersion)\s*=\s*(.*)$/.exec(line);
        if (m) current[m[1]!] = m[1] === 'deviceType' ? m[2]!.trim().replace(/^PHYSICAL_DEVICE_TYPE_/, '').toLowerCase().replace(/_/g, ' ') : m[2]!.trim();
      }
      flush();
      resolve(devices.length > 0 ? devices.join('; ') : null);
    });
  });
}

/** The child's script: one Add on the WebGPU provider; prints ok, or the error's first line. */
const PROBE = `
const ort = await import(process.argv[1]);
const bytes = Buffer.from(process.argv[2], 'base64');
try {
  const s = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2), [2]) });
  process.stdout.write(out.y.data[1] === 4 ? 'ok' : 'wrong result ' + Array.from(out.y.data).join(','));
} catch (err) {
  process.stdout.write('error ' + String(err?.message ?? err).split('\\n')[0]);
}
`;

function runProbe(model: Uint8Array): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const entry = import.meta.resolve('onnxruntime-node');
    execFile(process.execPath, ['--input-type=module', '-e', PROBE, entry, Buffer.from(model).toString('base64')], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ stdout: stdout || (err ? `error the probe process failed (${String(err.message).split('\n')[0]})` : ''), stderr });
    });
  });
}

/** Dawn's own words on stderr: its Warning/error lines, without the source locations. */
function dawnSays(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => /^(Warning|Error):/i.test(l) && !/XDG_RUNTIME_DIR/.test(l));
  return [...new Set(lines)].slice(0, 2).join('; ');
}

let probe: Promise<WebgpuStatus> | undefined;

/** y = x + x on a float[2]. */
function probeModel(): Uint8Array {
  const b = new Builder();
  const x = b.input('x', 'float32', [2]);
  b.output(b.op('Add', [x, x], {}, { names: ['y'], name: 'y' }));
  return encodeModel(b.graph('webgpu_probe'));
}

/** The WebGPU status, probed once per process. */
export function webgpuStatus(): Promise<WebgpuStatus> {
  probe ??= (async () => {
    const where = `${process.platform}/${process.arch}`;
    if (!ort.listSupportedBackends().some((b) => b.name === 'webgpu')) {
      const arm = process.platform === 'linux' && process.arch === 'arm64' ? ' (onnxruntime-node ships WebGPU for linux/x64, macOS and Windows, not linux/arm64)' : '';
      return { usable: false, reason: `this onnxruntime-node build (${where}) has no WebGPU provider${arm}`, adapter: null };
    }
    const linux = process.platform === 'linux';
    if (linux && !vulkanLoader()) {
      return { usable: false, reason: `no Vulkan loader (libvulkan.so.1), through which WebGPU reaches the GPU: install it (Debian/Ubuntu: apt-get install libvulkan1)${containerHint()}`, adapter: null };
    }
    const drivers = linux ? vulkanDrivers() : [];
    if (linux && drivers.length === 0) {
      const named = process.env['VK_DRIVER_FILES'] ?? process.env['VK_ICD_FILENAMES'];
      const where = named ? `the files named by ${process.env['VK_DRIVER_FILES'] ? 'VK_DRIVER_FILES' : 'VK_ICD_FILENAMES'} (${named}) do not exist` : `none in ${ICD_FOLDERS.join(', ')}`;
      return { usable: false, reason: `no Vulkan driver (ICD manifest): ${where}; install the GPU's driver${containerHint()}`, adapter: null };
    }
    const info = linux ? await vulkanInfo() : null;
    const adapter = info ?? (drivers.length > 0 ? `Vulkan drivers ${drivers.join(', ')}` : null);
    const { stdout, stderr } = await runProbe(probeModel());
    if (stdout === 'ok') return { usable: true, reason: `a WebGPU adapter runs kernels (${adapter ?? `Dawn on ${where}`})`, adapter };
    const dawn = dawnSays(stderr);
    const why = stdout.replace(/^error /, '').replace(/^.*?(Failed to get a WebGPU adapter)/, '$1');
    return { usable: false, reason: `no WebGPU adapter: ${why}${dawn ? ` (Dawn: ${dawn})` : ''}${adapter ? `; drivers found: ${adapter}` : ''}${containerHint()}`, adapter };
  })();
  return probe;
}
