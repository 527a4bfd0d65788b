import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import Handlebars from 'handlebars';
import { describe, expect, it } from 'vitest';
import { KNOWN_HELPERS } from '../../../src/render/engine';

const TEMPLATES = join(__dirname, '..', '..', '..', 'templates');

function templateFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? templateFiles(p) : p.endsWith('.hbs') ? [p] : [];
  });
}

/** Every {{…}} output in a template: its helper (if any) and where it is. */
function outputs(source: string): { helper: string | undefined; params: number; line: number; text: string }[] {
  const found: { helper: string | undefined; params: number; line: number; text: string }[] = [];
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if (n.type === 'MustacheStatement') {
      const path = n.path as { original?: string; type: string };
      const params = (n.params as unknown[]).length;
      found.push({
        helper: params > 0 ? path.original : undefined,
        params,
        line: (n.loc as { start: { line: number } }).start.line,
        text: source.split('\n')[(n.loc as { start: { line: number } }).start.line - 1]!.trim(),
      });
    }
    for (const value of Object.values(n)) {
      if (Array.isArray(value)) value.forEach(visit);
      else if (value && typeof value === 'object' && value !== n.loc) visit(value);
    }
  };
  visit(Handlebars.parse(source));
  return found;
}

describe('templates: no inventory value reaches a script or sudoers unquoted or unchecked', () => {
  const files = templateFiles(TEMPLATES);

  it('finds the templates', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it.each(files.map((f) => [relative(TEMPLATES, f), f]))('%s: every output goes through a quoting or checking helper', (_name, file) => {
    const bare = outputs(readFileSync(file, 'utf8')).filter((o) => o.helper === undefined || !(o.helper in KNOWN_HELPERS));
    expect(bare.map((o) => `line ${o.line}: ${o.text}`)).toEqual([]);
  });

  it('the walker does catch a bare interpolation and an unknown helper', () => {
    expect(outputs('x={{value}}').filter((o) => o.helper === undefined)).toHaveLength(1);
    expect(outputs('x={{shout value}}')[0]!.helper).toBe('shout');
    expect('shout' in KNOWN_HELPERS).toBe(false);
    expect(outputs('{{#if a}}x={{q value}}{{/if}}').map((o) => o.helper)).toEqual(['q']);
  });
});
