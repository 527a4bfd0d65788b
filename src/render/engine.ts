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

const compiled = new Map<string, HandlebarsTemplateDelegate>();
let partialsLoaded = false;

function load(name: string): string {
  return readFileSync(join(templatesDir(), name), 'utf8');
}

function loadPartials(): void {
  if (partialsLoaded) return;
  // Backend modules are partials (source/<backend>, target/<backend>): each defines the same
  // bash functions for its backend, so a capsule includes whichever the plan chose.
  for (const dir of ['source', 'target']) {
    for (const file of readdirSync(join(templatesDir(), dir)).sort()) {
      if (file.endsWith('.sh.hbs')) hb.registerPartial(`${dir}/${file.slice(0, -7)}`, load(`${dir}/${file}`));
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
    t = hb.compile(load(name), { noEscape: true, strict: true, knownHelpersOnly: true, knownHelpers: { q: true, json: true, eq: true, join: true } });
    compiled.set(name, t);
  }
  return t(context);
}
