// A mistyped command or option: commander's one error line (with its "Did you mean" when one is close), then a
// pointer to the help of the command that was mistyped, instead of the whole help, which buries the error.
import type { Command } from 'commander';

/** Call once every command is registered: the hint names each command's own `--help`. */
export function addUsageHints(command: Command, path = command.name()): void {
  command.showHelpAfterError(`(run '${path} --help' for usage)`);
  for (const sub of command.commands) addUsageHints(sub, `${path} ${sub.name()}`);
}
