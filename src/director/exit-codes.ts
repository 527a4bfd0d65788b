/**
 * Exit codes of the operator commands. Each failing phase has its own code so that cron mail,
 * monitoring and the operator can tell "nothing was touched" (< 10) from "the pause window
 * failed" (10–12) from "the sync failed" (13+). docs/exit-codes.md documents the same table;
 * a unit test keeps the two in step.
 */
export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  LOCKED: 3,
  CONNECT: 4,
  CLEANUP: 5,
  PREPARE_TARGET: 6,
  PAUSE: 10,
  SNAPSHOT: 11,
  UNPAUSE: 12,
  SYNC: 13,
  COMMIT: 14,
  REMOVE_SNAPSHOTS: 15,
  DOCKER_RUNNING: 20,
  NO_SUCH_BACKUP: 21,
  ACTIVATE: 22,
  RESTORE: 23,
  DEACTIVATE: 24,
  DOCKER_COMMAND: 30,
  LIST: 31,
  POST_BACKUP: 16,
  REPLICATE: 40,
  DIVERGED: 41,
  PRUNE: 42,
  VERIFY: 43,
  SIGINT: 130,
  SIGTERM: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** One line each, for `--help`-like output and the documentation test. */
export const EXIT_MEANING: Record<ExitCode, string> = {
  0: 'success',
  1: 'internal error (a bug): the message says where',
  2: 'usage: unknown command, bad option or backup id, or no plan compiled in',
  3: 'another run holds the lock (the message names its pid, command and start time); a restore is refused while a backup runs',
  4: 'a host could not be reached or its host key was refused; nothing was paused or changed',
  5: 'leftovers of an interrupted run could not be cleaned up; nothing was paused',
  6: 'the target could not be prepared (prepare_target); nothing was paused',
  10: 'pausing containers failed; everything was unpaused again, no backup was made',
  11: 'taking a source snapshot failed (or outlasted the pause deadline); unpaused, no backup was made',
  12: 'unpausing failed, or the pause deadline had already unpaused a host (snapshots may be inconsistent); no backup was made',
  13: 'syncing a source to the target failed; no backup was committed',
  14: 'committing the target snapshot failed; no backup was committed',
  15: 'the backup was committed and is complete, but removing a source snapshot failed (the next run cleans it)',
  20: 'restore refused: docker is running on a docker host (run stop_docker first)',
  21: 'restore refused: no such complete backup, it lacks a selected source, or a selected path is not in it',
  22: 'activating the backup (or attaching the foreign store) on the target failed; nothing was restored',
  23: 'restoring a source (or its dry run) failed; the live trees may be partly restored (never by a dry run)',
  24: 'the backup was restored (or the dry run done) but deactivating it (or detaching the foreign store) on the target failed',
  30: 'a docker command (stop/start/pause/unpause) failed on at least one host',
  31: "the target's list_backups failed",
  16: 'the backup is complete, but the replication or pruning after it failed (see 40-42)',
  40: 'replication to an off-site remote failed (unreachable, or a send/receive failed); the next run catches up',
  41: 'replication refused: a remote has DIVERGED from the target (no common snapshot, or newer snapshots of its own); nothing was destroyed',
  42: 'pruning failed, or a remote could not be listed so nothing was pruned',
  43: 'verification failed: the backup differs from its manifest or its checksums, a restore test differed, or the store is unhealthy',
  130: 'interrupted by SIGINT (Ctrl-C); cleanup (unpause) was still done',
  143: 'terminated by SIGTERM; cleanup (unpause) was still done',
};
