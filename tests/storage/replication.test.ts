import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../tools/sandbox/exec';
import { baseImage, docker, dockerAvailable, install, inventory, removeContainer, render, startContainer } from './harness';

/**
 * Off-site replication on each replicating store kind: a target `storage-1` replicates to an off-site remote
 * `offsite-1` in another container, through the rendered capsules and the real ssh → forced command
 * → sudo → `btrfs receive` / `zfs receive` path (the target's replicate key, confined on the remote
 * to receive_replica). Two backups go whole then incrementally, a third goes alone from the second,
 * the received snapshots are the target's (btrfs: same trees, Received UUID = the snapshot's UUID;
 * ZFS: same guid), the remote cannot run what it stores (nosuid/nodev/noexec; setuid/exec/devices
 * off), a remote that diverged is refused with exit 41 and nothing removed. zfs-fuse has neither
 * bookmarks nor resume tokens: replication says so and works without them.
 */
interface Kind {
  name: 'btrfs' | 'zfs';
  target: Record<string, string | number>;
  remote: Record<string, string | number>;
  /** Adds a replica the target never sent, newer than any (a divergence). */
  stray: string;
  /** Removes it again. */
  unstray: string;
}
const KINDS: Kind[] = [
  {
    name: 'btrfs',
    target: { backup_target_backend: 'btrfs', backup_data_device: '/var/lib/sbdi/backup.img', backup_data_file_size: 2 },
    remote: { backup_data_device: '/var/lib/sbdi/replica.img', backup_data_file_size: 2 },
    // A received subvolume from another filesystem: it has a Received UUID this target never made.
    stray: `mkdir -p /tmp/other && truncate -s 300M /var/tmp/other.img && mkfs.btrfs -q /var/tmp/other.img && mount -o loop /var/tmp/other.img /tmp/other
      btrfs subvolume create /tmp/other/v >/dev/null && echo foreign >/tmp/other/v/f && btrfs subvolume snapshot -r /tmp/other/v /tmp/other/@ID@ >/dev/null
      btrfs send -q /tmp/other/@ID@ | btrfs receive -q /backup/replica
      umount /tmp/other`,
    unstray: 'btrfs subvolume delete /backup/replica/@ID@ >/dev/null',
  },
  {
    name: 'zfs',
    target: { backup_target_backend: 'zfs', backup_zfs_package: 'zfs-fuse', backup_data_device: '/var/lib/sbdi/pool.img', backup_data_file_size: 2 },
    remote: { backup_zfs_package: 'zfs-fuse', backup_data_device: '/var/lib/sbdi/replica.img', backup_data_file_size: 2 },
    stray: 'zfs snapshot backup/replica/current@@ID@',
    unstray: 'zfs destroy backup/replica/current@@ID@',
  },
];
const TREE = 'storage-1@+docker';
const [ID1, ID2, ID3] = ['20260101_010101', '20260102_020202', '20260103_030303'];
const STRAY = '29991231_235959';
const L = '/opt/sbdi/backup/libexec';

/** A command in a container, asynchronously (a sync call of minutes stalls vitest's worker RPC). */
async function sh(container: string, script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('docker', ['exec', container, 'bash', '-o', 'pipefail', '-c', script], { input: '', timeoutMs: 600_000 });
}

