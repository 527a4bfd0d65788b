import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Plan } from '../../../src/plan/types';
import type { Context } from '../../../src/director/context';
import { Reporter, type Level } from '../../../src/director/reporter';
import { StateStore } from '../../../src/director/state';
import { FakeTransport } from './fake-transport';
import { testPlan } from './plan-fixture';

export interface Harness {
  ctx: Context;
  transport: FakeTransport;
  state: StateStore;
  lines: string[];
  syslog: Array<{ line: string; level: Level }>;
  printed: string[];
  usage: string[];
  interrupt: AbortController;
  cleanup(): void;
}

const dirs: string[] = [];

export function harness(plan: Plan = testPlan(), transport = new FakeTransport()): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'sbdi-director-'));
  dirs.push(dir);
  const lines: string[] = [];
  const syslog: Harness['syslog'] = [];
  const printed: string[] = [];
  const usage: string[] = [];
  const interrupt = new AbortController();
  const state = new StateStore(dir);
  const ctx: Context = {
    plan,
    transport,
    report: new Reporter(plan.director, { line: (l) => lines.push(l), syslog: (line, level) => syslog.push({ line, level }) }, Date.now),
    state,
    now: Date.now,
    interrupt: interrupt.signal,
    pid: process.pid,
    print: (t) => printed.push(t),
    usage: (t) => usage.push(t),
    unpauseTimeoutMs: 2_000,
  };
  return { ctx, transport, state, lines, syslog, printed, usage, interrupt, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function cleanupHarnesses(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
