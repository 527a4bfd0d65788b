/**
 * roles/render/meta/argument_specs.yml, generated: the render role's own options and, as options of
 * its `main` entry point, every inventory variable of src/plan/settings.ts, so that `ansible-doc -t
 * role sbdi.backup.render` documents them and Ansible checks their types on every host when the
 * role starts (tests/unit/plan/settings.test.ts keeps the file in step).
 *
 * That check runs per host, against that host's own variables, before the plan is built. It must
 * never refuse what the plan accepts, so each variable gets the narrowest Ansible type that still
 * takes every value build.ts takes; the plan's validation that follows stays the judge (ranges,
 * patterns, which host reads what, one variable against another).
 */
import yaml from 'js-yaml';
import { SETTINGS, type Accepts, type Variable } from './settings';

export const ARGUMENT_SPECS_PATH = 'roles/render/meta/argument_specs.yml';

interface Option {
  type: string;
  elements?: string;
  choices?: readonly (string | null)[];
  default?: string | number | boolean;
  description: string[];
}

/** The render role's own options (its defaults/main.yml sets them). */
const RENDER_OPTIONS: Record<string, Option> = {
  sbdi_backup_render_dir: {
    type: 'path',
    description: [
      'Controller directory that receives C(_plan.json), C(<host>/MANIFEST.yml), C(<host>/host.json) and the files.',
      'Defaults to C({{ playbook_dir }}/../.cache/render/<deployment_prefix>).',
    ],
  },
  render_cli: {
    type: 'path',
    description: ["The built CLI, C(dist/sbdi-backup.cjs); defaults to C(sbdi_backup_cli) or the repository's C(dist/)."],
  },
  render_director_bundle: {
    type: 'path',
    description: ["The director bundle, C(dist/director.cjs); defaults to C(sbdi_backup_director_bundle) or the repository's C(dist/)."],
  },
  render_node: { type: 'str', default: 'node', description: ['Node.js (>= 18) on the controller.'] },
};

