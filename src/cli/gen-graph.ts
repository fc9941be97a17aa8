#!/usr/bin/env node
// The `gen-graph` bin: `gen-graph se_resnet50 > model.onnx`.
import { cac } from 'cac';
import { defineGenGraph } from './commands/gen-graph.ts';
import { runCli } from './process.ts';
import { VERSION } from '../version.ts';
import { joinNegativeValues } from './flags.ts';

const cli = cac('gen-graph');
defineGenGraph(cli.command('[arch]', 'Write a ResNet / SE-ResNet as an ONNX model'));
cli.help();
cli.version(VERSION);
await runCli('gen-graph', async () => {
  cli.parse(joinNegativeValues(process.argv), { run: false });
  await cli.runMatchedCommand();
});
