import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseImage, dockerAsync, dockerAvailable, figures, install, inventory, removeContainer, render, startContainer, docker } from './harness';

/**
 * Every target backend with a real source backend, through the rendered capsules and the real
 * ssh → sudo → rrsync path (scenario.sh): round trip of the fidelity tree (make-tree.sh),
 * immutability of committed backups, writes after the snapshot left out, compression ratio in
 * list_backups, idempotent store setup; then rounds of random changes (mutate.py), each followed
 * by a backup that must leave the store equal to the source (pushes of only the changes on zfs).
 */
const CASES = [
  {
    name: 'zfs target (zfs-fuse, gzip-7) with a btrfs source',
    target: { backup_target_backend: 'zfs', backup_zfs_package: 'zfs-fuse', backup_data_device: '/var/lib/sbdi/pool.img', backup_data_file_size: 2 },
    source: { btrfs_backup_source: true, btrfs_backup_source_dir: '/docker' },
    args: ['btrfs', '/docker', 'storage-1@+docker'],
  },
  {
    name: 'btrfs target (zstd:3, quota groups) with a zfs source (zfs-fuse)',
    target: { backup_target_backend: 'btrfs', backup_data_device: '/var/lib/sbdi/backup.img', backup_data_file_size: 2, backup_btrfs_quota: true },
    source: { zfs_backup_source: true, zfs_backup_source_dir: '/docker_local', zfs_backup_source_dataset: 'tank/docker_local', zfs_backup_source_package: 'zfs-fuse' },
    args: ['zfs', '/docker_local', 'storage-1@+docker_local', 'tank/docker_local'],
  },
  {
    name: 'dir target (snapshots sharing files by hardlinks) with a btrfs source',
    target: { backup_target_backend: 'dir' },
    source: { btrfs_backup_source: true, btrfs_backup_source_dir: '/srv/data' },
    args: ['btrfs', '/srv/data', 'storage-1@+srv+data'],
  },
  {
    name: 'dir target with a zfs source (zfs-fuse), whose tree it copies at each commit',
    target: { backup_target_backend: 'dir' },
    source: { zfs_backup_source: true, zfs_backup_source_dir: '/docker_local', zfs_backup_source_dataset: 'tank/docker_local', zfs_backup_source_package: 'zfs-fuse' },
    args: ['zfs', '/docker_local', 'storage-1@+docker_local', 'tank/docker_local'],
  },
] as const;

// No docker engine is a failure, not a skip: these tests are the proof that the stores work.
beforeAll(() => {
  if (!dockerAvailable()) throw new Error('storage tests need a running docker engine (scripts/setup-host.sh starts dockerd)');
});

describe.each(CASES)('storage: $name', (c) => {
  const container = `storagetest-${c.target.backup_target_backend}-${c.args[0]}-${process.pid}`;
  let image: string;

  beforeAll(async () => {
    image = await baseImage();
    startContainer(container, 'storage-1', image);
    install(container, render(inventory(c.target, c.source)), 'storage-1');
  });
  afterAll(() => removeContainer(container));

  it('round-trips the fidelity tree and keeps committed backups immutable', async () => {
    // Random changes and a backup after each (mutate.py): many rounds where pushes send only the
    // changes (zfs), a few where they send whole trees.
    const rounds = Number(process.env.SBDI_FUZZ_ROUNDS ?? (c.target.backup_target_backend === 'zfs' ? 12 : 4));
    const r = await dockerAsync(['exec', '-e', `FUZZ_ROUNDS=${rounds}`, container, 'bash', '/tmp/storage/scenario.sh', ...c.args], undefined, 590_000);
    const out = r.stdout;
    process.stdout.write(`--- ${c.name}\n${out.split('\n').filter((l) => /^(CHECK|FIGURE|SCENARIO)/.test(l)).join('\n')}\n`);
    if (r.code !== 0) process.stdout.write(`${out}\n${r.stderr.slice(-4000)}\n`);
    expect(r.code, out.split('\n').filter((l) => l.includes('FAILED')).join('\n')).toBe(0);
    expect(out).toContain('SCENARIO PASSED');
    // Every store gives a base: pushes of only the changes, unless the source is zfs-fuse's (no
    // ctime to trust).
    const scan = 'zfs_backup_source_package' in c.source && c.source.zfs_backup_source_package === 'zfs-fuse' ? '"full"' : '"changes"';
    expect(out).toContain(`FIGURE backup2_scan ${scan}`);
    expect(out.match(/^FIGURE fuzz_round_\d+ (\S+)/gm)?.map((l) => l.split(' ')[2])).toEqual(Array(rounds).fill(scan));
    const f = figures(out);
    const ratio = Number(f['compress_ratio_20260101_010101']);
    if (c.target.backup_target_backend === 'dir') expect(ratio).toBe(1);
    else expect(ratio).toBeGreaterThan(1.2);
  }, 600_000);

  it('takes nothing a source put into its tree into effect: current is root-only; no setuid, device or exec on the store', async () => {
    const sh = (cmd: string) => docker(['exec', container, 'bash', '-c', cmd]).stdout.trim();
    expect(sh('stat -c %a /backup/current')).toBe('700');
    if (c.target.backup_target_backend === 'dir') expect(sh('stat -c %a /backup/snapshots')).toBe('700');
    if (c.target.backup_target_backend === 'zfs') {
      expect(sh('zfs get -H -o value setuid,devices,exec backup/current')).toBe('off\noff\noff');
    }
    if (c.target.backup_target_backend === 'btrfs') {
      expect(sh('findmnt -n -o OPTIONS --mountpoint /backup').split(',')).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
    }
    if (c.target.backup_target_backend === 'zfs') {
      // The list of ACL entries a push sends after it (zfs-fuse stores only) is bounded.
      const tree = c.args[2];
      const before = sh('ls -A /tmp');
      const r = docker(['exec', container, 'bash', '-c', `head -c 300M /dev/zero | SSH_ORIGINAL_COMMAND=sbdi-acl-modes /opt/sbdi/backup/libexec/receive_backup ${tree}; echo "exit $?"`]);
      expect(r.stdout).toMatch(/"code":2,"error":"refused the list of ACL entries of [^"]+: larger than 256 MiB"/);
      expect(r.stdout).toMatch(/exit 2$/m);
      expect(sh('ls -A /tmp'), 'the refused list is not left behind').toBe(before);
    }
  });
});

