// A resume token comes from the remote, and a token names what `zfs send -t` sends: the target
// sends nothing for a token of another form or one naming anything but a backup of its store.
// zfs-fuse has no resumable receive, so the function is run here with `zfs` stood in: what it
// prints for `zfs send -n -v -t` is OpenZFS's "resume token contents" form.
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderedFunction } from './rendered';

const TOKEN = '1-e604ea4bf-e0-789c63a2a0c6e2b3b0';
let fn: string;

beforeAll(() => {
  const rendered = renderedFunction('backup-target', 'replicate_backups', 'target_send_resume');
  fn = rendered.fn;
  expect(rendered.capsule).toMatch(/^dataset='?backup\/current'?$/m);
});

/** Runs target_send_resume TOKEN with a zfs whose dry run names TONAME; prints what was sent. */
function resume(token: string, toname: string): { code: number | null; out: string; err: string } {
  const script = `set -euo pipefail
dataset=backup/current
log_error() { echo "ERROR $*" >&2; }
sbdi_is_id() { [[ \${1:-} =~ ^[0-9]{8}_[0-9]{6}$ ]]; }
zfs() {
  if [ "$1" = send ] && [ "$2" = -n ]; then printf 'resume token contents:\\nnvlist version: 0\\n\\tobject = 0x2\\n\\toffset = 0x0\\n\\ttoguid = 0x1\\n\\ttoname = %s\\nsend from %s estimated size is 1K\\n' "$TONAME" "$TONAME"
  else echo "SENT $*"; fi
}
${fn}
target_send_resume "$1"`;
  const r = spawnSync('bash', ['-c', script, 'resume', token], { encoding: 'utf8', env: { ...process.env, TONAME: toname } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('target_send_resume: the remote chooses the token', () => {
  it('sends for a token naming a backup of this store', () => {
    const r = resume(TOKEN, 'backup/current@20260101_010101');
    expect(r, r.err).toMatchObject({ code: 0, out: `SENT send -t ${TOKEN}\n` });
  });

  it.each([
    ['another dataset of this host', 'tank/secrets@20260101_010101'],
    ['a child of the store', 'backup/current/child@20260101_010101'],
    ['a dataset named like the store', 'backup/currentx@20260101_010101'],
    ['a snapshot that is no backup', 'backup/current@manual'],
    ['nothing', ''],
  ])('sends nothing for a token naming %s', (_what, toname) => {
    const r = resume(TOKEN, toname);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/refused a resume token for .*only a backup of backup\/current is sent/);
  });

  it.each(['-R', '1-x-y-z', `${TOKEN} -R`, `${TOKEN}\n-R`, ''])('refuses a token of another form (%j) before asking zfs anything', (token) => {
    const r = resume(token, 'backup/current@20260101_010101');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/refused a resume token of an unexpected form/);
  });
});
