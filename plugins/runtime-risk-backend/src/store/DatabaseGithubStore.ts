import type { DatabaseService } from '@backstage/backend-plugin-api';
import type { Knex } from 'knex';
import { json, str, strOrNull, type Row } from './db';

/**
 * Persistence of the GitHub deployment protection rule (issue 17 part 2):
 * processed webhook deliveries (idempotency by `X-GitHub-Delivery`), the calls
 * back to GitHub kept until sent, and the lookup of indexed entities by their
 * `github.com/project-slug` annotation. Tables: migration
 * `20261204060000_github_deployment_protection.js` (run by DatabaseRuntimeRiskStore).
 */

export const GITHUB_TABLES = {
  deliveries: 'runtime_risk_github_deliveries',
  callbacks: 'runtime_risk_github_callbacks',
  entities: 'runtime_risk_entities',
} as const;

export type GithubCallbackKind = 'report' | 'final';
export type GithubCallbackState = 'approved' | 'rejected';
/** `waiting`: a final call waiting on pending decisions; `queued`: ready to send (again). */
export type GithubCallbackStatus = 'waiting' | 'queued' | 'sent' | 'failed' | 'skipped';

/** One call back to a deployment protection rule (a status report or the final answer). */
export interface GithubCallback {
  id: string;
  deliveryId: string;
  kind: GithubCallbackKind;
  decisionIds: string[];
  repository: string;
  environmentName: string;
  callbackUrl: string;
  installationId: string;
  state: GithubCallbackState | null;
  comment: string | null;
  status: GithubCallbackStatus;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}

function rowToCallback(r: Row): GithubCallback {
  return {
    id: str(r.id),
    deliveryId: str(r.delivery_id),
    kind: str(r.kind) as GithubCallbackKind,
    decisionIds: json<string[]>(r.decision_ids, []),
    repository: str(r.repository),
    environmentName: str(r.environment_name),
    callbackUrl: str(r.callback_url),
    installationId: str(r.installation_id),
    state: strOrNull(r.state) as GithubCallbackState | null,
    comment: strOrNull(r.comment),
    status: str(r.status) as GithubCallbackStatus,
    attempts: Number(r.attempts ?? 0),
    nextAttemptAt: str(r.next_attempt_at),
    lastError: strOrNull(r.last_error),
    createdAt: str(r.created_at),
    sentAt: strOrNull(r.sent_at),
  };
}

function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown };
  // PostgreSQL unique_violation; SQLite SQLITE_CONSTRAINT(_PRIMARYKEY|_UNIQUE)
  return err?.code === '23505' || (typeof err?.code === 'string' && err.code.startsWith('SQLITE_CONSTRAINT'));
}

export class DatabaseGithubStore {
  /** The store on the plugin's database (the migrations are run by `DatabaseRuntimeRiskStore.create`). */
  static async create(options: { database: DatabaseService }): Promise<DatabaseGithubStore> {
    return new DatabaseGithubStore(await options.database.getClient());
  }

  constructor(private readonly db: Knex) {}

  /** Refs of the indexed entities whose `github.com/project-slug` is `slug` (case-insensitive), sorted. */
  async entityRefsByProjectSlug(slug: string): Promise<string[]> {
    const rows: Row[] = await this.db(GITHUB_TABLES.entities)
      .where({ project_slug: slug.trim().toLowerCase() })
      .select('entity_ref')
      .orderBy('entity_ref');
    return rows.map(r => str(r.entity_ref));
  }

