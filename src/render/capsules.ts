import type { Plan, Role } from '../plan/types';

/** How a capsule takes its one possible argument; checked by sbdi-dispatch, sudoers and the capsule. */
/**
 * 'gate': no argument, or the single word `gated` (a session the director opens ahead: sbdi_gate).
 * 'backup-id-or-gate': a backup id, or `gated` (the id then comes with the go, on stdin).
 */
export type ArgKind = 'none' | 'gate' | 'backup-id' | 'backup-id-or-gate' | 'tree' | 'optional-subpath' | 'foreign';

export interface CapsuleSpec {
  name: string;
  role: Role;
  arg: ArgKind;
  /** Reached by the director through sbdi-dispatch (false: only through a source key's forced command). */
  viaDispatch: boolean;
  /** Needs SSH_ORIGINAL_COMMAND through sudo (rrsync reads it). */
  keepsSshCommand?: boolean;
  /** Only on hosts of plans where this holds (default: always). */
  when?: (plan: Plan, host: string) => boolean;
  purpose: string;
}

const hasForeignStores = (plan: Plan, host: string): boolean => (plan.targets.find((t) => t.host === host)?.foreignStores ?? []).length > 0;
/** Only a backup spanning several targets can be committed on some and not others. */
const severalTargets = (plan: Plan): boolean => plan.targets.length > 1;

/** Every capsule there is, by the role whose hosts get it. */
export const CAPSULES: CapsuleSpec[] = [
  { name: 'pause_containers', role: 'docker', arg: 'gate', viaDispatch: true, purpose: 'arm the unpause deadline, then freeze every running container (cgroup freezer)' },
  { name: 'unpause_containers', role: 'docker', arg: 'gate', viaDispatch: true, purpose: 'stop a pause in progress, thaw the containers the pause froze, then disarm the deadline' },
  { name: 'stop_docker', role: 'docker', arg: 'none', viaDispatch: true, purpose: 'stop the docker daemon and its socket' },
  { name: 'start_docker', role: 'docker', arg: 'none', viaDispatch: true, purpose: 'start the docker daemon and wait for it' },
  { name: 'docker_status', role: 'docker', arg: 'none', viaDispatch: true, purpose: 'report whether docker runs and how many containers' },
  { name: 'prepare_source_snapshot', role: 'source', arg: 'gate', viaDispatch: true, purpose: 'take the source snapshot and mount it read-only' },
  { name: 'perform_rsync', role: 'source', arg: 'none', viaDispatch: true, purpose: "push the snapshot into this source's tree on the target" },
  { name: 'remove_source_snapshot', role: 'source', arg: 'none', viaDispatch: true, purpose: 'unmount and remove the source snapshot (idempotent)' },
  { name: 'restore_source', role: 'source', arg: 'optional-subpath', viaDispatch: true, purpose: "pull this source's tree of the activated backup (or one path inside it) into the live dir" },
  { name: 'restore_source_dry_run', role: 'source', arg: 'optional-subpath', viaDispatch: true, purpose: 'list what restore_source would change, changing nothing' },
  { name: 'prepare_target', role: 'target', arg: 'none', viaDispatch: true, purpose: 'ready the store for a backup and clean leftovers' },
  { name: 'commit_backup', role: 'target', arg: 'backup-id-or-gate', viaDispatch: true, purpose: 'store the manifest and snapshot the current tree as a backup' },
  { name: 'discard_backup', role: 'target', arg: 'backup-id', viaDispatch: true, when: severalTargets, purpose: 'remove this target\'s part of a backup that another target failed to commit (only the newest, only one spanning several targets)' },
  { name: 'list_backups', role: 'target', arg: 'none', viaDispatch: true, purpose: 'list committed backups with manifests and sizes' },
  { name: 'activate_backup', role: 'target', arg: 'backup-id', viaDispatch: true, purpose: 'mount a backup read-only for a restore' },
  { name: 'deactivate_backup', role: 'target', arg: 'none', viaDispatch: true, purpose: 'remove the restore activation' },
  { name: 'attach_foreign_store', role: 'target', arg: 'foreign', viaDispatch: true, when: hasForeignStores, purpose: "import another deployment's pool (backup_foreign_stores) and list its backups" },
  { name: 'activate_foreign_backup', role: 'target', arg: 'backup-id', viaDispatch: true, when: hasForeignStores, purpose: 'mount a backup of the attached foreign store read-only for a restore' },
  { name: 'detach_foreign_store', role: 'target', arg: 'none', viaDispatch: true, when: hasForeignStores, purpose: 'deactivate and export an attached foreign store (idempotent)' },
  { name: 'receive_backup', role: 'target', arg: 'tree', viaDispatch: false, keepsSshCommand: true, purpose: "forced command of a source's push key: rrsync -wo into its tree" },
  { name: 'send_restore', role: 'target', arg: 'tree', viaDispatch: false, keepsSshCommand: true, purpose: "forced command of a source's pull key: rrsync -ro from its activated tree" },
  // Off-site replication, retention, verification (docs/operations.md).
  { name: 'replicate_backups', role: 'target', arg: 'none', viaDispatch: true, purpose: 'send every complete backup the off-site remotes lack, incrementally; report a divergence, never resolve it' },
  { name: 'delete_backup', role: 'target', arg: 'backup-id', viaDispatch: true, purpose: 'remove one backup (never the newest complete one nor the newest one shared with a remote)' },
  { name: 'verify_backup', role: 'target', arg: 'backup-id', viaDispatch: true, purpose: "check a backup against its manifest (counts, sizes, checksums) and the store's health" },
  { name: 'restore_test_backup', role: 'target', arg: 'backup-id', viaDispatch: true, purpose: 'copy a backup into a scratch directory as a restore would and compare the copy' },
  { name: 'list_replicas', role: 'remote', arg: 'none', viaDispatch: true, purpose: "list the backups this off-site remote holds and its store's health" },
  { name: 'delete_replica', role: 'remote', arg: 'backup-id', viaDispatch: true, purpose: 'remove one replica (never the newest one, shared with the target)' },
  { name: 'receive_replica', role: 'remote', arg: 'none', viaDispatch: false, keepsSshCommand: true, purpose: "forced command of the target's replicate key: list replicas or receive one stream, nothing else" },
];

