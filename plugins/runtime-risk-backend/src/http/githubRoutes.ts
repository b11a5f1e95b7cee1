import express from 'express';
import { AuthenticationError, InputError, NotFoundError } from '@backstage/errors';
import type { LoggerService } from '@backstage/backend-plugin-api';
import { PayloadTooLargeError } from '../ingest/pushReceiver';
import type { GithubDeploymentProtection } from '../gate/github/DeploymentProtection';

/** Path of the GitHub App webhook receiver; reachable without Backstage credentials (auth policy in plugin.ts). */
export const GITHUB_EVENTS_PATH = '/v1/integrations/github/events';

/**
 * Largest webhook body read (GitHub's deployment_protection_rule payloads are a
 * few kB); a bigger one is refused with 413 before it is read, hashed or parsed.
 */
export const GITHUB_MAX_BODY_BYTES = 1024 * 1024;

const parseRawBody = express.raw({ type: () => true, limit: GITHUB_MAX_BODY_BYTES });
const rawBody: express.RequestHandler = (req, res, next) =>
  parseRawBody(req, res, (err?: unknown) => {
    if ((err as { type?: unknown } | undefined)?.type === 'entity.too.large') {
      next(new PayloadTooLargeError(`body: more than the ${GITHUB_MAX_BODY_BYTES} bytes allowed`));
    } else {
      next(err);
    }
  });

const header = (req: express.Request, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
};

/**
 * `POST /v1/integrations/github/events`: the GitHub App's webhook. Trusts only
 * `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the App's webhook
 * secret); a delivery (`X-GitHub-Delivery`) is processed once. Registered on the
 * plain router before the JSON body parser. Without
 * `runtimeRisk.integrations.github` it answers 404.
 */
export function addGithubRoutes(
  router: express.Router,
  options: { github?: GithubDeploymentProtection; logger: LoggerService },
): void {
  router.post(GITHUB_EVENTS_PATH, rawBody, async (req, res) => {
    const { github, logger } = options;
    if (!github) throw new NotFoundError('the GitHub integration is not configured (runtimeRisk.integrations.github)');
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!github.verify(body, req.headers['x-hub-signature-256'])) {
      logger.warn(`runtime-risk github: delivery ${header(req, 'x-github-delivery')?.slice(0, 64) ?? '(no id)'} refused: bad or missing X-Hub-Signature-256`);
      throw new AuthenticationError('X-Hub-Signature-256: missing, or not the signature of this body with the webhook secret');
    }
    const event = header(req, 'x-github-event');
    if (!event) throw new InputError('X-GitHub-Event: required');
    const deliveryId = header(req, 'x-github-delivery');
    if (!deliveryId) throw new InputError('X-GitHub-Delivery: required');
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new InputError(`body: not JSON (${(e as Error).message}); set the webhook's content type to application/json`);
    }
    const outcome = await github.receive({ deliveryId, event, payload });
    res.status(202).json(outcome);
  });
}