describe.each(CASES)('storage: $name: list_backups', (c) => {
  const container = `storagetest-fill-${c.target.backup_target_backend}-${c.args[0]}-${process.pid}`;
  beforeAll(async () => {
    startContainer(container, 'storage-1', await baseImage());
    install(container, render(inventory(c.target, c.source)), 'storage-1');
  });
  afterAll(() => removeContainer(container));

  it('says how full the store is, as df or zfs count it', async () => {
    const r = await dockerAsync(['exec', container, 'bash', '-c', '/opt/sbdi/backup/libexec/sbdi-target-setup >/dev/null && /opt/sbdi/backup/libexec/list_backups']);
    expect(r.code, r.stderr).toBe(0);
    const store = (JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { store: { usedBytes: number; freeBytes: number } }).store;
    expect(store.usedBytes).toBeGreaterThan(0);
    expect(store.freeBytes).toBeGreaterThan(0);
    const fs = c.target.backup_target_backend === 'zfs'
      ? (await dockerAsync(['exec', container, 'zfs', 'get', '-Hp', '-o', 'value', 'available', 'backup'])).stdout.trim()
      : (await dockerAsync(['exec', container, 'bash', '-c', 'df -B1 --output=avail /backup | tail -n1'])).stdout.trim();
    expect(Math.abs(store.freeBytes - Number(fs))).toBeLessThan(64 * 2 ** 20);
  });
});

describe('storage: a zfs-fuse store made without enable-xattr', () => {
  const container = `storagetest-heal-${process.pid}`;
  beforeAll(async () => {
    startContainer(container, 'storage-1', await baseImage());
    install(container, render(inventory(CASES[0].target, CASES[0].source)), 'storage-1');
  });
  afterAll(() => removeContainer(container));

  it('is healed by the first capsule: zfs-fuse restarted with xattrs, once', async () => {
    const r = await dockerAsync(['exec', container, 'bash', '/tmp/storage/heal.sh'], undefined, 300_000);
    process.stdout.write(`--- zfs-fuse without enable-xattr\n${r.stdout}`);
    expect(r.stdout).toContain('HEAL PASSED');
    expect(r.code).toBe(0);
  }, 300_000);
});

const L = '/opt/sbdi/backup/libexec';

/** A shell in a test container, and one backup as the director takes it there: a push of the
 *  whole tree, printing perform_rsync's exit; its commit, printing commit_backup's. */
/** Waits until a dir store has made current again after a commit (no lock file elsewhere). */
const SETTLED = '[ ! -e /backup/.current-lock ] || flock /backup/.current-lock true';

function pushKit(container: string) {
  const sh = (script: string) => dockerAsync(['exec', container, 'bash', '-c', script], undefined, 300_000);
  const push = (id: string) => sh(`${L}/prepare_target </dev/null >/dev/null && ${L}/prepare_source_snapshot >/dev/null &&
    { printf -- '- ${id}\\n' | ${L}/perform_rsync; echo "exit $?"; ${L}/remove_source_snapshot >/dev/null; }`);
  // A dir store makes current again after commit_backup has answered: the tests that read current
  // wait for that, as the next prepare_target does (its lock).
  const commit = (id: string) =>
    sh(`printf '{"id":"%s","status":"complete","sources":[{"host":"storage-1","target":"storage-1","bytes":4}]}' ${id} | ${L}/commit_backup ${id} >/dev/null; echo "exit $?"; ${SETTLED}`);
  return { sh, push, commit };
}

/** A test container with one source (btrfs, /srv/data) that syncs to its own store of TARGET's
 *  kind, the store set up; THEN runs after, in the same shell. */
