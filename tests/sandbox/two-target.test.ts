// Several targets on real hosts: one sandbox deployment `twt` with two backup targets — backup-target
// (zfs-fuse, receives manager-1 and cassandra-1) and backup-target-2 (a dir store, receives solr-1) —
// installed by the playbook.
//  - perform_backup: one backup id, complete on both targets; each target holds exactly its own
//    sources' trees, and the same manifest (every source with its target); a source's keys and
//    known_hosts reach only its own target;
//  - a commit failing on backup-target-2: exit 14, backup-target's part is discarded at once (its
//    zfs snapshot is gone), list_backups shows no new complete backup;
//  - damage on sources of both targets, stop_docker → restore_latest_backup → trees equal to the
//    backup's on every source → start_docker.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../tools/sandbox/exec';
import { SECOND_TARGET_ROOT } from '../../tools/sandbox/inventory';
import { converge, create, destroy } from '../../tools/sandbox/steps';
import { ROOT, deploymentKit } from './deployment-kit';

const PREFIX = 'twt';
const kit = deploymentKit(PREFIX, { secondTarget: true });
const { opts, timings, sh, must, op } = kit;
const TREELIST = readFileSync(join(ROOT, 'tests', 'storage', 'treelist.py'), 'utf8');
const LIBEXEC = '/opt/sbdi/backup/libexec';
/** Each target, its store root, and the sources whose trees it must hold (the inventory's backup_target). */
const TARGETS = [
  { host: 'backup-target', root: '/backup', sources: [{ host: 'cassandra-1', dir: '/docker_local' }, { host: 'manager-1', dir: '/docker' }] },
  { host: 'backup-target-2', root: SECOND_TARGET_ROOT, sources: [{ host: 'solr-1', dir: '/docker_local' }] },
];
const treeOf = (s: { host: string; dir: string }) => `${s.host}@${s.dir.replace(/\//g, '+')}`;

interface Entry {
  id: string;
  status: string;
  restorable: boolean;
  parts?: { host: string; state: string }[];
}
async function entries(): Promise<Entry[]> {
  const r = await op('list_backups', '--json');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Entry[];
}

/** Canonical listing of a tree (symlinks stored munged are shown un-munged; zfs-fuse keeps whole seconds). */
function listing(host: string, dir: string): Promise<string> {
  return must(host, `python3 - --no-holes --mtime-seconds --unmunge --exclude .sbdi-snapshot --exclude .sbdi-snapshot.base ${dir}`, TREELIST);
}

/** What a target's activated backup holds: its top-level names, each tree's listing, and the manifest. */
async function activated(t: (typeof TARGETS)[number], id: string): Promise<{ names: string[]; trees: Map<string, string>; manifest: string }> {
  await must(t.host, `${LIBEXEC}/activate_backup ${id} >/dev/null`);
  try {
    const mount = `${t.root}/restore`;
    const names = (await must(t.host, `ls -A ${mount}`)).split('\n').filter(Boolean).sort();
    const trees = new Map<string, string>();
    for (const s of t.sources) trees.set(s.host, await listing(t.host, `${mount}/${treeOf(s)}`));
    return { names, trees, manifest: await must(t.host, `cat ${t.root}/manifests/${id}.json`) };
  } finally {
    await must(t.host, `${LIBEXEC}/deactivate_backup >/dev/null`);
  }
}

const backupTrees = new Map<string, string>();
let id1 = '';

