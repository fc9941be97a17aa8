import { cac } from 'cac';
import type { CAC, Command } from 'cac';
import { UserError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { joinNegativeValues, typedOption, unknownOptionMessage } from './flags.ts';
import { helpFormatter } from './help.ts';

/**
 * The one place that touches process exit codes: run a command's body, print a UserError as one
 * line ("gen-graph: expected ..."), and keep the stack for real bugs only.
 */
export async function runCli(program: string, body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (err instanceof UserError || isCacError(err)) {
      process.stderr.write(`${program}: ${(err as Error).message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(`${program}: internal error (please report): ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 2;
  }
}

function isCacError(err: unknown): boolean {
  return err instanceof Error && err.name === 'CACError';
}

/** cac's parse, with `--flag -3` read as the flag's value (see joinNegativeValues). */
export function parseArgv(cli: CAC): void {
  cli.parse(joinNegativeValues(process.argv), { run: false });
}

/**
 * Run the command cac matched, after its check for unknown options done here: cac names an
 * unknown option by its camelCase key (`--testFractions`), which nobody typed.
 */
export async function runMatched(cli: CAC): Promise<void> {
  const command = cli.matchedCommand;
  if (command && !command.config.allowUnknownOptions) {
    for (const key of Object.keys(cli.options)) {
      if (key === '--' || command.hasOption(key) || cli.globalCommand.hasOption(key)) continue;
      const help = `${cli.name}${command.isDefaultCommand ? '' : ` ${cli.matchedCommandName ?? command.name}`} --help`;
      const declared = [...command.options, ...cli.globalCommand.options].map((o) => o.rawName);
      throw new UserError(unknownOptionMessage(typedOption(cli.rawArgs.slice(2), key), declared, help));
    }
  }
  await cli.runMatchedCommand();
}

/** A bin that is one command (`gen-graph`, `ort-train`): its flags, --help and --version, then the run. */
export async function runCommandBin(program: string, usage: string, description: string, define: (command: Command) => void): Promise<void> {
  const cli = cac(program);
  define(cli.command(usage, description));
  cli.help(helpFormatter(cli));
  cli.version(VERSION);
  await runCli(program, async () => {
    parseArgv(cli);
    await runMatched(cli);
  });
}