/** Helpers installed beside the capsules but not callable through sudo. */
export const HELPERS = [
  { name: 'sbdi-pause-watchdog', role: 'docker' as Role, purpose: 'detached deadline that thaws by itself (started by pause_containers)' },
  { name: 'sbdi-target-setup', role: 'target' as Role, purpose: 'create or import the backup store, never formatting what exists (run by the playbook)' },
  { name: 'sbdi-remote-setup', role: 'remote' as Role, purpose: "create or import the off-site remote's store and keep received data unmounted (run by the playbook)" },
];

/** Operator commands installed on the director, seed names. */
export const OPERATOR_COMMANDS: { name: string; purpose: string }[] = [
  { name: 'perform_backup', purpose: 'take a consistent backup of every source' },
  { name: 'list_backups', purpose: 'list backups with status, size and age' },
  { name: 'restore_backup', purpose: 'restore a backup by id (docker must be stopped)' },
  { name: 'restore_latest_backup', purpose: 'restore the newest complete backup' },
  { name: 'stop_docker', purpose: 'stop docker on every docker host' },
  { name: 'start_docker', purpose: 'start docker on every docker host' },
  { name: 'pause_containers', purpose: 'freeze every running container on every docker host' },
  { name: 'unpause_containers', purpose: 'thaw the containers pause_containers froze on every docker host' },
  { name: 'replicate_backups', purpose: 'send new backups to the off-site remotes' },
  { name: 'prune_backups', purpose: 'remove backups the retention policy no longer keeps (--dry-run: only show)' },
  { name: 'verify_backup', purpose: 'check a backup against its manifest and the store (--restore-test: also restore it into scratch)' },
  { name: 'check_backup', purpose: 'Nagios/Icinga check of the last complete backup and replication; writes the Prometheus metrics' },
];

export function capsulesFor(plan: Plan, host: string): CapsuleSpec[] {
  const roles = plan.hosts.find((h) => h.name === host)?.roles ?? [];
  return CAPSULES.filter((c) => roles.includes(c.role) && (c.when === undefined || c.when(plan, host)));
}
