import type { HostPlan, Plan, SourcePlan, TargetPlan } from '../plan/types';
import { remotesOfTarget, sourcesOfTarget, targetNamed } from '../plan/lookup';
import { HELPERS, OPERATOR_COMMANDS, capsulesFor } from './capsules';
import { renderTemplate } from './engine';
import { renderOperatorKeys, renderReceiverKeys, renderSudoers } from './access';

export type FileKind = 'file' | 'sudoers' | 'authorized_keys';

/** One file a host gets: where it goes, who owns it, and why it is there. */
export interface RenderedFile {
  path: string;
  content: string;
  owner: string;
  group: string;
  mode: string;
  kind: FileKind;
  purpose: string;
}

export const SUDOERS_PATH = '/etc/sudoers.d/43-sbdi-backup';

function hostOf(plan: Plan, name: string): HostPlan {
  const h = plan.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`host ${name} is not in the plan`);
  return h;
}

/**
 * What a source never backs up nor restores, as `/PATH` under its live dir: its snapshot directory
 * and the directory of its bases (btrfs), backup_source_exclude.
 */
function excludesOf(source: SourcePlan): string[] {
  const ours = source.backend === 'btrfs' ? [source.snapshotDir, ...(source.baseDir !== undefined ? [source.baseDir] : [])] : [];
  const own = ours.filter((d) => d.startsWith(`${source.liveDir}/`)).map((d) => d.slice(source.liveDir.length));
  return [...own, ...(source.excludes ?? []).map((x) => `/${x}`)];
}

/**
 * Whether every change to an entry of this source moves its ctime, so that a push of only the
 * changes finds it: not on zfs-fuse, nor on Gluster, whose own ctime (features.ctime, on by
 * default) stays put for xattr- and ACL-only changes. Those sources always push whole trees, and
 * a dir store keeps their tree in current apart from its backups (target/dir).
 */
function ctimeComplete(source: SourcePlan): boolean {
  return !(source.backend === 'zfs' && source.package === 'zfs-fuse') && source.backend !== 'gluster';
}

