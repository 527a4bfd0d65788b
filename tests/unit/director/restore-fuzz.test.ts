// The arguments of restore_backup / restore_latest_backup fuzzed. Thousands of
// generated hostile strings (seeded PRNG: a failure names its seed and case, and reruns the same)
// for the backup id, the --only HOST[:PATH] selectors, --from and the option syntax. Each must be
// refused with exit 2 and one clear line naming what is wrong and what is allowed, before any host
// is contacted and before the lock or a run record is written. The other direction keeps the
// generators honest: generated well-formed selectors are accepted and normalised as documented.
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/director/commands';
import { EXIT } from '../../../src/director/exit-codes';
import { parseSelections } from '../../../src/director/restore';
import { rng } from '../../../tools/util/rng';
import { cleanupHarnesses, harness } from './harness';
import { testPlan } from './plan-fixture';

afterEach(cleanupHarnesses);

const SEED = Number(process.env.SBDI_FUZZ_SEED ?? 20260928);
const CASES = Number(process.env.SBDI_FUZZ_CASES ?? 150);
const ID = '20240101_000000';

class Gen {
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = rng(`restore-fuzz:${seed}`);
  }
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** A string of n characters drawn from the alphabet. */
  word(alphabet: string, n: number): string {
    const chars = [...alphabet];
    return Array.from({ length: n }, () => this.pick(chars)).join('');
  }
  insert(s: string, piece: string): string {
    const at = this.int(s.length + 1);
    return s.slice(0, at) + piece + s.slice(at);
  }
}

const SAFE = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-';
/** Pieces no id, host name or path component may contain. */
const HOSTILE = [
  "'", '"', '`', '$(id)', '${IFS}', '`id`', ';', '&&', '|', '>', '<', '\n', '\r', '\t', ' ', '\\', '*', '?', '~', '!', '#', '%', '=', ',', '@', '+', '[', ']', '{', '}',
  '\u0000', '\u001b[2J', '\u007f', 'é', 'ü', '\u200b', '\u2010', '\u2215', '\uff0f', '\u0660', '\uff11', '\u{1f600}', '\ufeff', '\u202e',
];
const SOURCES = ['cassandra-1', 'manager-1'];
const LIVE: Record<string, string> = { 'cassandra-1': '/docker_local', 'manager-1': '/docker' };

/** A well-formed path component: letters, digits, `._-`, not `.` or `..`, not starting with `-`. */
function component(g: Gen): string {
  const c = g.word(`${SAFE}.`, 1 + g.int(12));
  return c === '.' || c === '..' ? `${c}x` : c.startsWith('-') ? `x${c}` : c;
}

function validPath(g: Gen): string {
  return Array.from({ length: 1 + g.int(4) }, () => component(g)).join('/');
}

