/**
 * Every request a browser context makes, bodies included. Beacons are requests too
 * (`type: ping`), and so are those made while a page unloads: listening on the context, not the
 * page, keeps the ones a closing page makes.
 */
import type { BrowserContext, Request } from '@playwright/test';

export interface SeenRequest {
  url: string;
  method: string;
  resourceType: string;
  body: string;
  headers: Record<string, string>;
}

export interface RequestLog {
  all: SeenRequest[];
  /** Requests to `/v1/events`. */
  events(): SeenRequest[];
}

export function recordRequests(context: BrowserContext): RequestLog {
  const all: SeenRequest[] = [];
  context.on('request', (request: Request) => {
    all.push({
      url: request.url(),
      method: request.method(),
      resourceType: request.resourceType(),
      body: request.postData() ?? '',
      headers: request.headers(),
    });
  });
  return { all, events: () => all.filter((request) => new URL(request.url).pathname === '/v1/events') };
}
