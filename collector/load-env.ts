/**
 * @module load-env
 * The only place that touches `process.env`: merges a `.env` file (if present) under the real
 * environment and hands the result to {@link parseConfig}.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { parseConfig, type ConfigResult } from './config.js';

export function loadConfig(envFile = '.env'): ConfigResult {
  const fromFile = existsSync(envFile) ? parseDotenv(readFileSync(envFile)) : {};
  return parseConfig({ ...fromFile, ...process.env });
}
