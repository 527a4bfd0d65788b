import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, relative } from 'node:path';
import yaml from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../../tools/sandbox/exec';
import { planFromInventory } from '../../../src/plan';
import { PLAN_FILE, renderPlan, writeRendered, type HostSlice, type PlanSummary } from '../../../src/render';
import { SUBPATH_ERE, isSubpath } from '../../../src/plan/checks';

const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'inventories');
const GOLDEN = join(__dirname, '..', '..', 'golden');
const INVENTORIES = {
  seed: join(FIXTURES, 'seed', 'hosts'),
  uat: join(FIXTURES, 'uat', 'hosts'),
  'single-host': join(FIXTURES, 'single-host', 'hosts'),
  full: join(FIXTURES, 'full', 'hosts.yml'),
  'two-target': join(FIXTURES, 'two-target', 'hosts'),
};
/** A stand-in for dist/director.cjs so the golden files do not change with every director edit. */
const BUNDLE = '#!/usr/bin/env node\n// director bundle stand-in for golden tests\n';

/** The hosts' directories of a rendering (beside them: the plan-wide file). */
const hostsIn = (out: string): string[] => readdirSync(out).filter((f) => f !== PLAN_FILE);

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  walk(root);
  return out;
}

/**
 * What makes two hosts render alike: their roles and backends, and which parts host.json has.
 * Hosts of one shape differ only in names and values, so the goldens keep every file of the first
 * host of each shape and, of the others, what is written per host: host.json, sudoers, the
 * dispatch and authorized_keys.
 */
function hostShape(out: string, host: string): string {
  const h = JSON.parse(readFileSync(join(out, host, 'host.json'), 'utf8')) as Record<string, { backend?: string } | string[] | undefined>;
  const backend = (k: string) => (h[k] as { backend?: string } | undefined)?.backend ?? '-';
  return JSON.stringify([h.roles, backend('source'), backend('target'), backend('remote'), Object.keys(h).sort()]);
}

const PER_HOST = /^(host\.json|MANIFEST\.yml|etc\/sudoers\.d\/.*|.*\/sbdi-dispatch|.*\/\.ssh\/authorized_keys)$/;

function goldenFiles(out: string): string[] {
  const seen = new Set<string>();
  const kept: string[] = [PLAN_FILE];
  for (const host of hostsIn(out).sort()) {
    const shape = hostShape(out, host);
    const whole = !seen.has(shape);
    seen.add(shape);
    for (const f of listFiles(join(out, host))) if (whole || PER_HOST.test(f)) kept.push(join(host, f));
  }
  return kept;
}

