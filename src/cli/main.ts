#!/usr/bin/env node
import { cac } from 'cac';
import { runCli } from './process.ts';
import { UserError } from '../errors.ts';
import { VERSION } from '../version.ts';
// Each command lives in ./commands/<name>.ts and exports `register(cli)`; this file only wires them.
import * as genGraph from './commands/gen-graph.ts';
import * as tile from './commands/tile.ts';
import * as split from './commands/split.ts';

const cli = cac('senet-ort');
for (const command of [genGraph, tile, split]) command.register(cli);
cli.help();
cli.version(VERSION);

await runCli('senet-ort', async () => {
  cli.parse(process.argv, { run: false });
  if (cli.options['help'] || cli.options['version']) return; // cac has printed them
  if (!cli.matchedCommand) {
    if (cli.args.length > 0) throw new UserError(`unknown command "${cli.args[0]}" (see senet-ort --help)`);
    cli.outputHelp();
    return;
  }
  await cli.runMatchedCommand();
});
