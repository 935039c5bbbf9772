/**
 * @module cli
 * `funnelbeacon serve | migrate | doctor | replay | sweep --once | report | sync --since | postbacks`. Configuration errors print one line per
 * problem, naming the variable, and exit 1. `--env-file PATH` reads the settings from a file
 * (see load-env.ts), so that no secret is ever passed on a command line.
 */
import { parseArgs } from 'node:util';
import type { Config } from './config.js';
import { Sweeper } from './abandonment/sweeper.js';
import { systemClock } from './clock.js';
import { connect, connectLines } from './cli/connect.js';
import { checkAdPlatforms } from './doctor-checks.js';
import { parseSyncArgs, runSync } from './cli/sync.js';
import { runPostbacks } from './cli/postbacks.js';
import { startBanner } from './cli/banner.js';
import { runDoctor } from './doctor.js';
import { BackupError, backupSqlite } from './store/backup.js';
import { loadConfig } from './load-env.js';
import { createLogger } from './logger.js';
import { missingNodeFlags } from './node-flags.js';
import { startCollector } from './server.js';
import { openStore } from './store/open-store.js';
import { plural } from './plural.js';
import { buildReport, formatReport, parseReportArgs } from './recovery/recovery-report.js';

const USAGE = `usage: funnelbeacon [--env-file PATH] <command>

  --env-file PATH
            read the settings from PATH (NAME=value lines, as the systemd unit's
            EnvironmentFile) instead of ./.env; the environment still wins

  serve     run the collector (HTTP server, outbox worker)
  migrate   create or upgrade the store's tables, then exit
  doctor    check the configuration, the store and each upstream, and say what to fix
  replay    put dead-lettered jobs back into the outbox
  connect   create the ActiveCampaign connection once (prints ACTIVECAMPAIGN_CONNECTION_ID); checks the ad platforms' credentials
  sweep --once
            run one abandonment sweep now (queues rechecks, CARTs, ORDERs), then exit;
            a running collector's worker delivers what it queued
  backup FILE
            write a consistent copy of the SQLite store to FILE, while the collector runs
            (PostgreSQL: use pg_dump)
  report [--since 7d] [--json]
            sessions, leads, carts abandoned and recovered (by recovery link too), recovered
            revenue, lost carts, orders and recovery-link clicks; --json for scripts
  sync --since YYYY-MM-DD [--until YYYY-MM-DD] [--dry-run]
            lifecycle backfill (LIFECYCLE_SYNC=on): read Konnektive's history day by day and
            deliver it to ActiveCampaign; Ctrl-C stops, the same command resumes; --dry-run
            prints the events per day and sends and writes nothing
  postbacks check
            check POSTBACKS_FILE and print each postback's request for a sample order
  postbacks test NAME
            fire the postback NAME with sample values and print the network's answer
`;

