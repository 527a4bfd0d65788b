// The director's timer on a host that really runs systemd: the sandbox hosts run tini, so this test boots
// systemd as PID 1 in a container of the sandbox's base image with Debian's systemd added (cgroup v1,
// the sandbox's capability set, no --privileged), installs the rendered sbdi-backup.{service,timer}
// and runs the director role's schedule tasks on it with ansible-playbook. Asserted: the timer is
// enabled, active and has a next elapse; no cron entry; a second run changes nothing; the service
// runs perform_backup as the operator; a plan with the schedule off stops and disables the timer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFromInventory } from '../../src/plan';
import { renderPlan, writeRendered } from '../../src/render';
import { run } from '../../tools/sandbox/exec';
import { linkCollection } from '../../tools/sandbox/ansible';
import { HOST_RUN_FLAGS } from '../../tools/sandbox/hosts';
import { baseImage } from '../storage/harness';

const ROOT = join(__dirname, '..', '..');
const FIXTURES = join(ROOT, 'tests', 'fixtures', 'inventories');
const CONTAINER = `schedtest-${process.pid}`;
const DIRECTOR = 'backup-director';
const UNITS = '/etc/systemd/system';
const ENV = { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: '0' };

let work: string;
const rendered: Record<'on' | 'off', string> = { on: '', off: '' };

async function sh(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('docker', ['exec', CONTAINER, 'bash', '-o', 'pipefail', '-c', script], { input: '', timeoutMs: 300_000 });
}

