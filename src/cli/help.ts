/**
 * One shape for every command's --help, on top of cac's sections: the usage line, the command's
 * description, its options, then examples as `$ ` lines. For a bin that is one command (gen-graph,
 * ort-train) cac's command list, which would only name the bin itself, is left out.
 */
import type { CAC } from 'cac';

type Section = { title?: string; body: string };

const stripEnd = (text: string): string => text.split('\n').map((line) => line.trimEnd()).join('\n');

/** The callback for `cli.help(...)`; it reads which command the help is for from `cli`. */
export function helpFormatter(cli: CAC): (sections: Section[]) => Section[] {
  return (sections) => {
    const command = cli.matchedCommand;
    // A bin whose only command is its default one: the list of commands would name just itself.
    const single = cli.commands.length === 1 && cli.commands[0]!.isDefaultCommand;
    const out: Section[] = [];
    for (const section of sections) {
      const { title, body } = section;
      if (title === undefined) continue; // the name/version banner: --version prints it
      if (single && title !== 'Usage' && title !== 'Options' && title !== 'Examples') continue;
      if (title === 'Usage') {
        const usage = body.trimEnd();
        out.push({ title, body: usage.endsWith('[options]') ? usage : `${usage} [options]` });
        if (command?.description) out.push({ body: command.description });
      } else if (title === 'Options') {
        // cac marks a --no-flag "(default: true)": the flag it negates already says what the default is.
        out.push({ title, body: body.split('\n').map((line) => (/^\s*--no-/.test(line) ? line.replace(/\s*\(default: true\)\s*$/, '') : line)).join('\n') });
      } else if (title === 'Examples') {
        out.push({ title, body: body.split('\n').map((line) => `  $ ${line}`).join('\n') });
      } else {
        out.push(section);
      }
    }
    return out.map((s) => ({ ...s, body: stripEnd(s.body) }));
  };
}