describe.each(Object.entries(INVENTORIES))('rendering the %s inventory', (name, inventory) => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), `sbdi-render-${name}-`));
    writeRendered(renderPlan(planFromInventory(inventory), BUNDLE), out);
  });

  it('matches the golden files byte for byte (UPDATE_GOLDEN=1 rewrites them)', () => {
    const golden = join(GOLDEN, name);
    const kept = goldenFiles(out);
    if (process.env.UPDATE_GOLDEN === '1') {
      execFileSync('rm', ['-rf', golden]);
      for (const f of kept) {
        mkdirSync(dirname(join(golden, f)), { recursive: true });
        copyFileSync(join(out, f), join(golden, f));
      }
    }
    expect([...kept].sort()).toEqual(listFiles(golden).sort());
    for (const f of kept) expect(readFileSync(join(out, f), 'utf8'), f).toBe(readFileSync(join(golden, f), 'utf8'));
  });

  it('renders the same files for every host of one shape', () => {
    const byShape = new Map<string, string>();
    for (const host of hostsIn(out).sort()) {
      const shape = hostShape(out, host);
      const first = byShape.get(shape);
      if (!first) byShape.set(shape, host);
      else expect(listFiles(join(out, host)), `${host} against ${first}`).toEqual(listFiles(join(out, first)));
    }
  });

  it('is byte-identical when rendered again from the same inventory', () => {
    const again = mkdtempSync(join(tmpdir(), `sbdi-render-${name}-again-`));
    writeRendered(renderPlan(planFromInventory(inventory), BUNDLE), again);
    expect(execFileSync('diff', ['-r', out, again], { encoding: 'utf8' })).toBe('');
  });

  it('lists every rendered file in MANIFEST.yml with owner, mode and purpose, and nothing else', () => {
    for (const host of hostsIn(out)) {
      const manifest = yaml.load(readFileSync(join(out, host, 'MANIFEST.yml'), 'utf8')) as Record<string, string>[];
      const listed = manifest.map((m) => m.src).sort();
      const present = listFiles(join(out, host)).filter((f) => f !== 'MANIFEST.yml' && f !== 'host.json').sort();
      expect(listed).toEqual(present);
      for (const m of manifest) {
        expect(m.owner).toBe('root');
        expect(m.mode).toMatch(/^0[0-7]{3}$/);
        expect(m.purpose?.length).toBeGreaterThan(10);
        if (m.path!.includes('/libexec/') || m.path!.includes('/bin/')) expect(m.mode).toBe('0755');
        if (m.kind === 'sudoers') expect(m.mode).toBe('0440');
      }
    }
  });

  it("gives each file's sha1, and what each host keeps: its files, key pairs, known_hosts and directories", () => {
    for (const host of hostsIn(out)) {
      const manifest = yaml.load(readFileSync(join(out, host, 'MANIFEST.yml'), 'utf8')) as Record<string, string>[];
      for (const m of manifest) {
        const content = readFileSync(join(out, host, m.src!));
        expect(m.sha1, m.path).toBe(m.kind === 'authorized_keys' ? undefined : createHash('sha1').update(content).digest('hex'));
      }
      const slice = JSON.parse(readFileSync(join(out, host, 'host.json'), 'utf8')) as HostSlice;
      const files = slice.expected.files;
      expect(files).toEqual([...new Set(files)].sort());
      for (const m of manifest) expect(files, host).toContain(m.path);
      for (const k of slice.keys) expect(files, host).toEqual(expect.arrayContaining([k.path, `${k.path}.pub`]));
      if (slice.knownHosts.file) expect(files, host).toContain(slice.knownHosts.file);
      if (slice.source) expect(files, host).toContain(`${slice.paths.etc}/known_hosts`);
      if (slice.remoteKnownHosts) expect(files, host).toContain(slice.remoteKnownHosts.file);
      expect(slice.expected.dirs).toEqual(slice.directories.map((d) => d.path));
    }
  });

  it('sums up in _plan.json what sbdi.backup installs on any host of the plan', () => {
    const summary = JSON.parse(readFileSync(join(out, PLAN_FILE), 'utf8')) as PlanSummary;
    const slices = hostsIn(out).map((h) => JSON.parse(readFileSync(join(out, h, 'host.json'), 'utf8')) as HostSlice);
    expect(summary.hosts).toEqual(hostsIn(out).sort());
    const paths = slices[0]!.paths;
    // Also what earlier versions installed where nothing is now: a host that has it loses it.
    const former = [`${paths.lib}/log_utils`];
    expect(summary.files).toEqual([...new Set([...slices.flatMap((s) => s.expected.files), ...former])].sort());
    for (const s of slices) for (const f of former) expect(s.expected.files).not.toContain(f);
    expect(summary.ownedDirs).toEqual([paths.bin, paths.capsules, paths.share, paths.etc].sort());
    expect(summary.wholeDirs).toEqual([paths.bin, paths.capsules].sort());
    for (const f of summary.files) expect(summary.scanDirs).toContain(posix.dirname(f));
    for (const d of summary.ownedDirs) expect(summary.scanDirs).toContain(d);
  });

  // Long checks run asynchronously: a worker blocked in spawnSync for a minute on a loaded machine
  // misses vitest's RPC deadline.
  it('renders bash that shellcheck passes, with set -euo pipefail and a root check in every capsule', async () => {
    const scripts = hostsIn(out).flatMap((h) =>
      listFiles(join(out, h)).filter((f) => f.includes('libexec/')).map((f) => join(out, h, f)),
    );
    expect(scripts.length).toBeGreaterThan(10);
    for (const s of scripts) {
      const text = readFileSync(s, 'utf8');
      expect(text, s).toMatch(/^#!\/bin\/bash\n/);
      expect(text, s).toContain('set -euo pipefail');
      if (!s.endsWith('sbdi-dispatch')) expect(text, s).toContain('sbdi_require_root');
    }
    // shellcheck reads what the goldens keep: every file of one host of each shape, and what is
    // written per host. Hosts of one shape differ only in checked names and values, which change
    // nothing shellcheck looks at; checking all of them took minutes.
    const kept = new Set(goldenFiles(out).map((f) => join(out, f)));
    const checked = scripts.filter((s) => kept.has(s));
    expect(new Set(checked.map((s) => basename(s)))).toEqual(new Set(scripts.map((s) => basename(s))));
    const libs = hostsIn(out).map((h) => join(out, h, 'opt/sbdi/lib/backup-runtime')).filter((l) => kept.has(l));
    expect(libs.length).toBeGreaterThan(0);
    const r = await run('shellcheck', ['-s', 'bash', ...checked, ...libs], { timeoutMs: 600_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const s of scripts) expect((await run('bash', ['-n', s])).code, s).toBe(0);
  }, 600_000);

  it('renders sudoers fragments that visudo accepts, naming only capsules', async () => {
    for (const host of hostsIn(out)) {
      const f = join(out, host, 'etc/sudoers.d/43-sbdi-backup');
      if (!existsSync(f)) continue;
      const r = await run('visudo', ['-cf', f]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const text = readFileSync(f, 'utf8');
      expect(text).not.toMatch(/\/usr\/bin\/rsync|\srsync\b/);
      expect(text).not.toMatch(/ALL\s*$/m);
      for (const line of text.split('\n').filter((l) => l.startsWith('    /'))) expect(line).toMatch(/^    \/opt\/sbdi\/backup\/libexec\/[a-z_]+ /);
    }
  });

  it('sudoers: the operator never reaches a receiving or sending end; no argument may begin with a dash; both accounts get a clean environment', async () => {
    for (const host of hostsIn(out)) {
      const f = join(out, host, 'etc/sudoers.d/43-sbdi-backup');
      if (!existsSync(f)) continue;
      const text = readFileSync(f, 'utf8');
      const grants = text.split('\n').filter((l) => / ALL = \(root\) NOPASSWD: /.test(l));
      expect(grants.length).toBeGreaterThan(0);
      for (const g of grants) {
        const [user, rest] = g.split(' ALL = (root) NOPASSWD: ') as [string, string];
        const [path, ...args] = rest.split(' ');
        const capsule = path!.split('/').pop()!;
        const receiving = ['receive_backup', 'send_restore', 'receive_replica'].includes(capsule);
        expect(user, `${host}: ${g}`).toBe(receiving ? 'sbdi-receive' : 'backupoperator');
        // One argument at most: "" (none), a fixed word, or a regular expression (^...$) whose
        // first character can never be a dash.
        expect(args.length, g).toBeLessThanOrEqual(1);
        const arg = args[0] ?? '';
        if (arg.startsWith('^')) {
          const re = new RegExp(arg);
          for (const probe of ['-', '-x', '--delete', '-/x']) expect(re.test(probe), `${host}: ${g} takes ${probe}`).toBe(false);
        } else {
          expect(arg, `${host}: ${g}`).toMatch(/^(""|[A-Za-z0-9_][A-Za-z0-9_.@+-]*)$/);
        }
      }
      for (const user of new Set(grants.map((g) => g.split(' ')[0]!))) {
        expect(text, `${host}: ${user}`).toContain(`Defaults:${user} env_reset, !setenv, secure_path="/usr/sbin:/usr/bin:/sbin:/bin"`);
      }
    }
  });

  it('mounts every store with nosuid, nodev and noexec: pools, btrfs mounts, activations', () => {
    const HARDENED = /nosuid,nodev,noexec/;
    let seen = 0;
    for (const host of hostsIn(out)) {
      const dir = join(out, host, 'opt/sbdi/backup/libexec');
      if (!existsSync(dir)) continue;
      // What a source mounts is its own snapshot, not a store: those capsules are not the store's.
      for (const capsule of readdirSync(dir).filter((c) => !/^(prepare_source_snapshot|perform_rsync|remove_source_snapshot|restore_source(_dry_run)?)$/.test(c))) {
        const lines = readFileSync(join(dir, capsule), 'utf8').split('\n');
        lines.forEach((line, i) => {
          const code = line.trim();
          if (code.startsWith('#')) return;
          const where = `${host}/${capsule}:${i + 1}: ${code}`;
          if (/^zpool create /.test(code)) {
            seen++;
            for (const p of ['setuid=off', 'devices=off', 'exec=off']) expect(code, where).toContain(`-O ${p}`);
          } else if (/^mount --bind /.test(code)) {
            // A bind mount is made read-only and hardened on the very next line, by a remount of the same point.
            seen++;
            const point = code.split(' ').pop()!;
            expect(lines[i + 1]!.trim(), where).toMatch(new RegExp(`^mount -o remount,bind,ro,nosuid,nodev,noexec ${point.replace(/[$.*+?^{}()|[\]\\]/g, '\\$&')}$`));
          } else if (/^mount (-t \S+ )?-o /.test(code)) {
            seen++;
            // Options kept in a variable are checked where it is set.
            const options = code.includes('"$mount_options"') ? lines.find((l) => l.startsWith('mount_options='))! : code;
            expect(options, where).toMatch(HARDENED);
          }
        });
      }
    }
    expect(seen).toBeGreaterThan(0);
  });

  it('confines every authorized key with restrict and a forced command', () => {
    for (const host of hostsIn(out)) {
      // The operator's: the director's key alone. The receiving account's: the source and target keys.
      for (const [file, kinds] of [
        ['home/backupoperator/.ssh/authorized_keys', /^director$/],
        ['var/lib/sbdi-receive/.ssh/authorized_keys', /^(push|pull|replicate)$/],
      ] as const) {
        const f = join(out, host, file);
        if (!existsSync(f)) continue;
        const keys = readFileSync(f, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
        expect(keys.length).toBeGreaterThan(0);
        for (const k of keys) {
          const m = /^restrict,command="[^"]+" @@KEY:[a-z0-9-]+:([a-z]+)@@ sbdi-backup /.exec(k);
          expect(m?.[1], `${host}: ${k}`).toMatch(kinds);
        }
      }
    }
  });
});

describe('a partial-restore path, checked alike by the director, sudoers and the capsules', () => {
  const samples = [
    'a', 'a/b', '.config', 'a/.x', '_a', 'a-b', 'a.b', '..x', '.-x', 'x-',
    '-a', '--delete', 'a/-x', 'a/--rsh=sh', '.', '..', 'a/./b', 'a/../b', 'a//b', '/a', 'a/', '', 'a b', 'a;b', '$(id)', 'é',
  ];
  it('each one is accepted or refused by all three', () => {
    const fn = readFileSync(join(__dirname, '..', '..', '..', 'templates', 'source', 'subpath.sh.hbs'), 'utf8');
    const script = `${fn}\nfor p in "$@"; do if sbdi_valid_subpath "$p"; then echo y; else echo n; fi; done`;
    const bash = spawnSync('bash', ['-c', script, 'check', ...samples], { encoding: 'utf8' }).stdout.trim().split('\n');
    const sudoers = samples.map((p) => (spawnSync('grep', ['-q', '-E', SUBPATH_ERE], { input: `${p}\n`, encoding: 'utf8' }).status === 0 && !p.includes('\n') ? 'y' : 'n'));
    const director = samples.map((p) => (isSubpath(p) ? 'y' : 'n'));
    expect(Object.fromEntries(samples.map((p, i) => [p, [director[i], sudoers[i], bash[i]].join('')]))).toEqual(
      Object.fromEntries(samples.map((p) => [p, /^(-|.*\/-)/.test(p) || ['.', '..', 'a/./b', 'a/../b', 'a//b', '/a', 'a/', '', 'a b', 'a;b', '$(id)', 'é'].includes(p) ? 'nnn' : 'yyy'])),
    );
  });
});

describe('which sources push only their changes', () => {
  // A push of only the changes finds an entry by its moved ctime. Gluster (features.ctime) and
  // zfs-fuse keep the ctime of an entry whose xattrs or ACL alone changed: they push whole trees.
  const decision = (inventory: string, host: string): string => {
    const content = renderPlan(planFromInventory(inventory), BUNDLE).hosts.get(host)!.get('opt/sbdi/backup/libexec/perform_rsync')!;
    return /^  if (.*); then\n    scan=changes$/m.exec(content)![1]!;
  };
  it('a Gluster source never does', () => {
    expect(decision(INVENTORIES.seed, 'manager-1')).toBe('false');
  });
  it('an LVM or btrfs source does, given the base and its listing', () => {
    expect(decision(INVENTORIES.seed, 'cassandra-1')).toBe('[ "$base" != - ] && [ -s "$old_listing" ]');
  });
});

describe('the CLI', () => {
  const cli = join(__dirname, '..', '..', '..', 'dist', 'sbdi-backup.cjs');
  it('refuses a bad inventory with exit 2, one line per problem, and writes nothing', () => {
    const d = mkdtempSync(join(tmpdir(), 'sbdi-cli-'));
    const inv = join(d, 'bad.ini');
    writeFileSync(inv, '[backup_director]\nd\n[backup_targets]\nt\n[backup_sources]\ns gluster_backup_source=True lvm_backup_source=True\n');
    const bundle = join(d, 'bundle.cjs');
    writeFileSync(bundle, BUNDLE);
    const r = spawnSync('node', [cli, 'render', '--inventory', inv, '--out', join(d, 'out'), '--director-bundle', bundle], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("host 'd': deployment_prefix is missing");
    expect(r.stderr).toContain("host 's': gluster_backup_source/lvm_backup_source/btrfs_backup_source/zfs_backup_source");
    expect(existsSync(join(d, 'out'))).toBe(false);
  });

  it('prints the plan as JSON and as text', () => {
    const json = JSON.parse(execFileSync('node', [cli, 'plan', '--inventory', INVENTORIES.seed, '--json'], { encoding: 'utf8' }));
    expect(json.director).toBe('backup-director');
    const text = execFileSync('node', [cli, 'plan', '--inventory', INVENTORIES.seed], { encoding: 'utf8' });
    expect(text).toContain('manager-1        gluster /docker → /gluster_backupsource → backup-target:/backup/current/manager-1@+docker');
    // Several targets: each source shows the target it lands on.
    const two = execFileSync('node', [cli, 'plan', '--inventory', INVENTORIES['two-target']], { encoding: 'utf8' });
    expect(two).toContain('targets backup-target-a (zfs), backup-target-b (btrfs)');
    expect(two).toContain('solr-1           lvm     /docker_local → /local_backupsource → backup-target-b:/backup/current/solr-1@+docker_local');
    expect(two).toContain('target backup-target-b: /backup/current on btrfs (zstd:3, on /var/lib/sbdi/backup.img)\n        receives solr-1; replicated to offsite-b');
  });

  it('answers bad arguments with usage and exit 2', () => {
    const r = spawnSync('node', [cli, 'render', '--bogus'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage:');
  });
});

describe('writeRendered', () => {
  it('removes the rendering of a host that left the plan, and nothing that is not ours', () => {
    const out = mkdtempSync(join(tmpdir(), 'sbdi-render-stale-'));
    execFileSync('mkdir', ['-p', join(out, 'gone-host'), join(out, 'not-ours')]);
    writeFileSync(join(out, 'gone-host', 'MANIFEST.yml'), '[]\n');
    writeFileSync(join(out, 'not-ours', 'keep.txt'), 'x');
    writeRendered(renderPlan(planFromInventory(INVENTORIES.seed), BUNDLE), out);
    expect(existsSync(join(out, 'gone-host'))).toBe(false);
    expect(existsSync(join(out, 'not-ours', 'keep.txt'))).toBe(true);
    expect(existsSync(join(out, 'manager-1', 'MANIFEST.yml'))).toBe(true);
  });
});

describe("the capsules' gate (sbdi_gate in the runtime library)", () => {
  let lib: string;
  beforeAll(() => {
    const out = mkdtempSync(join(tmpdir(), 'sbdi-render-gate-'));
    writeRendered(renderPlan(planFromInventory(INVENTORIES.full), BUNDLE), out);
    lib = join(out, 'manager-1', 'opt/sbdi/lib/backup-runtime');
  });
  /** A stand-in capsule: the gate with the given arguments and stdin, then its act. */
  const capsule = (args: string[], stdin: string) => {
    const r = spawnSync('bash', ['-c', `set -euo pipefail; . "$0"; sbdi_gate_args "$@"; sbdi_gate "$@"; echo ACTED`, lib, ...args], { input: stdin, encoding: 'utf8' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('called plainly, acts at once and reads nothing', () => {
    expect(capsule([], '').out).toBe('ACTED\n');
    expect(capsule([], 'wait\n').out).toBe('ACTED\n');
  });

  it('called "gated", acts only after "wait" and then "go", saying ready in between', () => {
    expect(capsule(['gated'], 'wait\ngo\n')).toMatchObject({ code: 0, out: 'SBDI-MARK ready\nACTED\n' });
  });

  it('called "gated", reads no more than a word a line: a line without end calls it off', () => {
    // An endless line: read whole, it would never end (and grow in root's bash without bound).
    for (const before of ['', 'wait\\n']) {
      const r = spawnSync('bash', ['-c', `{ printf '${before}'; tr '\\0' w </dev/zero; } | (set -euo pipefail; . "$0"; sbdi_gate gated; echo ACTED)`, lib], { encoding: 'utf8', timeout: 20_000 });
      expect(r.error, before).toBeUndefined();
      expect(r.stdout, before).toContain('"calledOff":true');
      expect(r.stdout, before).not.toContain('ACTED');
    }
    for (const stdin of ['waitwaitwaitwaitwait\ngo\n', `wait\ngo${' '.repeat(20)}\n`]) {
      const r = capsule(['gated'], stdin);
      expect(r.code, stdin.slice(0, 30)).toBe(0);
      expect(r.out, stdin.slice(0, 30)).not.toContain('ACTED');
      expect(r.out).toContain('"calledOff":true');
    }
  });

  it('called "gated", does nothing when its stdin ends, even before "wait" arrived (a director killed while opening it)', () => {
    for (const stdin of ['', 'wait\n', 'wait\nstop\n', 'wait\noff\n', 'wait']) {
      const r = capsule(['gated'], stdin);
      expect(r.code, JSON.stringify(stdin)).toBe(0);
      expect(r.out, JSON.stringify(stdin)).not.toContain('ACTED');
      expect(r.out).toContain('"calledOff":true');
    }
  });

  it('called "gated" with a handler for a lost director (sbdi_gate_lost): acts on a closed stdin, never on "off"', () => {
    const withHandler = (stdin: string) => {
      const r = spawnSync('bash', ['-c', `set -euo pipefail; . "$0"; sbdi_gate_lost() { echo LOST; }; sbdi_gate "$@"; echo ACTED`, lib, 'gated'], { input: stdin, encoding: 'utf8' });
      return r.stdout;
    };
    for (const stdin of ['', 'wait\n', 'wait']) expect(withHandler(stdin), JSON.stringify(stdin)).toMatch(/LOST\nACTED\n$/);
    for (const stdin of ['wait\noff\n', 'off\n', 'wait\nstop\n']) {
      expect(withHandler(stdin), JSON.stringify(stdin)).not.toMatch(/LOST|ACTED/);
      expect(withHandler(stdin)).toContain('"calledOff":true');
    }
    expect(withHandler('wait\ngo\n')).toBe('SBDI-MARK ready\nACTED\n');
  });

  it('refuses any other argument before doing anything (exit 2)', () => {
    for (const args of [['gate'], ['gated', 'x'], [''], ['--gated']]) {
      const r = capsule(args, 'wait\ngo\n');
      expect(r.code, JSON.stringify(args)).toBe(2);
      expect(r.out).not.toContain('ACTED');
      expect(r.err).toMatch(/usage: .*\[gated\]/);
    }
  });
});