async function must(script: string): Promise<string> {
  const r = await sh(`set -eu; ${script}`);
  if (r.code !== 0) throw new Error(`${CONTAINER}: ${script}\nexit ${r.code}: ${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}

/** The sandbox's base image plus Debian's systemd, built once per base image. */
async function systemdImage(): Promise<string> {
  const base = await baseImage();
  const image = `sbdi-systemd-test:${base.split(':')[1]}`;
  if ((await run('docker', ['image', 'inspect', image], { timeoutMs: 60_000 })).code === 0) return image;
  const dir = mkdtempSync(join(tmpdir(), 'sbdi-systemd-image-'));
  writeFileSync(
    join(dir, 'Dockerfile'),
    `FROM ${base}\nRUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd systemd-sysv >/dev/null && apt-get clean\n`,
  );
  const r = await run('docker', ['build', '-q', '-t', image, dir], { timeoutMs: 900_000, env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  rmSync(dir, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`building ${image}: ${r.stderr}`);
  return image;
}

function renderFixture(inventory: string): string {
  const out = mkdtempSync(join(work, 'rendered-'));
  writeRendered(renderPlan(planFromInventory(inventory), '// director bundle stand-in\n'), out);
  return out;
}

async function schedule(which: 'on' | 'off'): Promise<{ changed: number; log: string }> {
  const inv = join(work, 'inventory.yml');
  writeFileSync(inv, `all:\n  hosts:\n    ${DIRECTOR}:\n      ansible_connection: community.docker.docker\n      ansible_host: ${CONTAINER}\n      ansible_python_interpreter: /usr/bin/python3\n`);
  const r = await run('ansible-playbook', ['-i', inv, '-e', `sbdi_backup_render_dir=${rendered[which]}`, join(ROOT, 'tests', 'ansible', 'schedule.yml')], {
    cwd: ROOT,
    env: ENV,
    timeoutMs: 600_000,
  });
  const log = r.stdout + r.stderr;
  if (r.code !== 0) throw new Error(`ansible-playbook (schedule ${which}) exited ${r.code}:\n${log}`);
  const recap = new RegExp(`^${DIRECTOR}\\s*:\\s*ok=\\d+\\s+changed=(\\d+)`, 'm').exec(r.stdout);
  if (!recap) throw new Error(`no recap for ${DIRECTOR}:\n${log}`);
  return { changed: Number(recap[1]), log };
}

beforeAll(async () => {
  linkCollection(ROOT);
  work = mkdtempSync(join(tmpdir(), 'sbdi-schedtest-'));
  rendered.on = renderFixture(join(FIXTURES, 'full', 'hosts.yml')); // backup_schedule_enabled: true
  rendered.off = renderFixture(join(FIXTURES, 'seed', 'hosts')); // that inventory's default: off
  const image = await systemdImage();
  await run('docker', ['rm', '-f', CONTAINER], { timeoutMs: 60_000 });
  const started = await run(
    'docker',
    ['run', '-d', '--name', CONTAINER, '--hostname', DIRECTOR, '--label', 'sbdi.schedtest=1', ...HOST_RUN_FLAGS,
      '--tmpfs', '/run', '--tmpfs', '/run/lock', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--entrypoint', '/lib/systemd/systemd', image],
    { timeoutMs: 120_000 },
  );
  if (started.code !== 0) throw new Error(`docker run: ${started.stderr}`);
  // Booted when systemd answers running or degraded (units this test does not need may fail).
  let state = '';
  for (let i = 0; i < 120 && !/^(running|degraded)$/.test(state); i++) {
    state = (await sh('systemctl is-system-running 2>/dev/null')).stdout.trim();
    if (!/^(running|degraded)$/.test(state)) await new Promise((res) => setTimeout(res, 1000));
  }
  expect(state).toMatch(/^(running|degraded)$/);
  // What the collection's other roles put there first: the operator, the rendered units, and (a
  // stand-in for) perform_backup that records who ran it.
  await must(`useradd -u 1901 -U -m -s /bin/bash backupoperator
    mkdir -p /opt/sbdi/backup/bin
    printf '#!/bin/sh\\nid -un >/tmp/perform_backup.ran\\n' >/opt/sbdi/backup/bin/perform_backup
    chmod 0755 /opt/sbdi/backup/bin/perform_backup`);
  for (const unit of ['sbdi-backup.service', 'sbdi-backup.timer']) {
    const cp = await run('docker', ['cp', join(rendered.on, DIRECTOR, UNITS.slice(1), unit), `${CONTAINER}:${UNITS}/${unit}`], { timeoutMs: 60_000 });
    if (cp.code !== 0) throw new Error(`docker cp ${unit}: ${cp.stderr}`);
  }
}, 1_200_000);

afterAll(async () => {
  await run('docker', ['rm', '-f', '-v', CONTAINER], { timeoutMs: 120_000 });
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the perform_backup timer on a host running systemd', { timeout: 600_000 }, () => {
  it('the director role enables and starts it; there is a next elapse and no cron entry', async () => {
    const first = await schedule('on');
    expect(first.changed, first.log).toBeGreaterThan(0);
    expect(await must('systemctl is-enabled sbdi-backup.timer')).toBe('enabled');
    expect(await must('systemctl is-active sbdi-backup.timer')).toBe('active');
    expect(await must('systemctl show -P NextElapseUSecRealtime sbdi-backup.timer')).toMatch(/\d{4}-\d{2}-\d{2} 01:\d{2}:\d{2}/);
    expect(await must('systemctl show -P Persistent sbdi-backup.timer')).toBe('yes');
    expect(await must('systemctl show -P RandomizedDelayUSec sbdi-backup.timer')).toBe('10min');
    expect((await sh('test -e /etc/cron.d/sbdi-backup')).code).toBe(1);
  });

  it('a second run changes nothing', async () => {
    const again = await schedule('on');
    expect(again.changed, again.log).toBe(0);
  });

  it('the service runs perform_backup as the operator', async () => {
    await must('systemctl start sbdi-backup.service');
    expect(await must('cat /tmp/perform_backup.ran')).toBe('backupoperator');
    expect(await must('systemctl show -P Result sbdi-backup.service')).toBe('success');
  });

  it('with the schedule off, the role stops and disables the timer, says so, and then changes nothing', async () => {
    expect((await schedule('off')).changed).toBeGreaterThan(0);
    expect((await sh('systemctl is-enabled sbdi-backup.timer')).stdout.trim()).toBe('disabled');
    expect((await sh('systemctl is-active sbdi-backup.timer')).stdout.trim()).toBe('inactive');
    expect((await sh('test -e /etc/cron.d/sbdi-backup')).code).toBe(1);
    expect((await schedule('off')).changed).toBe(0);
  });

  it('with the schedule off and no timer unit installed, there is nothing to stop and nothing fails', async () => {
    await must('rm -f /etc/systemd/system/sbdi-backup.timer && systemctl daemon-reload');
    const r = await schedule('off');
    expect(r.changed).toBe(0);
    expect(r.log).toMatch(/TASK \[[^\]]*Stop and disable the timer when the schedule is off\] \**\nskipping:/);
  });
});
