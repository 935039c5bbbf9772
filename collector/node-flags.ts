/**
 * @module node-flags
 * The V8 flags `serve` runs with, to keep the collector's memory within its budget (150 MB RSS
 * under a saturating load, 100 MB at a steady 500 requests/s; docs/BENCHMARKS.md):
 * - `--max-semi-space-size=4`: the young generation grows to 16 MB per semi-space by default,
 *   about 35 MB of RSS under load for objects that live one request. 4 MB, not less: at 2 MB
 *   the scavenges cost a fifth of ingest's throughput, for no RSS saved at 500 requests/s (93-97
 *   MB either way); at 8 MB that RSS passes 100 MB;
 * - `--max-old-space-size=128`: with a smaller limit V8 grows the old generation more sparingly
 *   (it otherwise let garbage pile up to 50 MB between full collections at 500 requests/s). The
 *   collector's live heap is about 20 MB, so the limit leaves six times that.
 *
 * Node reads them only at start, so they cannot be set from here: `dist/cli.js` carries them in
 * its shebang (`funnelbeacon serve`, `./dist/cli.js serve`), and `npm start` and the systemd unit
 * pass them to node. `serve` started without them says so in its log.
 */
export const SERVE_NODE_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=128'] as const;

/** The flags of {@link SERVE_NODE_FLAGS} this process was not started with. */
export function missingNodeFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map((flag) => flag.split('=')[0]!.replaceAll('_', '-'));
  return SERVE_NODE_FLAGS.filter((flag) => !given.includes(flag.split('=')[0]!));
}
