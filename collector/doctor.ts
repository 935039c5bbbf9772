/**
 * @module doctor
 * `funnelbeacon doctor`: runs {@link runChecks} and prints one line per check; exits 1 when any
 * check failed (a warning alone does not fail).
 */
import type { ConfigResult } from './config.js';
import { runChecks, type DoctorOptions } from './doctor-checks.js';

const LABEL = { ok: 'ok   ', warn: 'WARN ', fail: 'FAIL ' } as const;

export async function runDoctor(result: ConfigResult, print: (line: string) => void = console.log, options: DoctorOptions = {}): Promise<number> {
  const checks = await runChecks(result, options);
  for (const check of checks) print(`${LABEL[check.status]} ${check.name}: ${check.message}`);
  return checks.some((check) => check.status === 'fail') ? 1 : 0;
}
