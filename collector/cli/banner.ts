/**
 * @module banner
 * The few lines `funnelbeacon serve` prints at start: where the dashboard and (in sandbox mode)
 * the demo funnel are. Logs stay JSON; this is for the person at the terminal.
 */
import type { Config } from '../config.js';
import { formatDuration } from '../duration.js';

export function startBanner(config: Config, port: number): string {
  const base = config.sandbox ? `http://localhost:${port}` : config.publicUrl;
  if (config.sandbox) {
    return [
      '',
      `funnelbeacon is running in sandbox mode: nothing is sent to Konnektive or ActiveCampaign.`,
      `  Dashboard    ${base}/dashboard/`,
      `  Demo funnel  ${base}/demo/`,
      `Walk the demo, leave at the checkout after typing an email: the cart is abandoned after ${formatDuration(config.abandonAfterMs)}.`,
      '',
    ].join('\n');
  }
  return [
    '',
    `funnelbeacon is running (${config.emitVia} route).`,
    config.dashboardToken ? `  Dashboard    ${base}/dashboard/ (sign in with DASHBOARD_TOKEN)` : '  Dashboard    closed: set DASHBOARD_TOKEN to open it',
    '  Check the setup with `funnelbeacon doctor`.',
    '',
  ].join('\n');
}