function configFrom(envFile: string | undefined): Config {
  const result = loadConfig(envFile);
  if (!result.ok) {
    console.error('funnelbeacon: the configuration has problems:');
    for (const problem of result.problems) console.error(`  ${problem}`);
    process.exit(1);
  }
  return result.config;
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { once: { type: 'boolean' }, since: { type: 'string' }, until: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, 'env-file': { type: 'string' } },
  });
  const command = positionals[0] ?? 'serve';
  const given = values['env-file'];
  if (given === true || given === false || given === '') {
    console.error('funnelbeacon: --env-file takes the settings file: funnelbeacon --env-file /etc/funnelbeacon/env <command>');
    return 2;
  }
  const envFile = given;
  const configOrExit = () => configFrom(envFile);
  switch (command) {
    case 'serve': {
      const config = configOrExit();
      const logger = createLogger(config.logLevel);
      const collector = await startCollector(config, { logger });
      const missing = missingNodeFlags(process.execArgv, config.nodeOptions);
      if (missing.length > 0) {
        logger.warn({ missing }, `node was started without ${missing.join(' ')}: memory may exceed its budget under load (run funnelbeacon serve, ./dist/cli.js serve or npm start, which pass them)`);
      }
      if (config.sandbox) {
        logger.info({ url: config.publicUrl }, 'sandbox mode: no credentials set; upstream calls are recorded, not sent');
      }
      if (config.logLevel !== 'silent') console.log(startBanner(config, collector.port));
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'stopping');
        collector.close().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error instanceof Error ? error.message : String(error) }, 'unclean stop');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      // An edited POSTBACKS_FILE is read again; one with problems leaves the postbacks in force.
      process.on('SIGHUP', () => {
        const registry = collector.postbacks;
        if (!registry) return logger.warn('SIGHUP: no POSTBACKS_FILE was set at start; nothing to reload');
        const read = registry.reload();
        if (read.ok) logger.info({ postbacks: read.postbacks.length }, 'POSTBACKS_FILE reloaded');
        else logger.error({ problems: read.problems }, 'POSTBACKS_FILE has problems; the postbacks in force are kept');
      });
      return new Promise<number>(() => {});
    }
    case 'migrate': {
      const config = configOrExit();
      const store = await openStore(config.databaseUrl);
      await store.migrate();
      await store.close();
      console.log(`store migrated (${store.kind})`);
      return 0;
    }
    case 'replay': {
      const config = configOrExit();
      const store = await openStore(config.databaseUrl);
      await store.migrate();
      const count = await store.replayDeadJobs(systemClock.now());
      await store.close();
      console.log(`${plural(count, 'dead-lettered job', 'dead-lettered jobs')} put back into the outbox`);
      return 0;
    }
    case 'sweep': {
      if (values.once !== true) {
        console.error('funnelbeacon: `sweep` takes --once (the collector sweeps by itself every SWEEP_EVERY)');
        return 2;
      }
      const config = configOrExit();
      const store = await openStore(config.databaseUrl);
      await store.migrate();
      const sweeper = new Sweeper({
        store,
        config,
        clock: systemClock,
        logger: createLogger(config.logLevel),
      });
      const seen = await sweeper.sweepOnce();
      await store.close();
      console.log(`${plural(seen, 'due session', 'due sessions')} swept`);
      return 0;
    }
    case 'connect': {
      const config = configOrExit();
      const result = await connect(config);
      for (const line of connectLines(result)) (result.ok ? console.log : console.error)(line);
      // The ad platforms have nothing to create: their credentials are checked, as doctor does.
      const platforms = config.sandbox ? [] : await checkAdPlatforms(config);
      for (const check of platforms) (check.status === 'ok' ? console.log : console.error)(`${check.name}: ${check.message}`);
      return result.ok && platforms.every((check) => check.status === 'ok') ? 0 : 1;
    }
    case 'backup': {
      const target = positionals[1];
      if (!target) {
        console.error('funnelbeacon: `backup` takes the file to write: funnelbeacon backup FILE');
        return 2;
      }
      const config = configOrExit();
      try {
        const result = await backupSqlite(config.databaseUrl, target);
        console.log(
          `backup written to ${result.file}: ${plural(result.bytes, 'byte', 'bytes')}, ${plural(result.sessions, 'session', 'sessions')}, ` +
            `${plural(result.events, 'event', 'events')}, ${plural(result.jobs, 'job', 'jobs')}, integrity ok, ${Math.round(result.ms)} ms`,
        );
        return 0;
      } catch (error) {
        if (!(error instanceof BackupError)) throw error;
        console.error(`funnelbeacon: ${error.message}`);
        return 1;
      }
    }
    case 'report': {
      const args = parseReportArgs(values);
      if (!args.ok) {
        console.error(`funnelbeacon: ${args.problem}`);
        return 2;
      }
      const config = configOrExit();
      const store = await openStore(config.databaseUrl);
      await store.migrate();
      const report = await buildReport(store, { sinceMs: args.sinceMs, now: systemClock.now(), linkTtlMs: config.recovery.linkTtlMs });
      await store.close();
      process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, args.sinceMs));
      return 0;
    }
    case 'sync': {
      const args = parseSyncArgs(values);
      if (!args.ok) {
        console.error(`funnelbeacon: ${args.problem}`);
        return 2;
      }
      const config = configOrExit();
      // The first Ctrl-C stops after the day in hand (resumable); a second one stops at once.
      const controller = new AbortController();
      process.on('SIGINT', () => (controller.signal.aborted ? process.exit(130) : controller.abort()));
      return runSync(config, args.args, {
        out: { write: (text) => process.stdout.write(text), isTTY: process.stdout.isTTY === true },
        err: (line) => console.error(line),
        signal: controller.signal,
      });
    }
    case 'postbacks': {
      const config = configOrExit();
      return runPostbacks(config, positionals.slice(1), { out: (line) => console.log(line), err: (line) => console.error(line) });
    }
    case 'doctor': {
      const result = loadConfig(envFile);
      return runDoctor(result);
    }
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      console.error(`funnelbeacon: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`funnelbeacon: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
