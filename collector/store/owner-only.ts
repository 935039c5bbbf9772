/**
 * @module owner-only
 * The SQLite store and its backups hold every buyer's lead (and, in sandbox mode, the signing
 * secret), so only the user the collector runs as may read them: directories the collector
 * creates are 0700, files 0600, whatever the umask says (a umask only ever removes bits, and the
 * usual 0022 would leave them readable by every local user). SQLite gives a database's -wal,
 * -shm and -journal files the database file's own mode.
 *
 * Directories that exist already are left as they are: they may be shared (`/var/lib`, a home
 * directory), and their owner chose their mode. Files that exist already are tightened (group and
 * other bits removed) where this user may change them.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const OWNER_ONLY_DIR = 0o700;
export const OWNER_ONLY_FILE = 0o600;

/** Creates `dir` and its missing parents, each 0700; existing ones are not touched. */
export function makeOwnerOnlyDir(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: OWNER_ONLY_DIR });
  if (first === undefined) return;
  const top = resolve(first);
  for (let current = resolve(dir); ; current = dirname(current)) {
    chmodSync(current, OWNER_ONLY_DIR);
    if (current === top || current === dirname(current)) break;
  }
}

/** Creates `file` empty with mode 0600 if it does not exist; an existing one is tightened. */
export function ensureOwnerOnlyFile(file: string): void {
  try {
    closeSync(openSync(file, 'wx', OWNER_ONLY_FILE));
    chmodSync(file, OWNER_ONLY_FILE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    tightenFile(file);
  }
}

/**
 * Removes the group and other bits of an existing file (0644 becomes 0600). A missing file is
 * fine, and so is one this user may not change (another user's file it only reads).
 */
export function tightenFile(file: string): void {
  try {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) chmodSync(file, mode & 0o700);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'EPERM') throw error;
  }
}
