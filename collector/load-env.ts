/**
 * @module load-env
 * The only place that touches `process.env`: merges one settings file under the real environment
 * and hands the result to {@link parseConfig}.
 *
 * The file is `--env-file PATH` when the CLI was given one (it must be readable), else `.env` in
 * the working directory if there is one. It is read with dotenv (`NAME=value` lines, `#`
 * comments, quotes for values with spaces), so that secrets can stay in a file of mode 0640 and
 * never appear on a command line, where `ps` shows them to every local user. A variable the
 * environment sets wins over the file, as with `.env` and with Node's own `--env-file`: one
 * command can change one setting (`LOG_LEVEL=debug funnelbeacon --env-file ... doctor`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { parseConfig, type ConfigResult } from './config.js';

export function loadConfig(envFile?: string): ConfigResult {
  let fromFile: Record<string, string> = {};
  if (envFile !== undefined) {
    try {
      fromFile = parseDotenv(readFileSync(envFile));
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
      return { ok: false, problems: [`--env-file: cannot read ${envFile} (${reason}); give the settings file of the collector, e.g. /etc/funnelbeacon/env`] };
    }
  } else if (existsSync('.env')) {
    fromFile = parseDotenv(readFileSync('.env'));
  }
  return parseConfig({ ...fromFile, ...process.env });
}
