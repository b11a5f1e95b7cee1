import type { AuditorService, AuditorServiceCreateEventOptions } from '@backstage/backend-plugin-api';
import type { JsonObject } from '@backstage/types';

/**
 * The one audited-route helper: runs `action` as one Backstage audit event.
 * The event is created first (with the request and what was asked), then marked
 * `success` with `successMeta(result)`, or `fail` with the error, which is
 * rethrown for the error handler. Answer the request after it returns.
 */
export async function audited<T>(
  auditor: AuditorService,
  event: AuditorServiceCreateEventOptions,
  action: () => Promise<T>,
  successMeta: (result: T) => JsonObject,
): Promise<T> {
  const audit = await auditor.createEvent(event);
  try {
    const result = await action();
    await audit.success({ meta: successMeta(result) });
    return result;
  } catch (error) {
    await audit.fail({ error: error as Error });
    throw error;
  }
}

/** Records a failed audit event that no action of the request caused (a broken decision log found by a read). */
export async function auditFailure(auditor: AuditorService, event: AuditorServiceCreateEventOptions, error: Error): Promise<void> {
  const audit = await auditor.createEvent(event);
  await audit.fail({ error });
}