describe('two backup targets on real hosts (sandbox twt)', () => {
  beforeAll(async () => {
    kit.takeBuild();
    await destroy(opts);
    let t0 = Date.now();
    await create(opts);
    timings.create = (Date.now() - t0) / 1000;
    t0 = Date.now();
    await converge(opts);
    timings.converge = (Date.now() - t0) / 1000;
  }, 1_800_000);

  afterAll(async () => {
    try {
      if (process.env.SBDI_KEEP_SANDBOX !== '1') await destroy(opts);
    } finally {
      kit.finish();
    }
  }, 900_000);

  it('perform_backup: one id, complete on both targets, each holding exactly its own sources', async () => {
    const r = await op('perform_backup');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const complete = (await entries()).filter((e) => e.status === 'complete');
    expect(complete).toHaveLength(1);
    id1 = complete[0]!.id;
    expect(complete[0]!.restorable).toBe(true);
    const manifests: string[] = [];
    for (const t of TARGETS) {
      const a = await activated(t, id1);
      expect(a.names, t.host).toEqual([...t.sources.map(treeOf), '.sbdi-backup-manifest.json'].sort());
      for (const [host, text] of a.trees) {
        expect(text.split('\n').length, `${host} tree on ${t.host}`).toBeGreaterThan(3);
        backupTrees.set(host, text);
      }
      manifests.push(a.manifest);
    }
    expect(manifests[0]).toBe(manifests[1]);
    const m = JSON.parse(manifests[0]!) as { id: string; targets: { host: string }[]; sources: { host: string; target: string }[] };
    expect(m.id).toBe(id1);
    expect(m.targets.map((t) => t.host)).toEqual(['backup-target', 'backup-target-2']);
    expect(m.sources.map((s) => [s.host, s.target])).toEqual([
      ['cassandra-1', 'backup-target'],
      ['manager-1', 'backup-target'],
      ['solr-1', 'backup-target-2'],
    ]);
  }, 1_800_000);

  it("a source's keys open only its own target", async () => {
    const ssh = (key: string, target: string) =>
      sh('solr-1', `ssh -i /etc/sbdi/backup/${key}_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null sbdi-receive@${PREFIX}-${target} true`);
    for (const key of ['push', 'pull']) {
      const wrong = await ssh(key, 'backup-target');
      expect(wrong.code, `${key} key on backup-target`).toBe(255);
      expect(wrong.stderr).toMatch(/Permission denied \(publickey/);
    }
    expect((await must('solr-1', 'cat /etc/sbdi/backup/known_hosts')).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' ')[0])).toEqual([`${PREFIX}-backup-target-2`]);
  }, 300_000);

  it('a commit failing on one target leaves no complete-looking part on the other', async () => {
    const capsule = `${LIBEXEC}/commit_backup`;
    // backup-target-2's commit fails as a broken store would (the capsule answers exit 9).
    await must('backup-target-2', `cp -p ${capsule} /root/commit_backup.saved && printf '#!/bin/bash\\necho "store broken on purpose" >&2\\nexit 9\\n' >${capsule}`);
    let r: RunResult;
    try {
      r = await op('perform_backup');
    } finally {
      await must('backup-target-2', `cp -p /root/commit_backup.saved ${capsule}`);
    }
    expect(r.code, r.stdout + r.stderr).toBe(14);
    expect(r.stdout).toMatch(/what backup-target had committed was discarded: no target holds it/);
    const list = await entries();
    expect(list.filter((e) => e.status === 'complete').map((e) => e.id)).toEqual([id1]);
    const failed = list.find((e) => e.id !== id1)!;
    expect(failed).toMatchObject({ status: 'failed', restorable: false });
    // The part backup-target had committed is gone from its store: only id1's snapshot is left.
    const snaps = (await must('backup-target', 'zfs list -H -t snapshot -o name -r backup/current')).split('\n').filter(Boolean);
    expect(snaps).toEqual([`backup/current@${id1}`]);
    expect((await must('backup-target', 'ls /backup/manifests')).split('\n').filter(Boolean)).toEqual([`${id1}.json`]);
    // The director's key cannot go on discarding: a target takes back only the backup it committed
    // last, once. backup-target used that up on the failed backup; id1 is its newest now, and stays.
    for (const target of ['backup-target']) {
      const again = await sh('backup-director', `runuser -u backupoperator -- ssh -i /home/backupoperator/.ssh/id_ed25519 -o BatchMode=yes -o IdentitiesOnly=yes ${PREFIX}-${target} 'discard_backup ${id1}'`);
      expect(again.code, `${target}: ${again.stdout}${again.stderr}`).not.toBe(0);
      expect(again.stdout).toMatch(/"code":42,"error":"refusing to discard [0-9_]+: it is not the backup this target committed last, or it was discarded once already"/);
    }
    expect((await entries()).filter((e) => e.status === 'complete').map((e) => e.id)).toEqual([id1]);
  }, 1_800_000);

  it('damage on both targets\' sources, restore_latest_backup: every tree equals the backup', async () => {
    expect((await op('stop_docker')).code).toBe(0);
    try {
      // Live files only, and the whole list read: under pipefail a `find | head` fails once find
      // meets the closed pipe, and the product's own snapshot dirs are read-only.
      const live = (dir: string, type: 'd' | 'f', depth = ''): string =>
        `mapfile -t picked < <(find ${dir} -mindepth 1 ${depth} \\( -name .sbdi-snapshot -o -name .sbdi-snapshot.base \\) -prune -o -type ${type} -print | sort)`;
      await must('manager-1', `${live('/docker', 'd', '-maxdepth 1')}; rm -rf "\${picked[0]}"; echo stray >/docker/stray-file`);
      await must('cassandra-1', `${live('/docker_local', 'f')}; rm -f "\${picked[@]:0:3}"`);
      await must('solr-1', `${live('/docker_local', 'f')}; echo changed >"\${picked[0]}"; mkdir -p /docker_local/new-dir && echo x >/docker_local/new-dir/x`);
      for (const t of TARGETS) for (const s of t.sources) expect(await listing(s.host, s.dir), `${s.host} damaged`).not.toBe(backupTrees.get(s.host));
      const r = await op('restore_latest_backup');
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain(`backup ${id1} restored`);
      for (const t of TARGETS) for (const s of t.sources) expect(await listing(s.host, s.dir), `${s.host} restored from ${t.host}`).toBe(backupTrees.get(s.host));
      // No activation is left on either target.
      for (const t of TARGETS) expect((await sh(t.host, `mountpoint -q ${t.root}/restore || test -n "$(ls -A ${t.root}/restore 2>/dev/null)"`)).code, t.host).not.toBe(0);
    } finally {
      expect((await op('start_docker')).code).toBe(0);
    }
  }, 1_800_000);
});
