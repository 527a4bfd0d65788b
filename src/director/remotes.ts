/**
 * Off-site remotes as the director sees them: their listings of replicas, judged against each
 * remote's own clock.
 */
import type { CapsuleResult } from '../ssh/types';
import { runCapsule } from './capsule';
import type { Context } from './context';
import { DirectorError } from './errors';
import { EXIT } from './exit-codes';
import { BACKUP_ID, datedInFuture } from './ids';
import { finite, storeClock } from './list';
import { runOnHosts } from './phase';

export interface Replica {
  id: string;
  guid?: string;
  /** The remote's own time of the receive, epoch ms. */
  storedAt?: number;
  /** Dated after the remote's clock (its id or its receive): not genuine. */
  future?: boolean;
}

export interface RemoteListing {
  host: string;
  replicas: Replica[];
  health?: { state?: string; errors?: string };
  /** The remote's clock when it listed, epoch ms. */
  now?: number;
}

/** Reads list_replicas' result defensively; each replica is judged against the remote's own clock. */
export function parseReplicas(result: CapsuleResult, skewMs: number, directorNow: number): Replica[] {
  const now = storeClock(result, directorNow);
  const list = Array.isArray(result.replicas) ? (result.replicas as unknown[]) : [];
  return list
    .filter((x): x is { id: string; guid?: unknown; storedAt?: unknown } => x !== null && typeof x === 'object' && typeof (x as { id?: unknown }).id === 'string' && BACKUP_ID.test((x as { id: string }).id))
    .map((x) => {
      const storedAt = finite(x.storedAt);
      return {
        id: x.id,
        ...(typeof x.guid === 'string' ? { guid: x.guid } : {}),
        ...(storedAt === undefined ? {} : { storedAt }),
        ...(datedInFuture(x.id, now, skewMs, [storedAt]) ? { future: true } : {}),
      };
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export async function listRemotes(
  ctx: Context,
  phase: string,
  exitCode: (typeof EXIT)[keyof typeof EXIT],
  remotes: readonly string[] = ctx.plan.remotes.map((r) => r.host),
): Promise<{ listings: RemoteListing[]; failures: DirectorError[] }> {
  const parse = (r: CapsuleResult): Replica[] => parseReplicas(r, ctx.plan.settings.clockSkewSeconds * 1000, ctx.now());
  const outcome = await runOnHosts(ctx, remotes, { phase, exitCode, summarize: (r: CapsuleResult) => ({ detail: `${parse(r).length} replicas` }) }, (host) =>
    runCapsule(ctx, { phase, exitCode, host, capsule: 'list_replicas' }, { signal: ctx.interrupt }),
  );
  const listings = [...outcome.values].map(([host, r]) => ({ host, replicas: parse(r), health: (r.health ?? undefined) as RemoteListing['health'], now: storeClock(r, ctx.now()) }));
  return { listings, failures: outcome.failures };
}