function startStorageHost(container: string, target: Record<string, string | number | boolean>, sh: (script: string) => ReturnType<typeof dockerAsync>, then = '') {
  beforeAll(async () => {
    startContainer(container, 'storage-1', await baseImage());
    install(container, render(inventory(target, { btrfs_backup_source: true, btrfs_backup_source_dir: '/srv/data' })), 'storage-1');
    const r = await sh(`bash /tmp/storage/make-source.sh btrfs /srv/data && ${L}/sbdi-target-setup >/dev/null${then}`);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => removeContainer(container));
}

describe.each([['btrfs'], ['dir']])('storage: a push of only the changes into a %s store', (backend) => {
  const container = `storagetest-changes-${backend}-${process.pid}`;
  const { sh, push, commit } = pushKit(container);
  const TREE = '/backup/current/storage-1@+srv+data';
  // The forced command's sessions the pushes open (sshd logs each at VERBOSE): one per rsync pass.
  const passes = async () => Number((await sh('grep -c "Starting session: forced-command" /tmp/sshd.log || true')).stdout.trim());
  // A push with a base, then what differs between the snapshot it pushed and the store's copy of
  // it: content, times, owners, modes, ACLs, xattrs and hardlinks (rsync's itemized list of a dry
  // run; empty when equal).
  const pushChanges = (base: string, id: string) =>
    sh(`${L}/prepare_target </dev/null | grep -q '"base":"${base}"' && ${L}/prepare_source_snapshot >/dev/null &&
      { printf '${base} ${id}\\n' | ${L}/perform_rsync; echo "exit $?";
        rsync -n -i -aHAX --checksum --delete --exclude=/.sbdi-snapshot --exclude=/.sbdi-snapshot.base /btrfs_backupsource/ ${TREE}/ >/tmp/differs; ${L}/remove_source_snapshot >/dev/null; }`);
  const differs = async () => (await sh('cat /tmp/differs')).stdout.trim();
  /** A push of the changes since BASE into ID, committed. */
  const backup = async (base: string, id: string) => {
    expect((await pushChanges(base, id)).stdout).toMatch(/^exit 0$/m);
    expect((await commit(id)).stdout).toMatch(/^exit 0$/m);
  };
  /** CHANGE made on the source, then a push of it from BASE into ID (not committed): its passes. */
  const passesOf = async (change: string, base: string, id: string) => {
    expect((await sh(`${change} && sync`)).code).toBe(0);
    const opened = await passes();
    const r = await pushChanges(base, id);
    expect(r.stdout, r.stderr).toMatch(/^exit 0$/m);
    expect(r.stderr).toMatch(new RegExp(`entries differ from backup ${base}`));
    return (await passes()) - opened;
  };
  const inodes = async (names: string[]) => (await sh(`cd ${TREE}/d && stat -c %i -- ${names.map((n) => `$'${n}'`).join(' ')}`)).stdout;
  startStorageHost(
    container,
    backend === 'btrfs' ? { backup_target_backend: 'btrfs', backup_data_device: '/var/lib/sbdi/backup.img', backup_data_file_size: 1 } : { backup_target_backend: 'dir' },
    sh,
    ' && pkill -x -o sshd && sleep 0.5 && /usr/sbin/sshd -o LogLevel=VERBOSE -E /tmp/sshd.log',
  );

  // Names that are patterns to rsync's filters (*, ?, [, a backslash), with a line break, a
  // trailing space, a leading dash; and beside them names such a pattern would match.
  const KEPT = ['keep', 'qax', 'q?[x]', 'x\\\\*y', 'sp ace ', '-dash', 'nl\\nname', 'tab\\tk'];
  const GONE = ['gone', 'g*ne', 'back\\\\slash', 'b\\\\*ck', 'q[a]x', 'nl\\ngone'];

  it('deletes in one pass what the source lost, and leaves every other entry of those directories alone', async () => {
    const make = [...KEPT, ...GONE].map((n) => `printf '%s' $'${n}' >$'/srv/data/d/${n}'`).join('; ');
    expect((await sh(`mkdir -p /srv/data/d/e /srv/data/d/gonedir/sub && ${make};
      echo f >/srv/data/d/gonedir/sub/f; echo 2 >/srv/data/d/e/keep2; echo 2 >/srv/data/d/e/gone2; echo t >/srv/data/topgone; echo t >/srv/data/topkeep;
      setfacl -m u:1234:r /srv/data/d/qax; setfattr -n user.k -v v /srv/data/d/keep; sync`)).code).toBe(0);
    const first = await push('20260101_000001');
    expect(first.stdout, first.stderr).toMatch(/^exit 0$/m);
    expect((await commit('20260101_000001')).stdout).toMatch(/^exit 0$/m);
    const before = await inodes(KEPT);

    const drop = GONE.map((n) => `$'/srv/data/d/${n}'`).join(' ');
    const change = `rm -r ${drop} /srv/data/d/gonedir /srv/data/d/e/gone2 /srv/data/topgone && echo new >/srv/data/d/new && echo 3 >/srv/data/d/e/keep2`;
    expect(await passesOf(change, '20260101_000001', '20260101_000002')).toBe(1);
    expect(await differs()).toBe('');
    // Not one of the entries that stayed was written again.
    expect(await inodes(KEPT)).toBe(before);
    expect((await commit('20260101_000002')).stdout).toMatch(/^exit 0$/m);
  });

  it('past the rules it may give rsync, deletes in a pass of its own, as exactly', async () => {
    expect((await sh('mkdir /srv/data/many && for i in $(seq 1 600); do echo $i >/srv/data/many/f$i; done && sync')).code).toBe(0);
    await backup('20260101_000002', '20260101_000003');
    expect(await passesOf('rm /srv/data/many/f[1-5]* /srv/data/d/keep && echo x >/srv/data/many/f6', '20260101_000003', '20260101_000004')).toBe(2);
    expect(await differs()).toBe('');
    expect((await commit('20260101_000004')).stdout).toMatch(/^exit 0$/m);
  });

  it('a name of a hardlinked file replaced by rename goes first: the times of its directory are set after it', async () => {
    expect((await sh('echo l >/srv/data/ln1 && ln /srv/data/ln1 /srv/data/ln2 && sync')).code).toBe(0);
    await backup('20260101_000004', '20260101_000005');
    // In the top directory: ln1 becomes a file of its own (written anew, in a pass of its own, by
    // rename), and an entry is gone (the directory goes in the filtered pass). The push comes a
    // second later, so a rename after the directory's times were set would show.
    expect(await passesOf('echo n >/srv/data/tmp && mv /srv/data/tmp /srv/data/ln1 && rm /srv/data/topkeep && sleep 1.1', '20260101_000005', '20260101_000006')).toBe(2);
    expect(await differs()).toBe('');
    expect((await commit('20260101_000006')).stdout).toMatch(/^exit 0$/m);
  });

  it('a file of the top directory rewritten where it is: the times of that directory stay the source\'s', async () => {
    // On a dir store rsync writes the file anew and renames it over its name, which moves the
    // directory's times; the top directory is no name of the pass.
    expect(await passesOf('echo again >>/srv/data/ln2 && sleep 1.1', '20260101_000006', '20260101_000007')).toBe(1);
    expect(await differs()).toBe('');
    expect((await commit('20260101_000007')).stdout).toMatch(/^exit 0$/m);
  });

  it('a name whose rule would be too long for rsync (4096 bytes) makes the directories go in a pass of their own', async () => {
    // Ten directories of 200 stars each: escaped, the rule for a name below them is over 4000 bytes.
    const deep = `/srv/data/${Array(10).fill('\\*'.repeat(200)).join('/')}`;
    expect((await sh(`mkdir -p ${deep} && echo a >${deep}/gone && echo b >${deep}/kept && sync`)).code).toBe(0);
    await backup('20260101_000007', '20260101_000008');
    expect(await passesOf(`rm ${deep}/gone`, '20260101_000008', '20260101_000009')).toBe(2);
    expect(await differs()).toBe('');
  });
});

describe('storage: the quota groups of a btrfs store (backup_btrfs_quota)', () => {
  const container = `storagetest-quota-${process.pid}`;
  const { sh, push } = pushKit(container);
  const STORE = { backup_target_backend: 'btrfs', backup_data_device: '/var/lib/sbdi/backup.img', backup_data_file_size: 1 };
  startStorageHost(container, STORE, sh);
  const json = (out: string) => JSON.parse(out.slice(out.indexOf('{'))) as Record<string, unknown>;
  const quotaOn = async () => (await sh('btrfs qgroup show /backup >/dev/null 2>&1')).code === 0;
  /** The store's setup after rendering the inventory with QUOTA: whether it changed anything. */
  const setup = async (quota: boolean) => {
    install(container, render(inventory({ ...STORE, backup_btrfs_quota: quota }, { btrfs_backup_source: true, btrfs_backup_source_dir: '/srv/data' })), 'storage-1');
    const r = await sh(`${L}/sbdi-target-setup`);
    expect(r.code, r.stderr).toBe(0);
    return json(r.stdout).changed;
  };
  /** A push of the whole tree into ID, committed: commit_backup's result. */
  const backup = async (id: string) => {
    // 256 KiB that do not compress, in a file of its own per backup.
    expect((await sh(`head -c 262144 /dev/urandom >/srv/data/data-${id} && sync`)).code).toBe(0);
    expect((await push(id)).stdout).toMatch(/^exit 0$/m);
    const r = await sh(`printf '{"id":"%s","status":"complete","sources":[{"host":"storage-1","target":"storage-1","bytes":4}]}' ${id} | ${L}/commit_backup ${id}`);
    expect(r.code, r.stderr).toBe(0);
    return json(r.stdout);
  };
  const listed = async () => {
    const r = await sh(`${L}/list_backups </dev/null`);
    expect(r.code, r.stderr).toBe(0);
    return json(r.stdout).backups as Array<Record<string, unknown>>;
  };

  it('has none by default: every backup is committed and listed, without sizes', async () => {
    expect(await quotaOn()).toBe(false);
    expect(await backup('20260101_000001')).toMatchObject({ id: '20260101_000001', usedBytes: null });
    const backups = await listed();
    expect(backups.map((b) => b.id)).toEqual(['20260101_000001']);
    expect(backups[0]).toMatchObject({ usedBytes: null, referencedBytes: null, compressRatio: null });
    expect(await setup(false), 'nothing to change').toBe(false);
  });

  it('asked for, the setup switches them on and counts what the store holds; list_backups gives the sizes', async () => {
    expect(await setup(true)).toBe(true);
    expect(await quotaOn()).toBe(true);
    expect(await setup(true), 'nothing to change').toBe(false);
    const committed = await backup('20260101_000002');
    expect(committed.usedBytes).toBeGreaterThan(2 * 262144);
    const backups = await listed();
    expect(backups.map((b) => b.id)).toEqual(['20260101_000001', '20260101_000002']);
    // The backup made before the quota groups is counted too (the setup waited for the rescan).
    backups.forEach((b, i) => {
      expect(b.referencedBytes, JSON.stringify(b)).toBeGreaterThan((i + 1) * 262144);
      expect(b.usedBytes, JSON.stringify(b)).toBeGreaterThan(0);
      // Against the manifest's bytes (4 here: the scenario checks the ratio itself).
      expect(typeof b.compressRatio).toBe('number');
    });
    // The director's listing (`ids`) reads no sizes.
    const ids = json((await sh(`echo ids | ${L}/list_backups`)).stdout).backups as Array<Record<string, unknown>>;
    expect(ids.map((b) => [b.id, b.usedBytes])).toEqual([['20260101_000001', null], ['20260101_000002', null]]);
  });

  it('no longer asked for, the setup switches them off; prepare_target does not switch them on again', async () => {
    expect(await setup(false)).toBe(true);
    expect(await quotaOn()).toBe(false);
    expect(await backup('20260101_000003')).toMatchObject({ usedBytes: null });
    expect(await quotaOn()).toBe(false);
    expect((await listed()).map((b) => [b.id, b.usedBytes])).toEqual([['20260101_000001', null], ['20260101_000002', null], ['20260101_000003', null]]);
  });
});

describe('storage: a push limit (backup_push_limit)', () => {
  const container = `storagetest-limit-${process.pid}`;
  const { sh, push } = pushKit(container);
  const stored = async () => Number((await sh('du -s -B1 --apparent-size /backup/current/storage-1@+srv+data | cut -f1')).stdout.trim());
  beforeAll(async () => {
    startContainer(container, 'storage-1', await baseImage());
    install(container, render(inventory({ backup_target_backend: 'dir' }, { btrfs_backup_source: true, btrfs_backup_source_dir: '/srv/data', backup_push_limit: '2M' })), 'storage-1');
    const r = await sh(`bash /tmp/storage/make-source.sh btrfs /srv/data && ${L}/sbdi-target-setup >/dev/null`);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => removeContainer(container));

  it('stops a push that sends more than the limit, and says so; a push within it passes', async () => {
    expect((await sh('head -c 8M /dev/urandom >/srv/data/big && echo small >/srv/data/small && sync')).code).toBe(0);
    const over = await push('20260101_000001');
    expect(over.stdout).toMatch(/^exit 8$/m);
    expect(over.stderr).toMatch(/stopped the push of storage-1@\+srv\+data at its limit of 2097152 bytes \(backup_push_limit\)/);
    // What the store got is bounded by the limit (rsync's own temporary file is gone with it).
    expect(await stored()).toBeLessThan(2 * 2 ** 20 + 2 ** 16);
    expect((await sh('rm /srv/data/big && head -c 512K /dev/urandom >/srv/data/mid && sync')).code).toBe(0);
    const within = await push('20260101_000002');
    expect(within.stdout, within.stderr).toMatch(/^exit 0$/m);
    // A receiver or push that ended a moment ago is no reason for a word on stderr.
    expect(within.stderr).not.toMatch(/No such file/);
    expect((await sh('cmp /srv/data/mid /backup/current/storage-1@+srv+data/mid && echo same')).stdout).toContain('same');
  });

  it('refuses a push that asks for compression (the bytes sent would no longer bound the bytes written)', async () => {
    for (const flag of ['-z', '--compress', '--zc=zlib']) {
      const r = await sh(`rsync -a ${flag} -e 'ssh -i /etc/sbdi/backup/push_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile=/etc/sbdi/backup/known_hosts' /srv/data/small sbdi-receive@127.0.0.1:zipped; echo "exit $?"`);
      expect(r.stdout, flag).not.toMatch(/^exit 0$/m);
      expect(r.stderr, flag).toMatch(/refused a push of storage-1@\+srv\+data asking for compression/);
      expect((await sh('test -e /backup/current/storage-1@+srv+data/zipped; echo $?')).stdout.trim()).toBe('1');
    }
  });

  it('says a refusal on stderr only: stdout carries the rsync protocol, and a stray line there hides the reason', async () => {
    // The forced commands as a source's rsync calls them, read byte for byte: a refused push (it
    // asks for compression) and a pull when no backup is activated.
    const ssh = (key: string, command: string) =>
      sh(`ssh -i /etc/sbdi/backup/${key}_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile=/etc/sbdi/backup/known_hosts sbdi-receive@127.0.0.1 '${command}' </dev/null >/tmp/protocol; echo "exit $?"; wc -c </tmp/protocol`);
    const refused = await ssh('push', 'rsync --server -logDtprze.iLsfxCIvu --old-compress . zipped');
    expect(refused.stderr).toMatch(/refused a push of storage-1@\+srv\+data asking for compression/);
    expect(refused.stdout).toMatch(/^exit 2\n0$/m);
    const pull = await ssh('pull', 'rsync --server --sender -logDtprze.iLsfxCIvu . x');
    expect(pull.stderr).toMatch(/no activated backup holds 'storage-1@\+srv\+data'/);
    expect(pull.stdout).toMatch(/^exit 12\n0$/m);
  });
});

describe('storage: a dir store whose tree becomes a copied one (its source now zfs-fuse or Gluster)', () => {
  const container = `storagetest-relinked-${process.pid}`;
  const { sh, push, commit } = pushKit(container);
  const tree = '/backup/current/storage-1@+srv+data';
  startStorageHost(container, { backup_target_backend: 'dir' }, sh);

  it('takes that tree out of current before any push: no push sets metadata through a file a backup shares', async () => {
    expect((await sh('echo one >/srv/data/f && chmod 0644 /srv/data/f && sync')).code).toBe(0);
    expect((await push('20260101_000001')).stdout).toMatch(/^exit 0$/m);
    expect((await commit('20260101_000001')).stdout).toMatch(/^exit 0$/m);
    const inode = async (path: string) => (await sh(`stat -c %i '${path}'`)).stdout.trim();
    expect(await inode(`${tree}/f`)).toBe(await inode('/backup/snapshots/20260101_000001/storage-1@+srv+data/f'));
    // What a converge does when the source's backend changes: the tree is a copied one now, and
    // the source, no longer told the store shares files, compares by content where it has no
    // record of the store's snapshot (rsync --checksum sets a same-content file's mode in place).
    const renderedAgain = await sh(`sed -i "s/^copied_trees=(/copied_trees=('storage-1@+srv+data' /" ${L}/*; sed -i 's/by_content=(--ignore-times)/by_content=(--checksum)/' ${L}/perform_rsync; rm -rf /var/lib/sbdi-backup/changes`);
    expect(renderedAgain.code, renderedAgain.stderr).toBe(0);
    expect((await sh('chmod 0600 /srv/data/f && sync')).code).toBe(0);
    const second = await push('20260101_000002');
    expect(second.stdout).toMatch(/^exit 0$/m);
    expect(second.stderr).toMatch(/storage-1@\+srv\+data may share files with a backup, and its tree is now a copied one: removed/);
    expect((await commit('20260101_000002')).stdout).toMatch(/^exit 0$/m);
    expect((await sh("stat -c %a /backup/snapshots/20260101_000001/storage-1@+srv+data/f")).stdout.trim(), 'backup 1 keeps its mode').toBe('644');
    expect((await sh("stat -c %a /backup/snapshots/20260101_000002/storage-1@+srv+data/f")).stdout.trim()).toBe('600');
    expect(await inode(`${tree}/f`)).not.toBe(await inode('/backup/snapshots/20260101_000002/storage-1@+srv+data/f'));
  });
});

describe("storage: a dir store's push key cannot change a committed backup", () => {
  const container = `storagetest-sharedpush-${process.pid}`;
  const { sh, push, commit } = pushKit(container);
  // rsync as a source's own key runs it, from a tree the test makes: what a source taken over can send.
  const rsyncAs = (options: string) =>
    sh(`rsync ${options} -e 'ssh -i /etc/sbdi/backup/push_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile=/etc/sbdi/backup/known_hosts' /tmp/hostile/ sbdi-receive@127.0.0.1:; echo "exit $?"`);
  const backup1 = '/backup/snapshots/20260101_000001/storage-1@+srv+data';
  startStorageHost(container, { backup_target_backend: 'dir' }, sh, " && printf 'one\\n' >/srv/data/f && chmod 0644 /srv/data/f && ln -s f /srv/data/l1 && ln /srv/data/l1 /srv/data/l2 && sync");
  beforeAll(async () => {
    expect((await push('20260101_000001')).stdout).toMatch(/^exit 0$/m);
    expect((await commit('20260101_000001')).stdout).toMatch(/^exit 0$/m);
    // The same size and mtime as backup 1's f, another content and mode.
    expect((await sh(`mkdir -p /tmp/hostile && printf 'two\n' >/tmp/hostile/f && chmod 0600 /tmp/hostile/f && touch -r ${backup1}/f /tmp/hostile/f`)).code).toBe(0);
  });

  it("makes current's symlinks its own, a hardlinked pair still one", async () => {
    const inodes = async (dir: string) => (await sh(`stat -c %i '${dir}/l1' '${dir}/l2'`)).stdout.trim().split('\n');
    const [c1, c2] = await inodes('/backup/current/storage-1@+srv+data');
    const [b1] = await inodes(backup1);
    expect(c1).toBe(c2);
    expect(c1).not.toBe(b1);
  });

  it('refuses what would write into a file or keep one by its size or checksum', async () => {
    for (const options of ['-a --inplace', '-a --append', '-a --append-verify', '-a --size-only', '-ac']) {
      const r = await rsyncAs(options);
      expect(r.stdout, options).not.toMatch(/^exit 0$/m);
      expect(r.stderr, options).toMatch(/refused a push of storage-1@\+srv\+data asking for (--inplace|--append|--size-only|--checksum)/);
    }
    expect((await sh(`cat ${backup1}/f; stat -c %a ${backup1}/f`)).stdout).toBe('one\n644\n');
  });

  it('writes every file a push sends anew: the same size and mtime change neither content nor mode of backup 1', async () => {
    const r = await rsyncAs('-a');
    expect(r.stdout, r.stderr).toMatch(/^exit 0$/m);
    expect((await sh('cat /backup/current/storage-1@+srv+data/f')).stdout).toBe('two\n');
    expect((await sh(`cat ${backup1}/f; stat -c %a ${backup1}/f`)).stdout).toBe('one\n644\n');
  });
});

describe("storage: a dir store makes current again after commit_backup has answered", () => {
  const container = `storagetest-rebuild-${process.pid}`;
  const { sh, push } = pushKit(container);
  const tree = 'storage-1@+srv+data';
  const LOCK = '/backup/.current-lock';
  // 20 000 files: linking them takes long enough (0.2 s and more) for the test to come in while it runs.
  startStorageHost(container, { backup_target_backend: 'dir' }, sh, ` && python3 -c '
import os
for d in range(200):
    os.makedirs("/srv/data/d%d" % d)
    for f in range(100):
        with open("/srv/data/d%d/f%d" % (d, f), "w") as o: o.write("%d %d\\n" % (d, f))
' && sync`);
  /** commit_backup ID as the director runs it: its exit, then whether the lock was still held right after it answered. */
  const commitNow = (id: string) =>
    sh(`printf '{"id":"%s","status":"complete","sources":[{"host":"storage-1","target":"storage-1","bytes":4}]}' ${id} | ${L}/commit_backup ${id} >/dev/null; echo "exit $?"
      if flock -n ${LOCK} true; then echo "lock free"; else echo "lock held"; fi`);
  /** What differs between current's tree and backup ID's (rsync's itemized dry run; empty when equal), and how many of its files share the backup's inode. */
  const currentIs = async (id: string) => {
    const r = await sh(`rsync -n -i -aHAX --checksum --delete /backup/snapshots/${id}/${tree}/ /backup/current/${tree}/
      echo "shared $(find /backup/current/${tree} -type f -links +1 | wc -l) of $(find /backup/snapshots/${id}/${tree} -type f | wc -l)"`);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  it('answers before current is made again; the next prepare_target waits for it and starts from the backup', async () => {
    expect((await push('20260101_000001')).stdout).toMatch(/^exit 0$/m);
    const r = await commitNow('20260101_000001');
    expect(r.stdout).toMatch(/^exit 0$/m);
    expect(r.stdout, 'the rebuild still held the lock when commit_backup had answered').toMatch(/^lock held$/m);
    const prepared = await sh(`${L}/prepare_target </dev/null`);
    expect(prepared.stdout).toContain('"base":"20260101_000001","baseReset":false');
    expect(await currentIs('20260101_000001')).toBe('shared 20000 of 20000');
    expect((await sh('ls -a /backup')).stdout).not.toMatch(/current\.(next|old)/);
  });

  it('a push that comes while current is being made waits for it, and sends only its changes into it', async () => {
    expect((await sh('rm -rf /srv/data/d7 && echo changed >/srv/data/d8/f1 && sync')).code).toBe(0);
    // As the director: prepare_target, then the push of the changes since the base.
    const prepared = await sh(`${L}/prepare_target </dev/null`);
    expect(prepared.stdout).toContain('"base":"20260101_000001"');
    expect((await sh(`${L}/prepare_source_snapshot >/dev/null`)).code).toBe(0);
    const pushed = await sh(`printf '20260101_000001 20260101_000002\n' | ${L}/perform_rsync; echo "exit $?"`);
    expect(pushed.stdout, pushed.stderr).toMatch(/^exit 0$/m);
    expect((await sh(`${L}/remove_source_snapshot >/dev/null`)).code).toBe(0);
    const committed = await commitNow('20260101_000002');
    expect(committed.stdout).toMatch(/^exit 0\nlock held$/m);
    // A late (or hostile) push through the source's key while the rebuild runs: it waits for it,
    // or what it writes into current would go with the trees the rebuild replaces.
    const late = await sh(`mkdir -p /tmp/late && echo late >/tmp/late/file && rsync -a -e 'ssh -i /etc/sbdi/backup/push_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile=/etc/sbdi/backup/known_hosts' /tmp/late/ sbdi-receive@127.0.0.1:late/; echo "exit $?"`);
    expect(late.stdout, late.stderr).toMatch(/^exit 0$/m);
    expect((await sh(`flock ${LOCK} cat /backup/current/${tree}/late/file`)).stdout).toBe('late\n');
    expect((await sh(`test ! -e /backup/snapshots/20260101_000002/${tree}/d7 && cat /backup/snapshots/20260101_000002/${tree}/d8/f1`)).stdout).toBe('changed\n');
  });

  // A push through a source's key that never ends (a source taken over, or a connection that
  // hangs): it holds the lock shared for as long as it lives.
  const idlePush = () =>
    sh(`setsid ssh -i /etc/sbdi/backup/push_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile=/etc/sbdi/backup/known_hosts sbdi-receive@127.0.0.1 'rsync --server -logDtpre.iLsfxCIvu . .' < <(sleep 100000) >/dev/null 2>&1 &
      for i in $(seq 200); do ls /run/sbdi-backup/receivers/*.pid >/dev/null 2>&1 && break; sleep 0.05; done; sleep 0.3`);
  const receivers = async () => (await sh(`pgrep -fc '^/bin/bash ${L}/receive_backup ' || true`)).stdout.trim();

  it("stops, before it prepares, a push left running, even one whose record a second push's refusal took", async () => {
    expect((await idlePush()).code).toBe(0);
    // The same tree again: rrsync refuses it (its own lock), and it ends.
    const second = await sh(`ssh -i /etc/sbdi/backup/push_ed25519 -o IdentitiesOnly=yes -o UserKnownHostsFile=/etc/sbdi/backup/known_hosts sbdi-receive@127.0.0.1 'rsync --server -logDtpre.iLsfxCIvu . .' </dev/null; echo "exit $?"`);
    expect(second.stdout).not.toMatch(/^exit 0$/m);
    expect(await receivers()).toBe('1');
    const prepared = await sh(`timeout 60 ${L}/prepare_target </dev/null; echo "exit $?"`);
    expect(prepared.stdout).toMatch(/^exit 0$/m);
    expect(prepared.stderr).toMatch(/stopped the receiver of storage-1@\+srv\+data left running by an earlier run/);
    expect(await receivers()).toBe('0');
  });

  it('stops a push still running when it commits, instead of waiting for it', async () => {
    expect((await sh('echo later >/srv/data/d8/f3 && sync')).code).toBe(0);
    expect((await push('20260101_000004')).stdout).toMatch(/^exit 0$/m);
    expect((await idlePush()).code).toBe(0);
    expect(await receivers()).toBe('1');
    const committed = await sh(`printf '{"id":"%s","status":"complete","sources":[]}' 20260101_000004 | timeout 60 ${L}/commit_backup 20260101_000004 >/dev/null; echo "exit $?"`);
    expect(committed.stdout, committed.stderr).toMatch(/^exit 0$/m);
    expect(committed.stderr).toMatch(/stopped a push into \/backup\/current that was still running/);
    expect(await receivers()).toBe('0');
    expect((await sh(`flock ${LOCK} cat /backup/snapshots/20260101_000004/${tree}/d8/f3`)).stdout).toBe('later\n');
  });

  it('killed halfway, leaves current to the next prepare_target, which makes it again from the newest backup', async () => {
    expect((await sh('echo again >/srv/data/d8/f2 && sync')).code).toBe(0);
    expect((await sh(`${L}/prepare_target </dev/null >/dev/null`)).code).toBe(0);
    expect((await push('20260101_000005')).stdout).toMatch(/^exit 0$/m);
    // A crash of the target during the rebuild: every process of it (all that hold its lock)
    // killed once it has linked some files.
    const killed = await sh(`printf '{"id":"%s","status":"complete","sources":[]}' 20260101_000005 | ${L}/commit_backup 20260101_000005 >/dev/null
      for i in $(seq 1000); do [ -z "$(find /backup/current.next -type f -print -quit 2>/dev/null)" ] || break; sleep 0.01; done
      bash /tmp/storage/kill-lock-holders.sh; sleep 0.2
      if flock -n ${LOCK} true; then echo "lock free"; fi
      find /backup/current.next -type f | wc -l`);
    expect(killed.stdout, 'the rebuild was killed with the lock released').toMatch(/^lock free$/m);
    const halfway = Number(killed.stdout.trim().split('\n').pop());
    expect(halfway, 'killed halfway').toBeGreaterThan(0);
    expect(halfway).toBeLessThan(19900);
    const prepared = await sh(`${L}/prepare_target </dev/null`);
    expect(prepared.stdout).toContain('"base":"20260101_000005","baseReset":true');
    expect(prepared.stderr).toMatch(/removing current\.next left by an interrupted commit/);
    expect(await currentIs('20260101_000005')).toBe('shared 19900 of 19900');
  });
});

describe('storage: a whole-tree push after one that never committed (btrfs store)', () => {
  const container = `storagetest-refull-${process.pid}`;
  const { sh, push, commit } = pushKit(container);
  startStorageHost(container, { backup_target_backend: 'btrfs', backup_data_device: '/var/lib/sbdi/backup.img', backup_data_file_size: 1 }, sh);

  it('sends a file rewritten behind the same size and mtime before the push that never committed', async () => {
    expect((await sh('printf aaaa >/srv/data/f && sync')).code).toBe(0);
    expect((await push('20260101_000001')).stdout).toMatch(/^exit 0$/m);
    expect((await commit('20260101_000001')).stdout).toMatch(/^exit 0$/m);
    // Rewritten more than the push's margin of a second before the next snapshot.
    expect((await sh('touch -r /srv/data/f /tmp/ref && printf bbbb >/srv/data/f && touch -r /tmp/ref /srv/data/f && sync && sleep 2.1')).code).toBe(0);
    // Whole-tree pushes (no base: the director's full scans): the first never commits, so the
    // next one goes into the store set back to backup 1.
    expect((await push('20260101_000002')).stdout).toMatch(/^exit 0$/m);
    expect((await push('20260101_000003')).stdout).toMatch(/^exit 0$/m);
    expect((await sh("cat '/backup/current/storage-1@+srv+data/f'")).stdout).toBe('bbbb');
  });
});

const CRASH_CASES = [
  { name: 'btrfs', target: { backup_target_backend: 'btrfs', backup_data_device: '/var/lib/sbdi/backup.img', backup_data_file_size: 1 }, image: '/var/lib/sbdi/backup.img', mount: '' },
  // A dir store on a filesystem the test makes itself: ext4 on a loop file, as a disk would be.
  { name: 'dir (on ext4)', target: { backup_target_backend: 'dir' }, image: '/var/lib/ext4-store.img', mount: 'ext4' },
] as const;

describe.each(CRASH_CASES)('storage: a power cut right after a commit ($name store)', (c) => {
  const container = `storagetest-crash-${c.name.split(' ')[0]}-${process.pid}`;
  const sh = (script: string) => dockerAsync(['exec', container, 'bash', '-c', script], undefined, 300_000);
  beforeAll(async () => {
    startContainer(container, 'storage-1', await baseImage());
    install(container, render(inventory(c.target, { btrfs_backup_source: true, btrfs_backup_source_dir: '/srv/data' })), 'storage-1');
    const store = c.mount === 'ext4' ? `truncate -s 1G ${c.image} && mkfs.ext4 -q ${c.image} && mkdir -p /backup && mount -o loop ${c.image} /backup && ` : '';
    const r = await sh(`bash /tmp/storage/make-source.sh btrfs /srv/data && ${store}${L}/sbdi-target-setup >/dev/null`);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => removeContainer(container));

  it('leaves the backup the director was told of complete and restorable', async () => {
    const r = await sh(`bash /tmp/storage/crash-after-commit.sh ${c.image} ${c.mount}`);
    process.stdout.write(`--- a power cut after a commit, ${c.name} store\n${r.stdout}`);
    expect(r.stdout, r.stderr).not.toContain('FAILED');
    expect(r.stdout, r.stderr).toContain('CRASH PASSED');
  });
});

describe('storage: the passes of one push', () => {
  const container = `storagetest-passes-${process.pid}`;
  const { sh, push } = pushKit(container);
  const logins = async () => Number((await sh('grep -c "Accepted publickey for sbdi-receive" /tmp/sshd.log || true')).stdout.trim());
  const masters = async () => (await sh('pgrep -f "^ssh .*[C]ontrolMaster=yes" || true')).stdout.trim();
  beforeAll(async () => {
    startContainer(container, 'storage-1', await baseImage());
    // A btrfs store: a whole-tree push there makes two passes (a dir store's, one: it writes every
    // file anew).
    install(container, render(inventory({ backup_target_backend: 'btrfs', backup_data_device: '/var/lib/sbdi/backup.img', backup_data_file_size: 1 }, { btrfs_backup_source: true, btrfs_backup_source_dir: '/srv/data' })), 'storage-1');
    // sshd again, logging to a file: every login the pushes make is counted.
    const r = await sh(`bash /tmp/storage/make-source.sh btrfs /srv/data && ${L}/sbdi-target-setup >/dev/null &&
      pkill -x -o sshd && sleep 0.5 && /usr/sbin/sshd -E /tmp/sshd.log && mkdir -p /srv/data/a && seq 1 1000 >/srv/data/a/f && echo b >/srv/data/b && sync`);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(() => removeContainer(container));

  it('go through one ssh connection, which is closed when the push ends', async () => {
    const first = await push('20260101_000001');
    expect(first.stdout, first.stderr).toMatch(/^exit 0$/m);
    expect((await sh('echo changed >/srv/data/a/f && rm /srv/data/b && sync')).code).toBe(0);
    const before = await logins();
    const second = await push('20260101_000002');
    expect(second.stdout, second.stderr).toMatch(/^exit 0$/m);
    // Two passes: the files changed since the store's copy, by content, then the whole tree.
    expect(second.stderr).toMatch(/1 files changed since the store's snapshot was taken: compared by content first/);
    expect((await logins()) - before).toBe(1);
    expect(await masters()).toBe('');
    expect((await sh('cmp /srv/data/a/f /backup/current/storage-1@+srv+data/a/f && test ! -e /backup/current/storage-1@+srv+data/b && echo same')).stdout).toContain('same');
  });

  it('a push killed outright leaves its connection open no longer than 10 s after its last pass', async () => {
    expect((await sh('head -c 300M /dev/zero >/srv/data/big && sync')).code).toBe(0);
    const killed = sh(`${L}/prepare_target </dev/null >/dev/null && ${L}/prepare_source_snapshot >/dev/null &&
      { printf -- '- 20260101_000003\\n' | ${L}/perform_rsync >/dev/null 2>&1 & pid=$!;
        for _ in $(seq 1 100); do pgrep -x rsync >/dev/null && break; sleep 0.1; done;
        kill -9 "$pid"; pkill -9 -x rsync; echo killed; }`);
    expect((await killed).stdout).toContain('killed');
    expect(await masters()).not.toBe('');
    const gone = Date.now();
    while ((await masters()) !== '' && Date.now() - gone < 20_000) await new Promise((r) => setTimeout(r, 500));
    expect(await masters()).toBe('');
    expect(Date.now() - gone).toBeLessThan(12_000);
    await sh(`${L}/remove_source_snapshot >/dev/null; rm -f /srv/data/big`);
  }, 120_000);
});
