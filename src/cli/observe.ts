// `portcullis observe`'s command line: where flows come from, which are shown and how. The work is in
// observe-run.ts, loaded when the command runs.
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkFlowType, checkHttpStatus, checkPeer, checkProtocol, checkVerdict, FLOW_TYPES, PROTOCOLS, VERDICTS } from '../observe/flow-filter.js';
import type { ObserveOptions } from './observe-run.js';

export const OUTPUTS = ['compact', 'json', 'table'] as const;

/** A repeatable option's parser: each value checked, the values collected. */
function repeated(check: (value: string) => string | Error) {
  return (value: string, previous: string[] | undefined): string[] => {
    const checked = check(value);
    if (checked instanceof Error) throw new InvalidArgumentError(checked.message);
    return [...(previous ?? []), checked];
  };
}

function count(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number of flows');
  return Number(value);
}

export function registerObserve(program: Command): void {
  program
    .command('observe')
    .description('print flow records as readable lines, like hubble observe: from a flow file, stdin (-) or a running Portcullis')
    .argument('[file]', "a flow file, or - for stdin (default: the admin endpoint of -c's config)")
    .option('-c, --config <file>', "read from the admin endpoint of this config's Portcullis (default: portcullis.yaml)")
    .option('--server <url>', 'read from the admin endpoint at this URL, e.g. http://127.0.0.1:9901')
    .option('-f, --follow', 'keep printing flows as they are recorded (a file: across rotation)')
    .option('--last <n>', 'print the last n flows recorded so far (default: 20, or 0 with --follow)', count)
    .addOption(new Option('-o, --output <format>', 'compact: one line per flow; json: the records as read; table: aligned columns').choices(OUTPUTS).default('compact'))
    .option('--verdict <verdict>', `only flows with this verdict (${VERDICTS.join(', ')}); repeat for any of several`, repeated(checkVerdict))
    .option('--from <peer>', 'only flows from this endpoint: name, namespace/name, label k=v (k8s:k=v, reserved:world), entity (world), IP', repeated(checkPeer))
    .option('--to <peer>', 'only flows to this endpoint: as --from, or a DNS name', repeated(checkPeer))
    .option('--listener <name>', 'only flows of this listener', repeated((v) => (v.trim() === '' ? new Error('expected a listener name') : v)))
    .option('--protocol <protocol>', `only flows of this protocol (${PROTOCOLS.join(', ')})`, repeated(checkProtocol))
    .option('--http-status <status>', 'only HTTP responses with this status (403) or class (5xx)', repeated(checkHttpStatus))
    .option('--type <type>', `only flows of this type (${FLOW_TYPES.join(', ')})`, repeated(checkFlowType))
    .addHelpText(
      'after',
      '\nFilters combine as hubble observe\'s do: every flag must match, and any one value of a repeated flag.' +
        '\nReplies (responses) name the server as their source, so --from/--to match them the other way round.' +
        '\nExit codes: 0 done (or interrupted while following), 1 the source cannot be read.',
    )
    .action(async (file: string | undefined, o: ObserveOptions) => {
      const { observe } = await import('./observe-run.js');
      process.exitCode = await observe(file, o);
    });
}
