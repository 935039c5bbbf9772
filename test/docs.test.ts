/**
 * The documentation keeps up with the code. Every environment variable the configuration module
 * reads has a row in docs/configuration.md; every `data-*` attribute the snippet reads (found in
 * its source, so a new one cannot be forgotten) is in docs/snippet.md; the README stays a page a
 * newcomer reads in five minutes; and no relative link or `#anchor` in the README or docs/ leads
 * nowhere, so moving a section cannot silently break the pages that point to it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvSchema } from '../collector/config.js';

const read = (path: string): string => readFileSync(path, 'utf8');

/** The text outside fenced code blocks: a `#` or `](` inside an example is not markdown. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's heading anchors: lower case, punctuation but `-` and `_` dropped, spaces as `-`, repeats numbered. */
export function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, text] of prose(markdown).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = text!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** `camelCase` as the attribute `data-camel-case`, as `dataset` maps them. */
const attribute = (key: string): string => `data-${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;

/** The `data-*` attributes the snippet's source reads: `tag.x`, `data.x`, `dataset.x`, `'x' in tag`. */
function snippetAttributes(): string[] {
  const found = new Set<string>();
  for (const file of readdirSync('snippet/src').filter((name) => name.endsWith('.ts'))) {
    const code = read(join('snippet/src', file))
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    for (const [, key] of code.matchAll(/\b(?:tag|data|dataset)\.([a-z][A-Za-z]*)\b/g)) if (key !== 'dataset') found.add(attribute(key!));
    for (const [, key] of code.matchAll(/['"]([a-z][A-Za-z]*)['"] in (?:tag|data|dataset)\b/g)) found.add(attribute(key!));
  }
  return [...found].sort();
}

const pages = ['README.md', ...readdirSync('docs').filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

describe('documentation', () => {
  it('docs/configuration.md has a table row for every variable the configuration reads', () => {
    const rows = read('docs/configuration.md')
      .split('\n')
      .filter((line) => line.startsWith('|'));
    const variables = Object.keys(EnvSchema.shape);
    expect(variables.length).toBeGreaterThan(50);
    const missing = variables.filter((name) => !rows.some((row) => row.includes(`\`${name}\``)));
    expect(missing, 'variables without a row in docs/configuration.md').toEqual([]);
  });

  it("docs/snippet.md documents every data-* attribute the snippet's source reads", () => {
    const attributes = snippetAttributes();
    // The reads the pattern must find, or the pattern itself is broken.
    for (const known of ['data-page', 'data-collector', 'data-domains', 'data-debug', 'data-funnel-field', 'data-product-image']) {
      expect(attributes).toContain(known);
    }
    const doc = read('docs/snippet.md');
    const missing = attributes.filter((name) => !doc.includes(`\`${name}\``) && !doc.includes(`\`${name}=`));
    expect(missing, 'attributes not in docs/snippet.md').toEqual([]);
  });

  it('README.md is under 200 lines', () => {
    expect(read('README.md').split('\n').length).toBeLessThan(200);
  });

  it('README.md links to every page in docs/', () => {
    const readme = read('README.md');
    const unlinked = pages.filter((page) => page !== 'README.md' && !readme.includes(`](${page})`) && !readme.includes(`](${page}#`));
    expect(unlinked).toEqual([]);
  });

  it('every relative link in README.md and docs/ leads to a file, and every #anchor to a heading in it', () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const [, target] of prose(read(page)).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto:
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const file = path === '' ? page : normalize(join(dirname(page), decodeURIComponent(path)));
        if (!existsSync(file)) {
          broken.push(`${page}: ${target} (no file ${file})`);
        } else if (anchor !== undefined && file.endsWith('.md') && !anchorsOf(read(file)).has(anchor)) {
          broken.push(`${page}: ${target} (no heading #${anchor} in ${file})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('anchors follow GitHub: punctuation dropped, spaces as dashes, repeats numbered', () => {
    const anchors = anchorsOf("# A\n## What ActiveCampaign's email shows, and what we send\n### Emission routes (`EMIT_VIA`)\n## A\n```\n# not a heading\n```\n");
    expect([...anchors]).toEqual(['a', 'what-activecampaigns-email-shows-and-what-we-send', 'emission-routes-emit_via', 'a-1']);
  });
});
