#!/usr/bin/env node
// The `ort-train` bin: `ort-train --data tiles/ --arch se_resnet20 --fold 2`.
import { cac } from 'cac';
import { defineOrtTrain } from './commands/ort-train.ts';
import { runCli } from './process.ts';
import { VERSION } from '../version.ts';
import { joinNegativeValues } from './flags.ts';

const cli = cac('ort-train');
defineOrtTrain(cli.command('', 'Train a network on each fold of a prepared data set with ONNX Runtime (checkpoints, logs, resume)'));
cli.help();
cli.version(VERSION);
await runCli('ort-train', async () => {
  cli.parse(joinNegativeValues(process.argv), { run: false });
  await cli.runMatchedCommand();
});
