# senet-ort in a container: Node 20 on Debian bookworm, installed from the lock file, entrypoint
# `senet-ort` (gen-graph and ort-train are on PATH too). What a Kubernetes Indexed Job of
# `senet-ort sweep --engine k8s` runs:
#   docker build -t senet-ort:0.1.0 .
#   docker run --rm -v "$PWD/artifacts:/work" -w /work senet-ort:0.1.0 study
# The CUDA variant (ONNX Runtime's CUDA 12 binaries; needs the NVIDIA container toolkit on the node):
#   docker build --build-arg ORT_INSTALL=cuda12 --build-arg BASE=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04 -t senet-ort:0.1.0-cuda .
# and train with --device cuda (the README's "Installing, GPUs" and "Sweeps" sections). Either image
# also trains with --device webgpu: ONNX Runtime's bundled WebGPU provider reaches the GPU through
# the Vulkan loader installed below and the driver's Vulkan ICD, which the NVIDIA container runtime
# mounts only with NVIDIA_DRIVER_CAPABILITIES including graphics (a sweep's Kubernetes Job sets it):
#   docker run --rm --gpus all -e NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics ... senet-ort:0.1.0 doctor
ARG BASE=node:20-bookworm-slim

FROM node:20-bookworm-slim AS build
# skip: the CPU build of ONNX Runtime inside the npm package; cuda12: also download its CUDA binaries.
ARG ORT_INSTALL=skip
WORKDIR /opt/senet-ort
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.web.json ./
COPY src ./src
# The browser app's build (npm run build, which npm ci runs) serves the embedded sample as its demo.
COPY data ./data
# npm ci runs `prepare` (tsc) to build dist/, then the dev dependencies go.
RUN npm ci --no-audit --no-fund --onnxruntime-node-install=${ORT_INSTALL} \
 && npm prune --omit=dev --no-audit --no-fund \
 && chmod +x dist/cli/main.js dist/cli/ort-train.js dist/cli/gen-graph.js

FROM ${BASE}
# libvulkan1: the Vulkan loader, through which --device webgpu reaches the GPU (Debian and Ubuntu bases).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libvulkan1 \
 && rm -rf /var/lib/apt/lists/*
# A CUDA base image has no Node: take the official Node 20 build from the build stage.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /opt/senet-ort
COPY --from=build /opt/senet-ort/package.json ./
COPY --from=build /opt/senet-ort/node_modules ./node_modules
COPY --from=build /opt/senet-ort/dist ./dist
COPY data ./data
RUN ln -s /opt/senet-ort/dist/cli/main.js /usr/local/bin/senet-ort \
 && ln -s /opt/senet-ort/dist/cli/ort-train.js /usr/local/bin/ort-train \
 && ln -s /opt/senet-ort/dist/cli/gen-graph.js /usr/local/bin/gen-graph
WORKDIR /work
ENTRYPOINT ["senet-ort"]
CMD ["--help"]