  /**
   * Records that `deliveryId` is being processed; false when it was seen before
   * (a replayed delivery: nothing is done again). A delivery whose processing
   * failed is released with {@link releaseDelivery}, so GitHub's redelivery runs it;
   * one left `processing` since before `staleBefore` (its replica died mid-way) is
   * taken over by the redelivery.
   */
  async claimDelivery(deliveryId: string, event: string, at: string, staleBefore?: string): Promise<boolean> {
    try {
      await this.db(GITHUB_TABLES.deliveries).insert({
        delivery_id: deliveryId,
        event,
        status: 'processing',
        decision_ids: null,
        received_at: at,
      });
      return true;
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
    if (staleBefore === undefined) return false;
    const taken = await this.db(GITHUB_TABLES.deliveries)
      .where({ delivery_id: deliveryId, status: 'processing' })
      .andWhere('received_at', '<', staleBefore)
      .update({ received_at: at });
    return taken === 1;
  }

  async releaseDelivery(deliveryId: string): Promise<void> {
    await this.db(GITHUB_TABLES.deliveries).where({ delivery_id: deliveryId, status: 'processing' }).delete();
  }

  /** Marks the delivery done and stores its callbacks, in one transaction. */
  async completeDelivery(deliveryId: string, decisionIds: string[], callbacks: GithubCallback[]): Promise<void> {
    await this.db.transaction(async tx => {
      await tx(GITHUB_TABLES.deliveries)
        .where({ delivery_id: deliveryId })
        .update({ status: 'done', decision_ids: JSON.stringify(decisionIds) });
      for (const c of callbacks) {
        await tx(GITHUB_TABLES.callbacks).insert({
          id: c.id,
          delivery_id: c.deliveryId,
          kind: c.kind,
          decision_ids: JSON.stringify(c.decisionIds),
          repository: c.repository,
          environment_name: c.environmentName,
          callback_url: c.callbackUrl,
          installation_id: c.installationId,
          state: c.state,
          comment: c.comment,
          status: c.status,
          attempts: c.attempts,
          next_attempt_at: c.nextAttemptAt,
          claimed_until: null,
          claimed_by: null,
          last_error: c.lastError,
          created_at: c.createdAt,
          sent_at: c.sentAt,
        });
      }
    });
  }

  async getDelivery(deliveryId: string): Promise<{ status: string; decisionIds: string[] } | undefined> {
    const row: Row | undefined = await this.db(GITHUB_TABLES.deliveries).where({ delivery_id: deliveryId }).first();
    return row ? { status: str(row.status), decisionIds: json<string[]>(row.decision_ids, []) } : undefined;
  }

  async getCallback(id: string): Promise<GithubCallback | undefined> {
    const row: Row | undefined = await this.db(GITHUB_TABLES.callbacks).where({ id }).first();
    return row ? rowToCallback(row) : undefined;
  }

  async listCallbacksOfDelivery(deliveryId: string): Promise<GithubCallback[]> {
    const rows: Row[] = await this.db(GITHUB_TABLES.callbacks).where({ delivery_id: deliveryId }).orderBy('kind', 'desc');
    return rows.map(rowToCallback);
  }

  /** Final calls still waiting on pending decisions, oldest first. */
  async listWaiting(limit: number): Promise<GithubCallback[]> {
    const rows: Row[] = await this.db(GITHUB_TABLES.callbacks)
      .where({ status: 'waiting' })
      .orderBy('created_at')
      .limit(limit);
    return rows.map(rowToCallback);
  }

  /** A waiting final call gets its answer and is queued; false if it was not waiting any more. */
  async resolveWaiting(id: string, state: GithubCallbackState, comment: string, at: string): Promise<boolean> {
    const n = await this.db(GITHUB_TABLES.callbacks)
      .where({ id, status: 'waiting' })
      .update({ state, comment, status: 'queued', next_attempt_at: at });
    return n === 1;
  }

  /** Queued calls due at `now` and not claimed by anyone (reports before finals, oldest first). */
  async listDue(now: string, limit: number): Promise<GithubCallback[]> {
    const rows: Row[] = await this.db(GITHUB_TABLES.callbacks)
      .where({ status: 'queued' })
      .andWhere('next_attempt_at', '<=', now)
      .andWhere(q => q.whereNull('claimed_until').orWhere('claimed_until', '<=', now))
      .orderBy([
        { column: 'created_at', order: 'asc' },
        { column: 'kind', order: 'desc' },
      ])
      .limit(limit);
    return rows.map(rowToCallback);
  }

  /**
   * Claims a due queued call for `owner` until `until`: true for exactly one of
   * several replicas asking at once (a conditional update of one row).
   */
  async claim(id: string, owner: string, now: string, until: string): Promise<boolean> {
    const n = await this.db(GITHUB_TABLES.callbacks)
      .where({ id, status: 'queued' })
      .andWhere('next_attempt_at', '<=', now)
      .andWhere(q => q.whereNull('claimed_until').orWhere('claimed_until', '<=', now))
      .update({ claimed_until: until, claimed_by: owner });
    return n === 1;
  }

  /** Ends a claimed attempt: sent, retried at `nextAttemptAt`, failed or skipped. */
  async finishAttempt(
    id: string,
    owner: string,
    result:
      | { status: 'sent'; at: string }
      | { status: 'queued'; nextAttemptAt: string; error: string }
      | { status: 'failed'; error: string }
      | { status: 'skipped'; error: string },
  ): Promise<void> {
    const update: Row = { status: result.status, claimed_until: null, claimed_by: null };
    if (result.status === 'sent') update.sent_at = result.at;
    if (result.status === 'queued') update.next_attempt_at = result.nextAttemptAt;
    if (result.status !== 'skipped') update.attempts = this.db.raw('attempts + 1');
    if (result.status !== 'sent') update.last_error = result.error.slice(0, 2000);
    await this.db(GITHUB_TABLES.callbacks).where({ id, claimed_by: owner }).update(update);
  }
}