/** Everything one host gets, in a stable order. */
export function filesForHost(plan: Plan, hostName: string, directorBundle: string): RenderedFile[] {
  const host = hostOf(plan, hostName);
  const source = plan.sources.find((s) => s.host === hostName);
  const target = plan.targets.find((t) => t.host === hostName);
  const remote = plan.remotes.find((r) => r.host === hostName);
  // The target this host deals with: itself, the one its source syncs to, or the one it replicates.
  const peerTarget: TargetPlan | undefined = target ?? (source ? targetNamed(plan, source.target) : remote ? targetNamed(plan, remote.target) : undefined);
  const ownSources = target ? sourcesOfTarget(plan, target.host) : [];
  const capsules = capsulesFor(plan, hostName);
  const managed = capsules.length > 0;
  const root = { owner: 'root', group: 'root' };
  const base = {
    host: hostName,
    application: plan.application,
    operator: plan.operator,
    receiver: plan.receiver,
    paths: plan.paths,
    settings: plan.settings,
  };
  const files: RenderedFile[] = [];

  files.push({
    path: `${plan.paths.lib}/backup-runtime`,
    content: renderTemplate('lib/runtime.sh.hbs', base),
    ...root,
    mode: '0644',
    kind: 'file',
    purpose: 'log library sourced by every capsule: uniform syslog and stderr lines',
  });

  const context = {
    ...base,
    source,
    target: peerTarget,
    targetHost: peerTarget ? hostOf(plan, peerTarget.host) : undefined,
    sourcePartial: source ? `source/${source.backend}` : undefined,
    targetPartial: target ? `target/${target.backend}` : undefined,
    targetIsCopyOnWrite: peerTarget !== undefined && peerTarget.backend !== 'dir',
    // A dir store's current shares this source's regular files with the newest backup: a file must
    // never be changed in place there, its metadata neither.
    targetSharesFiles: peerTarget !== undefined && peerTarget.backend === 'dir' && source !== undefined && ctimeComplete(source),
    // zfs-fuse keeps whole-second mtimes only: compared to the nanosecond, every file would differ.
    targetKeepsNanoseconds: peerTarget !== undefined && !(peerTarget.backend === 'zfs' && peerTarget.zfs?.package === 'zfs-fuse'),
    targetSetsAclModes: storeNeedsAclModes(peerTarget),
    // The source's capsules list ACL entries for such a store, and a zfs source sets its own bits after a restore.
    sourceAclModes: source !== undefined && (source.backend === 'zfs' || storeNeedsAclModes(peerTarget)),
    excludes: source ? excludesOf(source) : [],
    sourceCtimeComplete: source !== undefined && ctimeComplete(source),
    // A target accepts and serves only the trees of its own sources.
    trees: ownSources.map((s) => s.treeName),
    // The trees a dir store copies at each commit instead of sharing them with current.
    copiedTrees: ownSources.filter((s) => !ctimeComplete(s)).map((s) => s.treeName),
    pushLimits: ownSources.flatMap((s) => (s.pushLimitBytes === undefined ? [] : [{ tree: s.treeName, bytes: s.pushLimitBytes }])),
    // The off-site remote this host is (remote capsules), and the remotes the target sends to.
    remote,
    remotePartial: remote ? `remote/${remote.backend}` : undefined,
    targetOpsPartial: target ? `target/ops-${target.backend}` : undefined,
    remotes: (target ? remotesOfTarget(plan, target.host) : []).map((r) => {
      const h = hostOf(plan, r.host);
      return { host: r.host, login: `${plan.receiver.user}@${h.connection}`, port: h.port };
    }),
    foreignStores: target?.foreignStores ?? [],
  };
  const helpers = HELPERS.filter((x) => host.roles.includes(x.role));
  for (const c of [...capsules, ...helpers]) {
    files.push({
      path: `${plan.paths.capsules}/${c.name}`,
      content: renderTemplate(`capsules/${c.name}.sh.hbs`, { ...context, capsule: c.name, purpose: c.purpose, phase: c.name }),
      ...root,
      mode: '0755',
      kind: 'file',
      purpose: c.purpose,
    });
  }

  if (managed) {
    const viaDispatch = capsules.filter((c) => c.viaDispatch);
    files.push({
      path: `${plan.paths.capsules}/sbdi-dispatch`,
      content: renderTemplate('capsules/sbdi-dispatch.sh.hbs', {
        ...base,
        noArg: viaDispatch.filter((c) => c.arg === 'none').map((c) => c.name),
        gateArg: viaDispatch.filter((c) => c.arg === 'gate').map((c) => c.name),
        idArg: viaDispatch.filter((c) => c.arg === 'backup-id').map((c) => c.name),
        idOrGateArg: viaDispatch.filter((c) => c.arg === 'backup-id-or-gate').map((c) => c.name),
        subpathArg: viaDispatch.filter((c) => c.arg === 'optional-subpath').map((c) => c.name),
        foreignArg: viaDispatch.filter((c) => c.arg === 'foreign').map((c) => c.name),
        foreignNames: (target?.foreignStores ?? []).map((f) => f.name),
      }),
      ...root,
      mode: '0755',
      kind: 'file',
      purpose: "forced command of the director's key: runs only this host's capsules through sudo",
    });
    files.push({
      path: SUDOERS_PATH,
      content: renderSudoers(plan, hostName),
      ...root,
      mode: '0440',
      kind: 'sudoers',
      purpose: `lets ${plan.operator.user} run only this host's capsules as root, ${plan.receiver.user} only those its keys are forced into`,
    });
    files.push({
      path: `${plan.operator.home}/.ssh/authorized_keys`,
      content: renderOperatorKeys(plan, hostName),
      ...root,
      mode: '0644',
      kind: 'authorized_keys',
      purpose: "the only key that may log in as the operator: the director's, confined by a forced command",
    });
    const received = renderReceiverKeys(plan, hostName);
    if (received !== undefined) {
      files.push({
        path: `${plan.receiver.home}/.ssh/authorized_keys`,
        content: received,
        ...root,
        mode: '0644',
        kind: 'authorized_keys',
        purpose: `the only keys that may log in as ${plan.receiver.user}, each confined by a forced command`,
      });
    }
  }

  if (hostName === plan.director) {
    files.push({
      path: '/etc/profile.d/sbdi-backup.sh',
      content: renderTemplate('director/profile.sh.hbs', base),
      ...root,
      mode: '0644',
      kind: 'file',
      purpose: 'the operator commands on the PATH of login shells',
    });
    for (const c of OPERATOR_COMMANDS) {
      files.push({
        path: `${plan.paths.bin}/${c.name}`,
        content: renderTemplate('director/command.sh.hbs', { ...base, command: c.name }),
        ...root,
        mode: '0755',
        kind: 'file',
        purpose: `operator command: ${c.purpose}`,
      });
    }
    files.push({
      path: `${plan.paths.share}/director.cjs`,
      content: `globalThis.__SBDI_PLAN__ = ${JSON.stringify(plan)};\n${directorBundle.replace(/^#!.*\n/, '')}`,
      ...root,
      mode: '0644',
      kind: 'file',
      purpose: 'the director: phases over ssh, with this plan compiled in',
    });
    if (plan.schedule.enabled) {
      // Installed always; enabled by the director role where systemd runs (cron otherwise).
      for (const unit of ['sbdi-backup.service', 'sbdi-backup.timer']) {
        files.push({
          path: `/etc/systemd/system/${unit}`,
          content: renderTemplate(`schedule/${unit}.hbs`, { ...base, schedule: plan.schedule }),
          ...root,
          mode: '0644',
          kind: 'file',
          purpose: `perform_backup on a timer (backup_schedule=${plan.schedule.onCalendar})`,
        });
      }
    }
  }
  return files;
}

/**
 * zfs-fuse does not derive permission bits from a POSIX ACL as a kernel filesystem does, and rsync
 * relies on that: such a store has them set after every push (receive_backup, perform_rsync).
 */
function storeNeedsAclModes(t: TargetPlan | undefined): boolean {
  return t?.backend === 'zfs' && t.zfs?.package === 'zfs-fuse';
}
