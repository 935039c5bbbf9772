// The collector as `funnelbeacon serve` starts it (configuration from the environment, the same
// startCollector), for bench/ingest/run.mjs. One addition, which the shipped CLI has no way to
// reach: `--non-durable` opens the store with `unsafeSkipDurability` (SQLite skips its fsync,
// PostgreSQL commits with `synchronous_commit=off`), so the bench can show what durability costs
// by running the same collector both ways. `--no-relay` starts no outbox worker: the Import Clicks
// the load queues wait in the outbox, so the bench can show the ingest's own cost beside the
// durable floor, which queues a job row and never delivers it.
//
//   node <the flags of dist/cli.js's shebang> dist/bench/ingest-collector.js [--non-durable] [--no-relay]
import { parseArgs } from 'node:util';
import { parseConfig } from '../../collector/config.js';
import { createLogger } from '../../collector/logger.js';
import { startCollector } from '../../collector/server.js';

const { values } = parseArgs({ options: { 'non-durable': { type: 'boolean', default: false }, 'no-relay': { type: 'boolean', default: false } } });
const parsed = parseConfig(process.env);
if (!parsed.ok) {
  for (const problem of parsed.problems) console.error(problem);
  process.exit(1);
}
const config = parsed.config;
const logger = createLogger(config.logLevel);
const collector = await startCollector(config, { logger, runWorker: !values['no-relay'], storeOptions: { unsafeSkipDurability: values['non-durable'] } });
const stop = () => {
  collector.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
