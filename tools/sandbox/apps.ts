import type { HostSpec, Names } from './config';
import { docker, dockerBash } from './exec';
import type { Images } from './image';

/** Label on every app container of an inner dockerd (value: the app name). */
export const APP_LABEL = 'sbdi.sandbox.app';

/** The file each writer appends to, inside its bind-mounted directory. */
export const WRITER_FILE = 'writer.log';

/**
 * Appends "<counter> <epoch s> <app>" every 150 ms, so a pause (and a torn snapshot) would show. The counter
 * continues from the file's last line after a restart (lines stay consecutive), and SIGTERM ends it at
 * once: an app ignoring SIGTERM would make `service docker stop` (start-stop-daemon --retry 10) kill dockerd.
 */
export const WRITER_SCRIPT =
  'trap "exit 0" TERM INT; f=/data/' + WRITER_FILE + '; i=$(tail -n 1 "$f" 2>/dev/null | cut -d " " -f 1); i=${i:-0}; ' +
  'while :; do i=$((i+1)); echo "$i $(date +%s) $APP" >> "$f"; usleep 150000; done';

export function appDir(spec: HostSpec, app: string): string {
  return `${spec.sourceDir}/${app}`;
}

/** Loads the busybox app image into the host's inner dockerd (from the `docker save` tar). */
export async function loadAppImage(n: Names, spec: HostSpec, img: Images): Promise<void> {
  await docker('create', spec.name, ['exec', '-i', n.container(spec.name), 'docker', 'load', '-q'], {
    inputFile: img.appTar,
    timeoutMs: 300_000,
  });
}

/** Starts the host's writer containers (restart unless-stopped), each writing under <source dir>/<app>/. */
export async function startApps(n: Names, spec: HostSpec, img: Images): Promise<void> {
  const c = n.container(spec.name);
  for (const app of spec.apps) {
    await dockerBash('create', spec.name, c, `mkdir -p '${appDir(spec, app)}'`);
    await docker('create', spec.name, [
      'exec', c, 'docker', 'run', '-d',
      '--name', app,
      '--restart', 'unless-stopped',
      '--label', `${APP_LABEL}=${app}`,
      '-e', `APP=${app}`,
      '-v', `${appDir(spec, app)}:/data`,
      img.app, 'sh', '-c', WRITER_SCRIPT,
    ]);
  }
}

/** Label on every idle container a scaled deployment adds (value: its index on the host). */
export const IDLE_LABEL = 'sbdi.sandbox.idle';

/**
 * An idle container: waits forever without waking, and SIGTERM ends it at once (sh waits on a background
 * sleep, so the trap runs), so `service docker stop` stays fast with many of them.
 */
export const IDLE_SCRIPT = 'trap "exit 0" TERM INT; sleep 2147483647 & wait';

/** Starts `count` idle containers on a docker host (a scaled deployment: pause-window measurements). */
export async function startIdleContainers(n: Names, spec: HostSpec, img: Images, count: number): Promise<void> {
  const c = n.container(spec.name);
  for (let i = 1; i <= count; i++) {
    await docker('create', spec.name, [
      'exec', c, 'docker', 'run', '-d',
      '--name', `idle-${i}`,
      '--restart', 'unless-stopped',
      '--label', `${IDLE_LABEL}=${i}`,
      img.app, 'sh', '-c', IDLE_SCRIPT,
    ]);
  }
}
