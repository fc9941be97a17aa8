#!/usr/bin/env node
import { cac } from 'cac';
import { parseArgv, runCli, runMatched } from './process.ts';
import { UserError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { helpFormatter } from './help.ts';
// Each command lives in ./commands/<name>.ts and exports `register(cli)`; this file only wires them.
import * as genGraph from './commands/gen-graph.ts';
import * as tile from './commands/tile.ts';
import * as split from './commands/split.ts';
import * as evaluate from './commands/evaluate.ts';
import * as compare from './commands/compare.ts';
import * as report from './commands/report.ts';
import * as exportModel from './commands/export.ts';
import * as predict from './commands/predict.ts';
import * as explain from './commands/explain.ts';
import * as ortTrain from './commands/ort-train.ts';
import * as study from './commands/study.ts';
import * as sweep from './commands/sweep.ts';
import * as init from './commands/init.ts';
import * as doctor from './commands/doctor.ts';
import * as web from './commands/web.ts';

const cli = cac('senet-ort');
for (const command of [genGraph, init, tile, split, ortTrain, study, sweep, evaluate, compare, report, exportModel, predict, explain, doctor, web]) command.register(cli);
cli.example('senet-ort study                        # tile, split, train, evaluate, compare and report the embedded sample');
cli.example('senet-ort tile slides/ tiles/ --split  # then: ort-train --data tiles/ --arch se_resnet20');
cli.example('senet-ort sweep tiles/ --arch resnet20,se_resnet20 --grid lr=0.1,0.01 --engine slurm');
cli.help(helpFormatter(cli));
cli.version(VERSION);

await runCli('senet-ort', async () => {
  parseArgv(cli);
  if (cli.options['help'] || cli.options['version']) return; // cac has printed them
  if (!cli.matchedCommand) {
    if (cli.args.length > 0) throw new UserError(`unknown command "${cli.args[0]}" (see senet-ort --help)`);
    cli.outputHelp();
    return;
  }
  await runMatched(cli);
});
