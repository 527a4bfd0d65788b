import Handlebars from 'handlebars';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { shellQuote } from './quote';

/**
 * Handlebars set up for rendering bash and config files: no HTML escaping (it does nothing for
 * bash), strict lookups, only our helpers, and explicit quoting through `q`.
 */
const hb = Handlebars.create();
hb.registerHelper('q', (v: unknown) => {
  if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`q: expected a string or number, got ${JSON.stringify(v)}`);
  return shellQuote(String(v));
});
hb.registerHelper('json', (v: unknown) => JSON.stringify(v));
/** A whole number (sizes, ports, seconds): anything else stops the rendering. */
hb.registerHelper('int', (v: unknown) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Error(`int: expected a whole number, got ${JSON.stringify(v)}`);
  return String(v);
});
/** Text inside a comment: one line of printable characters, so it can never end the comment. */
hb.registerHelper('comment', (v: unknown) => {
  if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`comment: expected text, got ${JSON.stringify(v)}`);
  const text = String(v);
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new Error(`comment: refusing control characters in ${JSON.stringify(text)}`);
  return text;
});
/** One sudoers command or path: refused unless it is made of sudoers-inert characters. */
hb.registerHelper('sudoers', (v: unknown) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_./@+ "^$\[\]{}()|*-]+$/.test(v)) throw new Error(`sudoers: refusing ${JSON.stringify(v)}`);
  return v;
});
hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
hb.registerHelper('join', (list: unknown, sep: unknown) => {
  if (!Array.isArray(list) || typeof sep !== 'string') throw new Error('join: expected a list and a separator');
  return list.map((x) => shellQuote(String(x))).join(sep);
});

/** Finds `templates/` beside the bundle (dist/) or the sources (src/render/). */
export function templatesDir(): string {
  const candidates = [resolve(__dirname, '..', 'templates'), resolve(__dirname, '..', '..', 'templates')];
  const found = candidates.find((d) => existsSync(join(d, 'lib')));
  if (!found) throw new Error(`templates/ not found near ${__dirname}`);
  return found;
}

/** Every helper a template may call; a bare {{value}} is refused by tests/unit/render/templates.test.ts. */
export const KNOWN_HELPERS = { q: true, json: true, eq: true, join: true, int: true, comment: true, sudoers: true } as const;

const compiled = new Map<string, HandlebarsTemplateDelegate>();
let partialsLoaded = false;

function load(name: string): string {
  return readFileSync(join(templatesDir(), name), 'utf8');
}

function loadPartials(): void {
  if (partialsLoaded) return;
  // Backend modules are partials (source/<backend>, target/<backend>): each defines the same
  // bash functions for its backend, so a capsule includes whichever the plan chose. docker/ holds
  // the functions the pause capsules and their watchdog share; lib/ those that backends of
  // different roles share (a ZFS pool, a store's data device). runtime.sh is installed as a file
  // of its own and sourced, never included.
  for (const dir of ['source', 'target', 'remote', 'docker', 'lib']) {
    for (const file of readdirSync(join(templatesDir(), dir)).sort()) {
      if (file.endsWith('.sh.hbs') && file !== 'runtime.sh.hbs') hb.registerPartial(`${dir}/${file.slice(0, -7)}`, load(`${dir}/${file}`));
    }
  }
  hb.registerPartial('capsules/header', load('capsules/header.sh.hbs'));
  partialsLoaded = true;
}

/** Renders `templates/<name>` with `context`. */
export function renderTemplate(name: string, context: object): string {
  loadPartials();
  let t = compiled.get(name);
  if (!t) {
    t = hb.compile(load(name), { noEscape: true, strict: true, knownHelpersOnly: true, knownHelpers: KNOWN_HELPERS });
    compiled.set(name, t);
  }
  return t(context);
}
