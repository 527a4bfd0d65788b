// How many containers the cgroup freezer holds frozen on a sandbox docker host. The pause freezes
// through the kernel's freezer, which `docker ps` does not see (it says Up). The sandbox's hosts run
// cgroup v1 with docker's cgroupfs driver: one freezer cgroup per container, nested under the
// host container's own cgroup. Where this machine shows that nesting, the states are read from
// here, by file: the tests poll them every ~100 ms during whole backups, and a `docker exec` per
// host and poll cost most of a core of this 2-core machine. Elsewhere it is read inside the host.
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER, run } from '../../tools/sandbox/exec';

const HOST_FREEZER = '/sys/fs/cgroup/freezer/docker';
const ids = new Map<string, string>();

async function containerId(container: string): Promise<string> {
  let id = ids.get(container);
  if (id === undefined) {
    const r = await run(DOCKER, ['inspect', '-f', '{{.Id}}', container]);
    if (r.code !== 0) throw new Error(`docker inspect ${container}: ${r.stderr}`);
    id = r.stdout.trim();
    ids.set(container, id);
  }
  return id;
}

/** Containers of `container` (a sandbox docker host) whose freezer state is not THAWED. */
export async function frozenIn(container: string): Promise<number> {
  const nested = join(HOST_FREEZER, await containerId(container), 'docker');
  if (!existsSync(nested)) {
    const r = await run(DOCKER, ['exec', container, 'bash', '-c', "cat /sys/fs/cgroup/freezer/docker/*/freezer.state 2>/dev/null | grep -cv '^THAWED$' || true"]);
    return Number(r.stdout.trim());
  }
  let frozen = 0;
  for (const entry of await readdir(nested, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    // A container removed between the listing and the read is not frozen.
    const state = await readFile(join(nested, entry.name, 'freezer.state'), 'utf8').catch(() => 'THAWED\n');
    if (state.trim() !== 'THAWED') frozen++;
  }
  return frozen;
}