async function must(container: string, script: string): Promise<string> {
  const r = await sh(container, `set -eu; ${script}`);
  if (r.code !== 0) throw new Error(`${container}: ${script}\nexit ${r.code}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** A capsule as root; returns its exit code and the JSON of its SBDI-RESULT line. */
async function capsule(container: string, name: string, ...args: string[]): Promise<{ code: number; result: Record<string, unknown>; log: string }> {
  const r = await sh(container, `${L}/${name} ${args.join(' ')}`);
  const line = r.stdout.split('\n').reverse().find((l) => l.startsWith('SBDI-RESULT '));
  if (!line) throw new Error(`${name} printed no SBDI-RESULT (exit ${r.code}):\n${r.stdout}${r.stderr}`);
  return { code: r.code, result: JSON.parse(line.slice('SBDI-RESULT '.length)) as Record<string, unknown>, log: r.stderr };
}

type RemoteResult = { remote: string; ok: boolean; code: number; sent: number; from: string; newest: string; diverged: boolean; error: string };
const remoteOf = (result: Record<string, unknown>): RemoteResult => (result.remotes as RemoteResult[])[0]!;

/** A listing of a tree (content, owner, mode, mtime, links, xattrs) by the storage tests' treelist.py. */
const listing = (container: string, dir: string) => must(container, `python3 /tmp/storage/treelist.py --no-holes ${dir}`);

describe.each(KINDS)('storage: $name target replicating to a $name off-site remote', (kind) => {
  const TARGET = `storagetest-repl-${kind.name}-t-${process.pid}`;
  const REMOTE = `storagetest-repl-${kind.name}-r-${process.pid}`;

  async function replicaIds(): Promise<string[]> {
    const r = await capsule(REMOTE, 'list_replicas');
    expect(r.code, r.log).toBe(0);
    return (r.result.replicas as { id: string }[]).map((x) => x.id);
  }

  /** The identity of a snapshot across send/receive: btrfs (Received) UUID, ZFS guid. */
  async function identity(container: string, id: string, side: 'target' | 'remote'): Promise<string> {
    if (kind.name === 'zfs') return (await must(container, `zfs get -H -o value guid ${side === 'target' ? 'backup/current' : 'backup/replica/current'}@${id}`)).trim();
    const field = side === 'target' ? 'UUID' : 'Received UUID';
    const dir = side === 'target' ? `/backup/snapshots/${id}` : `/backup/replica/${id}`;
    return (await must(container, `btrfs subvolume show ${dir} | sed -n 's/^[[:space:]]*${field}:[[:space:]]*//p'`)).trim();
  }

  beforeAll(async () => {
    if (!dockerAvailable()) throw new Error('storage tests need a running docker engine (scripts/setup-host.sh starts dockerd)');
    const image = await baseImage();
    startContainer(TARGET, 'storage-1', image);
    startContainer(REMOTE, 'offsite-1', image);
    const remoteIp = docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', REMOTE]).stdout.trim();
    expect(remoteIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const rendered = render(
      inventory(
        kind.target,
        { btrfs_backup_source: true, btrfs_backup_source_dir: '/docker' },
        { host: 'offsite-1', vars: { ansible_host: remoteIp, ...kind.remote } },
      ),
    );
    install(TARGET, rendered, 'storage-1', { keep: true });
    const replicateKey = (await must(TARGET, 'cut -d" " -f1,2 /etc/sbdi/backup/replicate_ed25519.pub')).trim();
    install(REMOTE, rendered, 'offsite-1', { tokens: `@@KEY:storage-1:replicate@@ ${replicateKey}\n` });
    // The target trusts the remote's host key (the role fills known_hosts_remotes the same way).
    const hostKey = (await must(REMOTE, 'cut -d" " -f1,2 /etc/ssh/ssh_host_ed25519_key.pub')).trim();
    await must(TARGET, `printf '%s %s\\n' ${remoteIp} '${hostKey}' >/etc/sbdi/backup/known_hosts_remotes; chmod 0600 /etc/sbdi/backup/known_hosts_remotes`);
    const setup = await capsule(REMOTE, 'sbdi-remote-setup');
    expect(setup.code, setup.log).toBe(0);
    // Two committed backups on the target: the storage round trip (its checks are backends.test.ts's).
    // The two backups of the scenario only (its hardlink rounds add backups of their own).
    const scenario = await sh(TARGET, `SCENARIO_HARDLINKS=0 bash /tmp/storage/scenario.sh btrfs /docker ${TREE}`);
    if (!scenario.stdout.includes('SCENARIO PASSED')) throw new Error(`scenario.sh failed:\n${scenario.stdout}\n${scenario.stderr.slice(-3000)}`);
  }, 900_000);

  afterAll(() => {
    removeContainer(TARGET);
    removeContainer(REMOTE);
  });

  describe('replication', { timeout: 600_000 }, () => {
    it('sends both backups (the first whole, the second incrementally) and the remote holds the same trees', async () => {
      const r = await capsule(TARGET, 'replicate_backups');
      expect(r.code, r.log).toBe(0);
      expect(remoteOf(r.result)).toMatchObject({ remote: 'offsite-1', ok: true, sent: 2, from: '-', newest: ID2, diverged: false });
      expect(r.log).toMatch(new RegExp(`sending ${ID1} \\(whole\\)`));
      expect(r.log).toMatch(new RegExp(`sending ${ID2} \\(${ID1}\\)`));
      expect(await replicaIds()).toEqual([ID1, ID2]);
      for (const id of [ID1, ID2]) {
        // the replica is the target's snapshot
        expect(await identity(REMOTE, id, 'remote')).toBe(await identity(TARGET, id, 'target'));
        if (kind.name === 'btrfs') {
          expect(await listing(REMOTE, `/backup/replica/${id}/${TREE}`)).toBe(await listing(TARGET, `/backup/snapshots/${id}/${TREE}`));
          expect((await must(REMOTE, `btrfs property get -ts /backup/replica/${id} ro`)).trim()).toBe('ro=true');
        }
      }
      if (kind.name === 'btrfs') {
        const options = (await must(REMOTE, 'findmnt -n -o OPTIONS /backup')).trim().split(',');
        expect(options).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
      } else {
        const props = (await must(REMOTE, 'zfs get -H -o property,value setuid,exec,devices,readonly,mountpoint backup/replica')).trim();
        expect(props).toBe('setuid\toff\nexec\toff\ndevices\toff\nreadonly\ton\nmountpoint\tnone');
        expect((await must(REMOTE, 'zfs get -H -o value setuid,exec,devices backup')).trim()).toBe('off\noff\noff');
        // zfs-fuse (pool version 23): no bookmarks, no resume tokens; said, and not needed
        expect(r.result.bookmarks).toBe(false);
        expect(remoteOf(r.result)).toMatchObject({ resumed: false });
        const listed = await capsule(REMOTE, 'list_replicas');
        expect(listed.result.resumable).toBe(false);
      }
    });

    it('a later backup goes alone, incrementally from the newest shared one; nothing to send is a no-op', async () => {
      await must(TARGET, `${L}/prepare_target >/dev/null 2>&1; printf 'day three\\n' >'/backup/current/${TREE}/day-three.txt'`);
      const commit = await sh(TARGET, `printf '{"id":"${ID3}","status":"complete","sources":[]}' | ${L}/commit_backup ${ID3}`);
      expect(commit.code, commit.stderr).toBe(0);
      const r = await capsule(TARGET, 'replicate_backups');
      expect(r.code, r.log).toBe(0);
      expect(remoteOf(r.result)).toMatchObject({ ok: true, sent: 1, from: ID2, newest: ID3 });
      expect(await replicaIds()).toEqual([ID1, ID2, ID3]);
      expect(await identity(REMOTE, ID3, 'remote')).toBe(await identity(TARGET, ID3, 'target'));
      if (kind.name === 'btrfs') expect(await must(REMOTE, `cat '/backup/replica/${ID3}/${TREE}/day-three.txt'`)).toBe('day three\n');
      const again = await capsule(TARGET, 'replicate_backups');
      expect(again.code, again.log).toBe(0);
      expect(remoteOf(again.result)).toMatchObject({ ok: true, sent: 0, newest: ID3 });
    });

    it('a remote that diverged (a snapshot of its own, newer) is refused with exit 41 and nothing is removed', async () => {
      await must(REMOTE, kind.stray.replaceAll('@ID@', STRAY));
      expect(await replicaIds()).toEqual([ID1, ID2, ID3, STRAY]);
      const r = await capsule(TARGET, 'replicate_backups');
      expect(r.code).toBe(41);
      expect(r.result).toMatchObject({ ok: false, code: 41 });
      expect(remoteOf(r.result)).toMatchObject({ ok: false, diverged: true, sent: 0 });
      expect(remoteOf(r.result).error).toMatch(new RegExp(`DIVERGED: offsite-1 holds ${STRAY}, newer than the newest snapshot both share \\(${ID3}\\)`));
      expect(await replicaIds()).toEqual([ID1, ID2, ID3, STRAY]);
      // resolved by hand on the remote: replication is clean again
      await must(REMOTE, kind.unstray.replaceAll('@ID@', STRAY));
      const after = await capsule(TARGET, 'replicate_backups');
      expect(after.code, after.log).toBe(0);
      expect(remoteOf(after.result)).toMatchObject({ ok: true, sent: 0, newest: ID3 });
    });

    it('a remote that answers with patterns for guids fakes no common snapshot: it is refused as diverged', async () => {
      // A compromised remote: its list names every replica with the guid `.*`, so that a pattern
      // match would take any of them for the target's own and call it up to date.
      await must(REMOTE, `mv ${L}/receive_replica ${L}/receive_replica.real && cat >${L}/receive_replica <<'WRAP'
#!/bin/bash
if [ "\${SSH_ORIGINAL_COMMAND:-}" = list ]; then "\$0.real" "\$@" | sed -E 's/^([0-9]{8}_[0-9]{6})\\t.*/\\1\\t.*/'; exit "\${PIPESTATUS[0]}"; fi
exec "\$0.real" "\$@"
WRAP
chmod 0755 ${L}/receive_replica`);
      try {
        const r = await capsule(TARGET, 'replicate_backups');
        expect(r.code).toBe(41);
        expect(remoteOf(r.result)).toMatchObject({ ok: false, diverged: true, sent: 0 });
        expect(remoteOf(r.result).error).toMatch(/DIVERGED: offsite-1 holds snapshots up to \d{8}_\d{6}, none of which this target has \(same name and guid\)/);
      } finally {
        await must(REMOTE, `mv -f ${L}/receive_replica.real ${L}/receive_replica`);
      }
      const after = await capsule(TARGET, 'replicate_backups');
      expect(after.code, after.log).toBe(0);
      expect(remoteOf(after.result)).toMatchObject({ ok: true, sent: 0, newest: ID3 });
    });

    it('the remote key can do nothing but receive: any other command is refused by its forced command', async () => {
      const r = await sh(TARGET, `ssh -i /etc/sbdi/backup/replicate_ed25519 -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=/etc/sbdi/backup/known_hosts_remotes sbdi-receive@$(awk '{print $1}' /etc/sbdi/backup/known_hosts_remotes) 'cat /etc/shadow'`);
      expect(r.code).not.toBe(0);
      expect(r.stdout).not.toMatch(/root:/);
      expect(await replicaIds()).toEqual([ID1, ID2, ID3]);
    });

    it('a backup the director names as not complete on every target stays here; hostile skip lines are refused', async () => {
      const ID4 = '20260104_040404';
      await must(TARGET, `${L}/prepare_target >/dev/null 2>&1; printf 'day four\\n' >'/backup/current/${TREE}/day-four.txt'`);
      const commit = await sh(TARGET, `printf '{"id":"${ID4}","status":"complete","sources":[]}' | ${L}/commit_backup ${ID4}`);
      expect(commit.code, commit.stderr).toBe(0);
      const withSkip = async (stdin: string) => {
        const r = await sh(TARGET, `printf '${stdin}' | ${L}/replicate_backups`);
        const line = r.stdout.split('\n').reverse().find((l) => l.startsWith('SBDI-RESULT '));
        return { code: r.code, result: JSON.parse(line!.slice('SBDI-RESULT '.length)) as Record<string, unknown>, log: r.stderr };
      };
      for (const hostile of ['skip 20260104_04040\\n', 'skip ../../x\\n', `send ${ID4}\\n`, `skip ${ID4};id\\n`]) {
        const r = await withSkip(hostile);
        expect(r.code, hostile).toBe(2);
      }
      const held = await withSkip(`skip ${ID4}\\n`);
      expect(held.code, held.log).toBe(0);
      expect(held.log).toMatch(new RegExp(`not replicating ${ID4}: it is not complete on every target`));
      expect(remoteOf(held.result)).toMatchObject({ ok: true, sent: 0, newest: ID3 });
      expect(await replicaIds()).toEqual([ID1, ID2, ID3]);
      const sent = await withSkip('');
      expect(sent.code, sent.log).toBe(0);
      expect(remoteOf(sent.result)).toMatchObject({ ok: true, sent: 1, from: ID3, newest: ID4 });
      expect(await replicaIds()).toEqual([ID1, ID2, ID3, ID4]);
    });

    it('a stream that is not the one announced is refused before anything is received; a genuine one after it goes in alone', async () => {
      // What a compromised target could send on its own key: the remote trusts it with data only.
      const [ID4, ID5, OTHER, FUTURE] = ['20260104_040404', '20260105_050505', '20260106_060606', '20990101_000000'];
      await must(TARGET, `${L}/prepare_target >/dev/null 2>&1; printf 'day five\\n' >'/backup/current/${TREE}/day-five.txt'`);
      const commit = await sh(TARGET, `printf '{"id":"${ID5}","status":"complete","sources":[]}' | ${L}/commit_backup ${ID5}`);
      expect(commit.code, commit.stderr).toBe(0);
      const ssh = `ssh -i /etc/sbdi/backup/replicate_ed25519 -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=/etc/sbdi/backup/known_hosts_remotes sbdi-receive@$(awk '{print $1}' /etc/sbdi/backup/known_hosts_remotes)`;
      const send = (stream: string, request: string) => sh(TARGET, `${stream} | ${ssh} '${request}'`);
      const inventory = () => must(REMOTE, kind.name === 'zfs' ? `zfs list -H -t all -o name -r backup/replica; zfs get -H -r -o name,property,value,source all backup/replica | awk -F '\\t' '$4 != "-" && $4 != "default" && $4 !~ /^inherited/' | sort` : 'ls -A1 /backup/replica');
      const before = await inventory();
      const z = (args: string) => `zfs send ${args}`;
      const b = (args: string) => `btrfs send -q ${args}`;
      const snap = (id: string) => (kind.name === 'zfs' ? `backup/current@${id}` : `/backup/snapshots/${id}`);
      const incremental = (from: string, to: string) => (kind.name === 'zfs' ? z(`-i ${snap(from)} ${snap(to)}`) : b(`-p ${snap(from)} ${snap(to)}`));
      const hostile: Array<[string, string, RegExp]> = [
        ['{ printf hello; head -c 400 /dev/zero; }', `receive ${ID5} ${ID4}`, /not a (zfs|btrfs) send stream/],
        ['printf hello', `receive ${ID5} ${ID4}`, /ends before its first record|not a btrfs send stream/],
        [incremental(ID4, ID5), `receive ${OTHER} ${ID4}`, new RegExp(`a stream of '.*${ID5}', not of a (snapshot|subvolume) named ${OTHER}`)],
        [kind.name === 'zfs' ? z(snap(ID5)) : b(snap(ID5)), `receive ${ID5} ${ID4}`, /a whole stream where an incremental one was announced/],
        [kind.name === 'zfs' ? `${incremental(ID4, ID5)} | head -c 100` : `${incremental(ID4, ID5)} | head -c 20`, `receive ${ID5} ${ID4}`, /ends before its first|not a btrfs send stream/],
      ];
      // zfs send -p (properties: a mountpoint or setuid of the sender's choice) makes a compound stream here.
      if (kind.name === 'zfs') hostile.push([z(`-p -i ${snap(ID4)} ${snap(ID5)}`), `receive ${ID5} ${ID4}`, /a compound stream/]);
      for (const [stream, request, why] of hostile) {
        const r = await send(stream, request);
        expect(r.code, `${stream} as ${request}: ${r.stdout}${r.stderr}`).toBe(41);
        expect(r.stdout + r.stderr, stream).toMatch(why);
        expect(await inventory(), `${stream} as ${request} changed the remote`).toBe(before);
      }
      expect(await replicaIds()).toEqual([ID1, ID2, ID3, ID4]);
      // btrfs: a stream may carry several subvolumes; receive -e stops after the announced one.
      let genuine = incremental(ID4, ID5);
      if (kind.name === 'btrfs') {
        await must(TARGET, `btrfs subvolume snapshot -r /backup/current ${snap(FUTURE)} >/dev/null`);
        genuine = b(`-p ${snap(ID4)} ${snap(ID5)} ${snap(FUTURE)}`);
      }
      const ok = await send(genuine, `receive ${ID5} ${ID4}`);
      if (kind.name === 'btrfs') await must(TARGET, `btrfs subvolume delete ${snap(FUTURE)} >/dev/null`);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(await replicaIds()).toEqual([ID1, ID2, ID3, ID4, ID5]);
      if (kind.name === 'btrfs') expect(await must(REMOTE, 'ls -A1 /backup/replica')).not.toContain(FUTURE);
    });
  });
});
