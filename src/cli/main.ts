/**
 * The `outlast` command line. Thin: parses arguments, imports the command's module lazily, and
 * maps whatever is thrown to an exit code in one place. A user never sees a stack trace for a
 * mistake of theirs (`--debug` shows the chain of causes).
 */
import { Command, CommanderError, Option } from 'commander';
import { setLogLevel } from '../util/log.ts';
import { VERSION } from '../version.ts';
import { EXIT, exitCodeFor, formatError } from './exit.ts';
import { INIT_HELP } from './init/help.ts';
import type { GlobalOptions } from './options.ts';

const CONFIG_HELP = 'the config file (default: outlast.yaml in the current folder)';

/** For repeatable options: every value, in order. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function originOption(): Option {
  return new Option('-o, --origin <id...>', 'only these origins (repeatable; default: all)');
}

export async function main(argv: string[]): Promise<number> {
  let debug = argv.includes('--debug');
  let exitCode: number = EXIT.ok;
  /** Wraps a command: its options merged with the global ones, its result as the exit code. */
  const run =
    <T>(command: (options: T & GlobalOptions) => Promise<number>) =>
    async (options: T, self: Command) => {
      exitCode = await command({ ...self.optsWithGlobals<GlobalOptions>(), ...options });
    };
  const program = new Command('outlast')
    .description(
      'Keep a static website up through the outage of any one cloud: publish one build to several ' +
        'origins, keep them on the same release, and move DNS to a healthy one when needed.',
    )
    .version(VERSION, '-V, --version')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('-v, --verbose', 'log what is done (to stderr)')
    .option('--debug', 'log everything, and show the causes of errors')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })
    .addHelpText(
      'after',
      `
Examples:
  outlast init                      write a commented outlast.yaml (asks, or takes flags)
  outlast plan                      what a deploy would change, per origin
  outlast deploy                    publish ./outlast.yaml's site to every origin
  outlast deploy --origin aws       only one origin
  outlast rollback                  every origin back to the previous release
  outlast status --json             each origin's release, as JSON

Exit codes: 0 done, 1 failed (an origin or service), 2 bad command line, config or site
(nothing written), 3 refused by the delete guard (nothing written; --force overrides), 130 Ctrl-C.
Config reference: the Configuration section of README.md.`,
    )
    .hook('preAction', (command, action) => {
      const options = command.optsWithGlobals<GlobalOptions>();
      debug = options.debug ?? false;
      if (options.debug) setLogLevel('debug');
      else if (options.verbose) setLogLevel('info');
      // A one-shot command says what went wrong in its own words; retries and such are noise on a
      // terminal unless asked for. The daemon keeps warnings: its log is read by operators.
      else if (!process.env.OUTLAST_LOG_LEVEL && action.name() !== 'watch') setLogLevel('error');
    });

  program
    .command('init')
    .description(
      'write a commented outlast.yaml (or the --config file) for a new site: asks on a terminal, or ' +
        'takes flags; secrets stay in environment variables; never overwrites a file',
    )
    .option('--site <dir>', "the built site's folder")
    .option('--name <host>', 'the host name users type (site.hostname and dns.name)')
    .option('--origin <spec>', 'an origin, TYPE:LOCATION[,KEY=VALUE...] (repeatable; see below)', collect)
    .option('--dns <spec>', 'the DNS host, TYPE[,KEY=VALUE...], or none (repeatable; see below)', collect)
    .option('--no-input', 'never ask, even on a terminal: fail listing what is missing')
    .addHelpText('after', INIT_HELP)
    .action(run(async (options) => (await import('./commands/init.ts')).initCommand(options)));

  program
    .command('plan')
    .description('show what each origin would get from the site as it is now; changes nothing')
    .addOption(originOption())
    .option('--verify', 'list every object on the origins instead of trusting their manifests')
    .option('--json', 'print the plans as JSON')
    .option('--full', 'list every key, not only the first ones')
    .action(run(async (options) => (await import('./commands/deploy.ts')).planCommand(options)));

  program
    .command('deploy')
    .description(
      'publish the site to every origin: assets, then pages, then the release beacon; deletes last ' +
        'and only of files no kept release needs',
    )
    .addOption(originOption())
    .option('--verify', 'list every object on the origins instead of trusting their manifests')
    .option('--force', 'apply plans that the delete guard refuses')
    .option(
      '--json',
      'print the result as JSON (per origin: release, uploaded, deleted, unchanged, bytes, requests, retries)',
    )
    .option('--no-progress', 'no progress bar, even on a terminal')
    .action(run(async (options) => (await import('./commands/deploy.ts')).deployCommand(options)));

  program
    .command('rollback')
    .description('put every origin back on a release it keeps, from the copies the origin holds')
    .option('--to <release>', 'the release to go back to (default: the one before the live one)')
    .addOption(originOption())
    .option('--force', 'apply plans that the delete guard refuses')
    .option('--json', 'print the result as JSON')
    .action(run(async (options) => (await import('./commands/deploy.ts')).rollbackCommand(options)));

  program
    .command('status')
    .description("each origin's release, read from its beacon; with watch.cluster, the cluster from etcd")
    .addOption(originOption())
    .option('--json', 'print the status as JSON')
    .action(run(async (options) => (await import('./commands/status.ts')).statusCommand(options)));

  program
    .command('setup')
    .description(
      'make each origin ready to serve the site: public read, index and error documents, CORS ' +
        '(and the bucket or container itself with --create); safe to run again',
    )
    .addOption(originOption())
    .option('--create', 'create a missing bucket or container')
    .option('--dry-run', 'say what would be done, change nothing')
    .option('--json', 'print the steps as JSON')
    .action(run(async (options) => (await import('./commands/setup.ts')).setupCommand(options)));

  program
    .command('check')
    .description(
      'the preflight before trusting outlast with production: config, storage credentials, each ' +
        'origin serving the beacon, certificates, DNS providers; changes nothing',
    )
    .option('--json', 'print the findings as JSON')
    .action(run(async (options) => (await import('./commands/check.ts')).checkCommand(options)));

  const dns = program
    .command('dns')
    .description(
      'native failover: the DNS hosts with failover: native check the origins themselves ' +
        '(plan, apply, destroy)',
    );
  for (const [name, description] of [
    ['plan', 'what would change at each host with failover: native; changes nothing'],
    ['apply', "make each host's checks and records match the config and the live release"],
    ['destroy', 'remove exactly what outlast made at each host with failover: native'],
  ] as const) {
    dns
      .command(name)
      .description(description)
      .option('--force', 'replace records at the name that outlast did not make')
      .option('--json', 'print the plan as JSON')
      .action(run(async (options) => (await import('./commands/dns.ts')).dnsCommand(name, options)));
  }

  program
    .command('watch')
    .description(
      'the daemon: probe every origin, move DNS to a healthy one when the one in use fails, and serve ' +
        '/status, /metrics and /events (127.0.0.1 by default) until Ctrl-C. With watch.cluster in the ' +
        'config it joins the other watchers on etcd: all probe, the elected leader alone writes DNS ' +
        '(README: "Several watchers"); with watch.notify it tells webhooks and e-mail of failovers',
    )
    .option('--listen <host:port>', 'status server address (default: watch.listen, 127.0.0.1:8787)')
    .option('--edge', 'also run the edge of the config (`edge:`) in this process, on these health checks')
    .action(run(async (options) => (await import('./commands/watch.ts')).watchCommand(options)));

  for (const [name, description] of [
    ['failback', 'ask the running watcher to go back to the preferred origin now (failback: manual)'],
    ['pause', 'ask the running watcher to stop moving DNS (health is still checked)'],
    ['resume', 'ask the running watcher to decide again automatically'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .action(run(async (options) => (await import('./commands/control.ts')).controlCommand(name, options)));
  }

  program
    .command('serve')
    .description(
      'serve a directory origin over HTTP the way S3 website hosting serves a bucket ' +
        '(index and error documents, ETag, Range, the headers of the release manifest)',
    )
    .requiredOption('--dir <dir>', 'the folder of a directory (fs) origin')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8080')
    .option('--prefix <prefix>', 'key prefix inside the folder, as in the origin’s storage.prefix')
    .action(run(async (options) => (await import('./commands/serve.ts')).serveCommand(options)));

  program
    .command('edge')
    .description(
      'serve the site from every origin with per-request failover (config `edge:`): each request ' +
        'gets the bytes of the current release, verified by sha256, from the first origin that has them, ' +
        'else from a local cache that keeps the site up with every origin down; HTTPS from files or ACME. ' +
        '/status and /metrics on edge.admin (README: "The edge")',
    )
    .option('--listen <host:port>', 'where the site is served (default: edge.listen)')
    .option('--admin <host:port>', 'where /status and /metrics are served (default: edge.admin)')
    .action(run(async (options) => (await import('./commands/edge.ts')).edgeCommand(options)));

  program
    .command('demo')
    .description(
      'the local demo (what `npm start` runs): examples/site on two local origins, the watcher with ' +
        "outlast's own DNS server and its dashboard, and an edge in front; stop an origin and watch the " +
        'name move while the edge keeps the page loading',
    )
    .option('--dir <dir>', 'where the demo keeps its origins and state', '.outlast/demo')
    .option('--dns <host:port>', 'where the DNS server answers', '127.0.0.1:5353')
    .option('--status <host:port>', 'where the dashboard and /status are served', '127.0.0.1:8787')
    .option(
      '--edge <host:port>',
      'where the demo’s edge serves the site (per-request failover)',
      '127.0.0.1:8080',
    )
    .option('--port <port>', 'the HTTP port of the two origins (on 127.0.0.2 and 127.0.0.3)', '8081')
    .option('--no-keys', 'no keyboard controls (1, 2, q)')
    .option(
      '--drill',
      'run the outage by itself: stop the primary, time the failover and the failback, print a report, exit',
    )
    .action(run(async (options) => (await import('./commands/demo.ts')).demoCommand(options)));

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      const shown = ['commander.helpDisplayed', 'commander.version', 'commander.help'];
      return shown.includes(error.code) ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(formatError(error, { debug }));
    return exitCodeFor(error);
  }
}