/** Markdown code spans as Ansible's documentation markup. */
function markup(text: string): string {
  return text.replace(/`([^`]+)`/g, 'C($1)');
}

const sentence = (s: string) => `${s.charAt(0).toUpperCase()}${s.slice(1)}${s.endsWith('.') ? '' : '.'}`;

/** 90 → 90s, 600 → 10m, 93600 → 26h, 604800 → 7d. */
function durationText(seconds: number): string {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds > 0 && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** The values a variable takes, in words. */
function acceptsText(a: Accepts): string {
  switch (a.kind) {
    case 'boolean':
      return 'A boolean as Ansible reads one: true/false, yes/no, on/off, 1/0.';
    case 'integer':
      return a.max === undefined
        ? `A whole number, ${a.min} or more (a number or a string of digits).`
        : `A whole number from ${a.min} to ${a.max} (a number or a string of digits).`;
    case 'duration':
      return `A duration from C(${durationText(a.min)}) to C(${durationText(a.max)}): seconds, or a number with C(s), C(m), C(h) or C(d).`;
    case 'path':
      return "An absolute path of letters, digits and C(._-/), without C(..), C(//) or a trailing C(/).";
    case 'choice':
      return `One of ${a.choices.map((c) => `C(${c})`).join(', ')} (null: the default).`;
    case 'text':
    case 'mapping':
      return sentence(markup(a.rule));
    case 'list':
      return sentence(markup(`a list, or one string of comma-separated items: ${a.rule}`));
    case 'size':
      return 'C(0) (no limit), a whole number of GiB, or a size with a unit C(K), C(M), C(G) or C(T) (e.g. C(500M)), at least C(1M).';
  }
}

/**
 * The Ansible type that takes at least what the plan takes. Whole numbers and durations are `raw`:
 * Ansible's `int` refuses `60.0` (which YAML makes a float and the plan reads as 60) and durations
 * may be numbers or strings; sizes are numbers or strings too. `str` converts any scalar, `list`
 * splits a comma-separated string as the plan does, and a choice also takes null, which the plan
 * reads as unset.
 */
function ansibleType(a: Accepts): Pick<Option, 'type' | 'elements' | 'choices'> {
  switch (a.kind) {
    case 'boolean':
      return { type: 'bool' };
    case 'path':
      return { type: 'path' };
    case 'choice':
      return { type: 'str', choices: [...a.choices, null] };
    case 'text':
      return { type: 'str' };
    case 'list':
      return { type: 'list', elements: 'str' };
    case 'mapping':
      return { type: 'dict' };
    case 'integer':
    case 'duration':
    case 'size':
      return { type: 'raw' };
  }
}

function whereText(where: string): string {
  return where === 'all'
    ? "Set for all hosts (C([all:vars]) or C(group_vars/all)); the plan reads it from the director's variables."
    : `Read on: ${where}.`;
}

function option(x: Variable, meaning: string, where: string): Option {
  const description = [
    ...(x.about === undefined ? [] : [sentence(markup(x.about))]),
    ...(meaning === '' ? [] : [sentence(markup(meaning))]),
    acceptsText(x.accepts),
    whereText(where),
    ...(x.defaultText === '(required)' ? ['Required by the plan where it is read.'] : []),
    ...(x.default === undefined && x.defaultText !== undefined && x.defaultText !== '(required)' ? [`Default: ${markup(x.defaultText)}.`] : []),
  ];
  return { ...ansibleType(x.accepts), ...(x.default === undefined ? {} : { default: x.default }), description };
}

/** The argument specs as data: the render role's entry point with its own and the inventory's options. */
export function argumentSpecs(): { argument_specs: Record<string, unknown> } {
  const inventory: Record<string, Option> = {};
  for (const s of SETTINGS) {
    if ('vars' in s) for (const x of s.vars) inventory[x.name] = option(x, s.meaning, s.where);
  }
  return {
    argument_specs: {
      main: {
        short_description: "Render every host's backup files once, on the controller, from the whole inventory",
        description: [
          'Runs C(sbdi-backup render) on the controller (C(delegate_to: localhost), C(run_once)) with the inventory this play was started with (C(ansible_inventory_sources)).',
          "The inventory is validated first; on a bad inventory the play fails here, before anything is installed on any host, with the validator's message (host, variable, what is allowed).",
          'The previous rendering is replaced as a whole, so hosts that left the plan leave no files behind.',
          'Then gives every host of the play the facts the other roles read instead of the files: C(sbdi_backup_render_dir), C(sbdi_backup_plan) (C(_plan.json): the plan\'s hosts, every file and directory sbdi.backup installs on any of them) and, on each host of the plan, C(sbdi_backup_host) (its C(host.json)) and C(sbdi_backup_manifest) (its C(MANIFEST.yml)).',
          'Besides the role\'s own options, every inventory variable the plan reads is listed here (docs/inventory.md has them as a table). Ansible checks their types on each host as the role starts; the ranges, patterns and the variables\' relations are checked by the plan.',
        ],
        options: { ...RENDER_OPTIONS, ...inventory },
      },
      load: {
        short_description: 'Give every host of the play its part of a rendering already made, as facts',
        options: { sbdi_backup_render_dir: { type: 'path', description: ['Controller directory of the rendering.'] } },
      },
    },
  };
}

/** The file's text. */
export function argumentSpecsYaml(): string {
  const header = [
    '---',
    '# Generated from src/plan/settings.ts and src/plan/argument-specs.ts: edit those, then run',
    '# UPDATE_DOCS=1 npx vitest run tests/unit/plan/settings.test.ts',
  ].join('\n');
  return `${header}\n${yaml.dump(argumentSpecs(), { lineWidth: 150, noRefs: true, quotingType: '"' })}`;
}