/** A path that is wrong in exactly one generated way. */
function hostilePath(g: Gen): string {
  const parts = Array.from({ length: 1 + g.int(4) }, () => component(g));
  const i = g.int(parts.length);
  switch (g.int(6)) {
    case 0:
      parts[i] = g.insert(parts[i]!, g.pick(HOSTILE));
      return parts.join('/');
    case 5:
      // rsync, find or tar could take it for an option.
      parts[i] = `${g.pick(['-', '--'])}${parts[i]!}`;
      return parts.join('/');
    case 1:
      parts.splice(i, 0, g.pick(['.', '..']));
      return parts.join('/');
    case 2:
      return parts.join('/').replace(/\//, '//') + (parts.length === 1 ? '//x' : '');
    case 3:
      return Array.from({ length: 120 }, () => 'abcdefghi').join('/'); // 1199 chars > 1024
    default:
      return `${parts.join('/')}/${g.pick(['..', '.'])}/${component(g)}`;
  }
}

/** An id that is not a backup id: a real one mutated once, or a well-formed impossible time. */
function hostileId(g: Gen): string {
  switch (g.int(6)) {
    case 0:
      return g.insert(ID, g.pick(HOSTILE));
    case 1: {
      const i = g.int(ID.length);
      return ID.slice(0, i) + g.pick([...HOSTILE, 'a', '/', '.', '-', '\u0661']) + ID.slice(i + 1);
    }
    case 2:
      return ID.slice(0, g.int(ID.length));
    case 3:
      return ID + g.pick(['\n', ' ', '0', '_000000', '/../x', '\u0000']);
    case 4:
      // Month 13..99, day 32..99, hour 24..99: the syntax is right, the time is not.
      return g.pick([
        `2024${13 + g.int(87)}01_000000`,
        `202401${32 + g.int(68)}_000000`,
        `20240101_${24 + g.int(76)}0000`,
        `20240101_00${60 + g.int(40)}00`,
        '20230229_000000',
      ]);
    default:
      return g.pick(['', '-', '--', 'latest', '..', '../20240101_000000', '*', '20240101', '2024-01-01_00:00:00']);
  }
}

interface Fuzzed {
  argv: string[];
  /** What the one error line must say. */
  why: RegExp;
}

/** One hostile argument vector: exactly one part of it is wrong. */
function hostileArgv(g: Gen): Fuzzed {
  const command = g.pick(['restore_backup', 'restore_latest_backup'] as const);
  const head = command === 'restore_backup' ? [command, ID] : [command];
  switch (g.int(7)) {
    case 0: {
      if (command === 'restore_latest_backup') {
        const extra = hostileId(g);
        // `--` alone only ends the options: `restore_latest_backup --` is well-formed.
        if (extra === '--') return hostileArgv(g);
        return { argv: [command, extra], why: extra.startsWith('-') && extra.length > 1 ? /Unknown option|ambiguous|takes no arguments/ : /this command takes no arguments/ };
      }
      const id = hostileId(g);
      // An id starting with '-' is read as an option.
      return { argv: ['restore_backup', id], why: id.startsWith('-') && id.length > 1 ? /Unknown option|expected 1 argument|ambiguous/ : /backup id must look like YYYYMMDD_HHMMSS/ };
    }
    case 1: {
      const host = g.pick([
        g.insert(g.pick(SOURCES), g.pick(HOSTILE)),
        g.pick(SOURCES).toUpperCase(),
        g.pick(SOURCES).replace('-', '\u2010'),
        g.pick(['backup-target', 'backup-director', 'solr-1', '', '*', 'all', '..', 'localhost']),
        g.word(SAFE, 1 + g.int(300)),
      ]);
      if (SOURCES.includes(host)) return hostileArgv(g);
      return { argv: [...head, `--only=${host}${g.int(2) ? `:${validPath(g)}` : ''}`], why: /is not a backup source of this plan \(one of: cassandra-1, manager-1\)/ };
    }
    case 2: {
      const host = g.pick(SOURCES);
      const abs = g.int(2) === 1;
      return { argv: [...head, `--only=${host}:${abs ? `${LIVE[host]}/` : ''}${hostilePath(g)}`], why: /made of letters, digits and '\._-', parts separated by single '\/', none of them '\.' or '\.\.'/ };
    }
    case 3: {
      const host = g.pick(SOURCES);
      const outside = g.pick(['/etc/passwd', '/', '///', `${LIVE[host]}x/a`, `${LIVE[host]}_local/a`, '/root/.ssh', '//docker/a', `/..${LIVE[host]}/a`, '/tmp', '/backup/current']);
      if (g.int(8) === 0) return { argv: [...head, '--only', `${host}:`], why: /empty path after ':'; write just .* to restore the whole source/ };
      return { argv: [...head, '--only', `${host}:${outside}`], why: new RegExp(`must lie inside ${host}'s source dir`) };
    }
    case 4: {
      const host = g.pick(SOURCES);
      return { argv: [...head, '--only', `${host}:${validPath(g)}`, '--only', g.int(2) ? host : `${host}:${validPath(g)}`], why: /names .* twice: one selector per source/ };
    }
    case 5: {
      const store = g.pick([g.pick(HOSTILE), 'prod', '../prod', g.word(SAFE, 1 + g.int(40)), '']);
      return { argv: [...head, `--from=${store}`], why: /this target has no foreign stores/ };
    }
    default: {
      const bad = g.pick([
        ['--only'],
        ['--from'],
        ['--dry-run=yes'],
        ['--dry-run=', '--only', 'manager-1'],
        [`--${g.word('abcdefghijklmnopqrstuvwxyz-', 1 + g.int(12))}`],
        ['-x'],
        ['-o', 'manager-1'],
        [g.pick(['--ONLY', '--Only', '--only-', '--dryrun', '--from-store']), 'x'],
        [ID],
        ['manager-1'],
      ]);
      return { argv: [...head, ...bad], why: /Unknown option|does not take an argument|argument missing|requires an argument|expected 1 argument|takes no arguments|ambiguous/i };
    }
  }
}

describe(`restore_backup argument fuzzing (seed ${SEED}, ${CASES} cases per kind)`, () => {
  it('every hostile argument vector is refused with exit 2 and one clear line, before any host, lock or record', async () => {
    const g = new Gen(SEED);
    const kinds = new Map<string, number>();
    for (let i = 0; i < CASES * 7; i++) {
      // Refusals settle in microtasks only: yield to the event loop now and then, or the worker
      // cannot answer vitest's RPC on a loaded machine ("Timeout calling onTaskUpdate").
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
      const { argv, why } = hostileArgv(g);
      const h = harness();
      const code = await runCommand(h.ctx, argv);
      const label = `case ${i} (seed ${SEED}): ${JSON.stringify(argv)}`;
      expect(code, `${label}\n${h.lines.join('\n')}`).toBe(EXIT.USAGE);
      // Nothing was contacted, locked or recorded.
      expect(h.transport.connects, label).toEqual([]);
      expect(h.transport.calls, label).toEqual([]);
      expect(readdirSync(h.state.dir), label).toEqual([]);
      // One error line that says why (control characters never reach the terminal or syslog) …
      const errors = h.lines.filter((l) => / ERROR /.test(l));
      expect(errors, label).toHaveLength(1);
      expect(errors[0], label).toMatch(why);
      expect(errors[0], label).not.toMatch(/[\x00-\x1f\x7f]/);
      // … and the usage with the exit-code table.
      expect(h.usage.join('\n'), label).toMatch(/--only HOST\[:PATH\][\s\S]*exit codes:/);
      const kind = errors[0]!.replace(/^\[[^\]]*\] ERROR usage\s+/, '').slice(0, 24);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      h.cleanup();
    }
    // The generator reached every refusal, not one of them thousands of times.
    expect(kinds.size, [...kinds.keys()].join('\n')).toBeGreaterThanOrEqual(8);
  }, 120_000);

  it('a hostile value is quoted in the message, so an operator sees exactly what was refused', async () => {
    const h = harness();
    expect(await runCommand(h.ctx, ['restore_backup', ID, '--only', 'manager-1:a\nb;$(id)'])).toBe(EXIT.USAGE);
    expect(h.lines.join('\n')).toContain('"manager-1:a\\nb;$(id)"');
    const k = harness();
    expect(await runCommand(k.ctx, ['restore_backup', '20241301_000000'])).toBe(EXIT.USAGE);
    expect(k.lines.join('\n')).toContain('got "20241301_000000"');
  });

  it('generated well-formed selectors are accepted and normalised (the generator is not refusing everything)', () => {
    const g = new Gen(SEED + 1);
    const plan = testPlan();
    for (let i = 0; i < CASES; i++) {
      const host = g.pick(SOURCES);
      const path = validPath(g);
      const form = g.int(3);
      const text = form === 0 ? `${host}:${path}` : form === 1 ? `${host}:${LIVE[host]}/${path}` : `${host}:${LIVE[host]}/${path}///`;
      const sel = parseSelections(plan, [text]);
      expect(sel.map((s) => [s.source.host, s.path]), text).toEqual([[host, path]]);
    }
    // The 1024-character limit itself is accepted, one more is not.
    const long = `${'a'.repeat(511)}/${'b'.repeat(512)}`;
    expect(parseSelections(plan, [`manager-1:${long}`])[0]?.path).toBe(long);
    expect(() => parseSelections(plan, [`manager-1:${long}c`])).toThrow(/letters, digits/);
  });

  it('a well-formed id and selector pass the parser and reach the target (the refusals above are the parser\'s)', async () => {
    const h = harness();
    const code = await runCommand(h.ctx, ['restore_backup', '20240229_235959', '--only', 'manager-1:a/b', '--dry-run']);
    // The fake target has no such backup: refused by the preflight, after connecting.
    expect(code).toBe(EXIT.NO_SUCH_BACKUP);
    expect(h.transport.connects.length).toBeGreaterThan(0);
  });
});
