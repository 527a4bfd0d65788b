// The peers' pure parts: their command lines, the parsing of what restic and borg print, the timing wrapper.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  acceptedCodes, backupCommand, initCommand, parseBorgCreate, parsePeers, parseResticSummary, parseTimed, parseVersion, restoreCommand, shq, timedScript,
  type PeerSource, type PeerTarget,
} from '../../../tools/bench/peers';
import { orderOf, sidesOf } from '../../../tools/bench/run';

const T: PeerTarget = { host: 'bnc-backup-target', dir: '/var/lib/sbdi/bench', sshOpts: '-i /root/.ssh/k -o BatchMode=yes' };
const S: PeerSource = { dir: '/docker_local', tree: 'solr-1@+docker_local' };

// What restic 0.14 prints with --json: status lines (unless --quiet), then the summary.
const RESTIC_OUT = [
  '{"message_type":"status","percent_done":0.5,"total_files":2003,"files_done":1000,"total_bytes":62914560,"bytes_done":31457280}',
  '{"message_type":"summary","files_new":12,"files_changed":9,"files_unmodified":1982,"dirs_new":0,"dirs_changed":14,"dirs_unmodified":40,' +
    '"data_blobs":25,"tree_blobs":15,"data_added":524288,"total_files_processed":2003,"total_bytes_processed":62914560,"total_duration":1.75,"snapshot_id":"4f1c9a2b"}',
  '',
].join('\n');

// What borg 1.2 prints with create --json (trimmed of fields the bench does not read).
const BORG_OUT = JSON.stringify(
  {
    archive: {
      duration: 2.5,
      name: 'run1-full',
      stats: { compressed_size: 30_000_000, deduplicated_size: 29_000_000, nfiles: 2003, original_size: 62_914_560 },
    },
    cache: { stats: { total_chunks: 2100, unique_chunks: 2050 } },
    encryption: { mode: 'none' },
    repository: { id: 'ab', location: 'ssh://root@bnc-backup-target/var/lib/sbdi/bench/borg/solr-1@+docker_local' },
  },
  null,
  4,
);

describe('peer output', () => {
  it("restic: the summary line's counts, after status lines and stray text", () => {
    expect(parseResticSummary(`some warning\n${RESTIC_OUT}`)).toEqual({ files: 2003, changedFiles: 21, bytes: 62914560, addedBytes: 524288, seconds: 1.75 });
    // As restic 0.14.0 printed it for an unchanged tree.
    const unchanged =
      '{"message_type":"summary","files_new":0,"files_changed":0,"files_unmodified":2030,"dirs_new":0,"dirs_changed":0,"dirs_unmodified":85,"data_blobs":0,' +
      '"tree_blobs":0,"data_added":0,"total_files_processed":2030,"total_bytes_processed":63443627,"total_duration":0.510782712,"snapshot_id":"f0e28c92"}\n';
    expect(parseResticSummary(unchanged)).toEqual({ files: 2030, changedFiles: 0, bytes: 63443627, addedBytes: 0, seconds: 0.510782712 });
    expect(() => parseResticSummary('{"message_type":"status"}\n')).toThrow(/restic printed no summary/);
    expect(() => parseResticSummary('{"message_type":"summary","files_new":"x"}')).toThrow(/not a number/);
  });

  it("borg: the archive's stats and duration", () => {
    expect(parseBorgCreate(BORG_OUT)).toEqual({ files: 2003, bytes: 62_914_560, addedBytes: 29_000_000, seconds: 2.5 });
    expect(() => parseBorgCreate('Warning: something\n')).toThrow(/borg printed no JSON/);
    expect(() => parseBorgCreate('{"archive": {}}')).toThrow(/no archive.stats/);
    expect(() => parseBorgCreate('{"archive": ')).toThrow(/does not parse/);
  });

  it('versions as Debian builds print them', () => {
    expect(parseVersion('restic', 'restic 0.14.0 compiled with go1.19.8 on linux/amd64\n')).toBe('0.14.0');
    expect(parseVersion('borg', 'borg 1.2.4\n')).toBe('1.2.4');
    expect(() => parseVersion('borg', 'command not found')).toThrow(/cannot read the version/);
  });

  it('--peers: names, none, no repeats', () => {
    expect(parsePeers('restic,borg')).toEqual(['restic', 'borg']);
    expect(parsePeers('none')).toEqual([]);
    expect(() => parsePeers('restic,')).toThrow(/"" is not one of/);
  });
});

