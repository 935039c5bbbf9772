/**
 * @module banner
 * The few lines `funnelbeacon serve` prints at start: where the dashboard and (in sandbox mode)
 * the demo funnel are. Logs stay JSON; this is for the person at the terminal.
 */
import type { Config } from '../config.js';
import { formatDuration } from '../duration.js';

/** Where the server listens, and who can reach it from there. */
function listening(config: Config, port: number): string {
  const address = `${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (isLoopbackHost(config.host)) return `  Listening    ${address}: this machine only${config.sandbox ? ' (HOST=0.0.0.0 opens it to the network)' : ''}`;
  return config.sandbox
    ? `  Listening    ${address}: other machines can send events and open recovery links; the dashboard, demo and metrics answer this machine only`
    : `  Listening    ${address}`;
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function startBanner(config: Config, port: number): string {
  const base = config.sandbox ? `http://localhost:${port}` : config.publicUrl;
  if (config.sandbox) {
    return [
      '',
      `funnelbeacon is running in sandbox mode: nothing is sent to Konnektive or ActiveCampaign.`,
      listening(config, port),
      `  Dashboard    ${base}/dashboard/`,
      `  Demo funnel  ${base}/demo/`,
      `Walk the demo, leave at the checkout after typing an email: the cart is abandoned after ${formatDuration(config.abandonAfterMs)}.`,
      '',
    ].join('\n');
  }
  return [
    '',
    `funnelbeacon is running (${config.emitVia} route).`,
    listening(config, port),
    config.dashboardToken ? `  Dashboard    ${base}/dashboard/ (sign in with DASHBOARD_TOKEN)` : '  Dashboard    closed: set DASHBOARD_TOKEN to open it',
    '  Check the setup with `funnelbeacon doctor`.',
    '',
  ].join('\n');
}
