/**
 * @module job-link
 * Where a job's outbox key leads. A funnel job's key is its session; the lifecycle sync's are not
 * sessions: `lifecycle:poll` (the poll) leads nowhere, and `customer:<email>` (a customer's
 * deliveries) leads to the sessions of that email, where the buyer's page lists the events.
 */
export function jobHref(key: string): string | undefined {
  if (key.startsWith('lifecycle:')) return undefined;
  if (key.startsWith('customer:')) {
    const rest = key.slice('customer:'.length);
    // `customer:konnektive:<id>`: Konnektive gave no email, so no session can be found by it.
    return rest.includes('@') ? `#/sessions?q=${encodeURIComponent(rest)}` : undefined;
  }
  return `#/sessions/${encodeURIComponent(key)}`;
}

/** A job's key as a link, or as plain words where it leads to no page. */
export function JobLink({ jobKey, label }: { jobKey: string; label: string }) {
  const href = jobHref(jobKey);
  if (href) return <a href={href}>{jobKey.startsWith('customer:') ? 'the buyer’s sessions' : label}</a>;
  return <span>{jobKey.startsWith('lifecycle:') ? 'lifecycle poll' : 'lifecycle customer'}</span>;
}
