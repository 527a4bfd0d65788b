import { existsSync, mkdirSync, readFileSync, realpathSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Paths } from './config';
import { SandboxError } from './errors';
import { must, run } from './exec';
import { track, type SandboxState } from './state';

/** Size of each source's sparse loop image file. */
export const BTRFS_IMAGE_SIZE = '1G';

/** Name of the subvolume (inside each source's btrfs filesystem) that becomes the host's live dir. */
export const LIVE_SUBVOLUME = 'live';

/**
 * Makes a source's btrfs filesystem on the machine (not in the container): a sparse image file,
 * mkfs.btrfs, `mount -o loop,noatime` (autoclear: the loop device goes away with the unmount; noatime
 * as docs/storage.md advises for a btrfs source), and a subvolume `live` that is bind-mounted into the
 * container at its live dir. Returns the subvolume's host path.
 * Loop devices are global to the machine: this only ever releases its own, by unmounting.
 */
export async function makeBtrfsSource(p: Paths, state: SandboxState, host: string, size: string = BTRFS_IMAGE_SIZE): Promise<string> {
  const img = p.btrfsImage(host);
  const mnt = p.btrfsMount(host);
  mkdirSync(dirname(img), { recursive: true });
  mkdirSync(mnt, { recursive: true });
  track(p.state, state, 'files', img);
  await must('create', host, 'truncate', ['-s', size, img]);
  await must('create', host, 'mkfs.btrfs', ['-q', '-f', img]);
  track(p.state, state, 'mounts', mnt);
  await must('create', host, 'mount', ['-o', 'loop,noatime', img, mnt]);
  const live = join(mnt, LIVE_SUBVOLUME);
  await must('create', host, 'btrfs', ['subvolume', 'create', live]);
  return live;
}

/** Mount points of this machine's mount namespace (octal escapes of /proc/self/mountinfo decoded). */
export function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

/**
 * A path as the kernel lists its mount: symlinks resolved. A worktree's `.cache` is a symlink to the
 * main checkout's, and mountinfo names the target: comparing unresolved paths missed every mount,
 * so a destroy skipped the unmount and then deleted the leftover directories recursively, into the
 * still mounted btrfs sources.
 */
export function resolvedPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path; // absent: nothing can be mounted there
  }
}

/** Mount points at or below `dir`. */
export function mountsUnder(dir: string): string[] {
  const d = resolvedPath(dir);
  return mountPoints().filter((m) => m === d || m.startsWith(`${d}/`));
}

/** Unmounts `mnt` if mounted (lazily when busy), then removes the empty directory. */
export async function unmount(path: string): Promise<void> {
  const mnt = resolvedPath(path);
  for (let i = 0; i < 5 && mountPoints().includes(mnt); i++) {
    const r = await run('umount', [mnt]);
    if (r.code !== 0) {
      if (i < 4) {
        await new Promise((res) => setTimeout(res, 400));
        continue;
      }
      const lazy = await run('umount', ['-l', mnt]);
      if (lazy.code !== 0) throw new SandboxError('destroy', undefined, `umount ${mnt}: ${r.stderr.trim()} / ${lazy.stderr.trim()}`);
    }
  }
  if (mountPoints().includes(mnt)) throw new SandboxError('destroy', undefined, `${mnt} is still mounted`);
  if (existsSync(mnt)) rmdirSync(mnt); // only an empty directory: never deletes into a filesystem
}
