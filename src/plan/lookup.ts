/**
 * Who goes with whom in a plan with several targets: the one place that answers "which target
 * does this source sync to", "which sources land on this target", "which remotes copy it".
 * Pure; render and the director both use it.
 */
import type { Plan, RemotePlan, SourcePlan, TargetPlan } from './types';

export function targetNamed(plan: Plan, host: string): TargetPlan {
  const t = plan.targets.find((x) => x.host === host);
  if (t === undefined) throw new Error(`${host} is not a backup target of this plan`);
  return t;
}

/** The sources whose trees land on this target, in plan order. */
export function sourcesOfTarget(plan: Plan, target: string): SourcePlan[] {
  return plan.sources.filter((s) => s.target === target);
}

/** The off-site remotes that replicate this target. */
export function remotesOfTarget(plan: Plan, target: string): RemotePlan[] {
  return plan.remotes.filter((r) => r.target === target);
}

export function targetHosts(plan: Plan): string[] {
  return plan.targets.map((t) => t.host);
}
