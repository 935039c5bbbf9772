import { Hono } from 'hono';
export function snippetRoute(): Hono {
  return new Hono();
}