describe('peer commands', () => {
  it('restic goes over its sftp backend with the bench key, borg over ssh; both into the tree\'s own repository', () => {
    expect(initCommand('restic', T, S)).toBe(
      "RESTIC_PASSWORD_FILE=/root/.sbdi-bench-restic-password restic -r 'sftp:root@bnc-backup-target:/var/lib/sbdi/bench/restic/solr-1@+docker_local' " +
        "-o 'sftp.command=ssh -i /root/.ssh/k -o BatchMode=yes root@bnc-backup-target -s sftp' init --quiet",
    );
    expect(initCommand('borg', T, S)).toContain("borg init -e none 'ssh://root@bnc-backup-target/var/lib/sbdi/bench/borg/solr-1@+docker_local'");
    expect(initCommand('borg', T, S)).toContain("BORG_RSH='ssh -i /root/.ssh/k -o BatchMode=yes'");
    expect(backupCommand('restic', T, S, 'x')).toMatch(/ backup --json --quiet --exclude '\/docker_local\/\.sbdi-snapshot' --exclude '\/docker_local\/\.sbdi-snapshot\.base' '\/docker_local'$/);
    expect(backupCommand('borg', T, S, 'run1-full')).toMatch(
      / borg create --json --exclude 'pp:\/docker_local\/\.sbdi-snapshot' --exclude 'pp:\/docker_local\/\.sbdi-snapshot\.base' 'ssh:\/\/root@bnc-backup-target\/var\/lib\/sbdi\/bench\/borg\/solr-1@\+docker_local::run1-full' '\/docker_local'$/,
    );
    expect(restoreCommand('restic', T, S, 'x')).toMatch(/ restore latest --target \/$/);
    expect(restoreCommand('borg', T, S, 'run1-incremental')).toMatch(/^cd \/ && .* borg extract '.*::run1-incremental'$/);
  });

  it('quoting survives bash', () => {
    const word = "it's a $HOME `x` \"y\"";
    expect(execFileSync('bash', ['-c', `printf %s ${shq(word)}`], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }).toString()).toBe(word);
  });

  it('the timing wrapper prints the time, exit code and stderr lines first, then stdout; an exit code not accepted fails it', () => {
    // stdin not a socket (bash would take itself for a remote shell and read the system bashrc), and a
    // clean environment (no BASH_ENV of the test run's own).
    const bash = (script: string): string =>
      execFileSync('bash', ['-euo', 'pipefail', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }).toString();
    const r = parseTimed(bash(timedScript('echo one; echo two')));
    expect(r).toMatchObject({ code: 0, stderrLines: 0, stdout: 'one\ntwo\n' });
    expect(r.ms).toBeGreaterThanOrEqual(0);
    // borg's warning: exit 1, accepted when asked for, with its stderr counted.
    expect(parseTimed(bash(timedScript('echo out; echo changed >&2; exit 1', [0, 1])))).toMatchObject({ code: 1, stderrLines: 1, stdout: 'out\n' });
    let failure: { status?: number; stderr?: Buffer } = {};
    try {
      bash(timedScript('echo x; echo broken >&2; exit 3', [0, 1]));
    } catch (e) {
      failure = e as typeof failure;
    }
    expect(failure.status).toBe(3);
    expect(failure.stderr?.toString()).toBe('broken\n');
    expect(() => parseTimed('nothing')).toThrow(/no SBDI-BENCH-MS line/);
    expect(() => parseTimed('SBDI-BENCH-MS 12\n')).toThrow(/expected "<ms> <exit code> <stderr lines>"/);
    expect(parseTimed('SBDI-BENCH-MS 1234 0 0\n')).toEqual({ ms: 1234, code: 0, stderrLines: 0, stdout: '' });
  });

  it('only borg has a warning exit code', () => {
    expect(acceptedCodes('borg')).toEqual([0, 1]);
    expect(acceptedCodes('restic')).toEqual([0]);
  });
});

describe('sides', () => {
  it('ours and both baselines, then the peers; the order rotates with the run', () => {
    const sides = sidesOf(['restic', 'borg']);
    expect(sides).toEqual(['ours', 'bare', 'fidelity', 'restic', 'borg']);
    expect(orderOf(sides, 1)).toEqual(sides);
    expect(orderOf(sides, 2)).toEqual(['bare', 'fidelity', 'restic', 'borg', 'ours']);
    expect(orderOf(sides, 6)).toEqual(sides);
    expect(sidesOf([])).toEqual(['ours', 'bare', 'fidelity']);
  });
});
