import { availableParallelism, cpus, totalmem } from 'node:os';
import type { CAC } from 'cac';
import { defaultWorkers } from '../../data/loader.ts';
import { cudaStatus, executionProviders } from '../../infer/session.ts';
import { webgpuStatus } from '../../infer/webgpu.ts';
import { checkTrainingStep, environmentVersions } from '../../train/environment.ts';
import { nchwcBlock } from '../../train/kernels.ts';

/**
 * `doctor`: the study's environment check. Versions of everything that changes numbers (Node,
 * ONNX Runtime, sharp/libvips), the execution providers, the threads training will use, whether
 * CUDA can run, whether WebGPU finds an adapter (what vulkaninfo says of it, or why there is none),
 * and one real training step on the CPU.
 */
async function doctor(): Promise<void> {
  const v = environmentVersions();
  const gib = (totalmem() / 2 ** 30).toFixed(1);
  const providers = executionProviders().map((p) => `${p.name}${p.bundled ? '' : ' (separate download)'}`).join(', ');
  const [cuda, webgpu] = await Promise.all([cudaStatus(), webgpuStatus()]);
  const block = await nchwcBlock();
  const lines = [
    `senet-ort     ${v['senetOrt']}`,
    `node          ${v['node']} (${process.platform} ${process.arch})`,
    `onnxruntime   ${v['onnxruntime']} (onnxruntime-node)`,
    `sharp         ${v['sharp']} (libvips ${v['libvips']})`,
    `cpus          ${availableParallelism()} (${cpus()[0]?.model ?? 'unknown'}), memory ${gib} GiB`,
    `threads       ort-train uses ${availableParallelism()} ONNX Runtime threads (--threads) and ${defaultWorkers()} loader worker(s) (--workers)`,
    `providers     ${providers}`,
    `cuda          ${cuda.usable ? 'usable' : 'not usable'}: ${cuda.reason}`,
    `webgpu        ${webgpu.usable ? 'usable' : 'not usable'}: ${webgpu.reason}${webgpu.usable && /\(cpu,/.test(webgpu.adapter ?? '') ? '; a CPU implementation of Vulkan (SwiftShader, llvmpipe): for tests, far slower than --device cpu' : ''}`,
    `kernels       ${block === null ? 'portable: ONNX Runtime has no NCHWc kernels here' : `x64: ONNX Runtime's NCHWc kernels with a block of ${block}, ort-train's default training step on the CPU (--kernels)`}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const check = await checkTrainingStep({ threads: availableParallelism(), device: 'cpu' });
  const ok = Number.isFinite(check.loss);
  process.stdout.write(`train step    ${check.arch}, batch ${check.batch} of ${check.input.join('x')} on cpu, ${check.kernels}: ${(check.seconds * 1000).toFixed(0)} ms (${(check.batch / check.seconds).toFixed(0)} images/s), loss ${check.loss.toFixed(4)}${ok ? '' : ' (NOT FINITE)'}\n`);
  if (!ok) process.exitCode = 1;
}

export function register(cli: CAC): void {
  cli
    .command('doctor', 'Check the environment: Node, ONNX Runtime, sharp/libvips versions, execution providers, threads, CUDA, the WebGPU adapter, and one training step')
    .example('senet-ort doctor')
    .action(() => doctor());
}
