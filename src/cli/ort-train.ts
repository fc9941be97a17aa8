#!/usr/bin/env node
// The `ort-train` bin: `ort-train --data tiles/ --arch se_resnet20 --fold 2`.
import { defineOrtTrain } from './commands/ort-train.ts';
import { runCommandBin } from './process.ts';

await runCommandBin('ort-train', '', 'Train a network on each fold of a prepared data set with ONNX Runtime (checkpoints, logs, resume)', defineOrtTrain);
