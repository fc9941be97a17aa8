#!/usr/bin/env node
// The `gen-graph` bin: `gen-graph se_resnet50 > model.onnx`.
import { defineGenGraph } from './commands/gen-graph.ts';
import { runCommandBin } from './process.ts';

await runCommandBin('gen-graph', '[arch]', 'Write a ResNet / SE-ResNet as an ONNX model', defineGenGraph);
