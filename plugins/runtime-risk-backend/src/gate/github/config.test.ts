import { createHmac, generateKeyPairSync } from 'node:crypto';
import { ConfigReader } from '@backstage/config';
import type { JsonObject } from '@backstage/types';
import { createAppJwt, verifyGithubSignature } from './appAuth';
import { fitComment, GITHUB_COMMENT_MAX } from './comment';
import { readGithubConfig } from './config';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const SECRET = 'a-webhook-secret-that-must-not-leak';

const read = (github: Record<string, unknown> | undefined, app?: Record<string, unknown>) =>
  readGithubConfig(
    new ConfigReader({ ...(app ? { app } : {}), runtimeRisk: github === undefined ? {} : { integrations: { github } } } as unknown as JsonObject),
    ['production', 'staging'],
  );
const base = { appId: 12, privateKey: PEM, webhookSecret: SECRET };

describe('runtimeRisk.integrations.github', () => {
  it('is absent without the block, and has defaults', () => {
    expect(read(undefined)).toBeUndefined();
    const config = read(base, { baseUrl: 'https://portal.example.com/' })!;
    expect(config).toMatchObject({
      appId: '12',
      apiBaseUrl: 'https://api.github.com',
      environments: {},
      unknownRepository: 'approve',
      appBaseUrl: 'https://portal.example.com',
      callbacks: { backoffMs: 10_000, maxAttempts: 10 },
    });
    expect(config.defaultEnvironment).toBeUndefined();
    // a key from an environment variable with literal \n
    expect(read({ ...base, privateKey: PEM.replace(/\n/g, '\\n') })!.privateKey.asymmetricKeyType).toBe('rsa');
    expect(read({ ...base, apiBaseUrl: 'https://ghe.example.com/api/v3/' })!.apiBaseUrl).toBe('https://ghe.example.com/api/v3');
  });

  it.each([
    [{ ...base, appId: undefined }, 'appId: required'],
    [{ ...base, privateKey: undefined }, 'privateKey: required'],
    [{ ...base, privateKey: `-----BEGIN RSA PRIVATE KEY-----\n${SECRET}\n-----END RSA PRIVATE KEY-----` }, 'privateKey: not a readable PEM'],
    [{ ...base, webhookSecret: '' }, 'webhookSecret: must be a non-empty string'],
    [{ ...base, webhookSecret: undefined }, 'webhookSecret: required'],
    [{ ...base, environments: { production: 3 } }, 'environments.production: must name a policy environment'],
    [{ ...base, apiBaseUrl: 'ftp://x' }, 'apiBaseUrl: must be an http(s) URL'],
    [{ ...base, environments: { production: 'prod' } }, "environments.production: unknown policy environment 'prod'"],
    [{ ...base, defaultEnvironment: 'qa' }, "defaultEnvironment: unknown policy environment 'qa'"],
    [{ ...base, unknownRepository: 'maybe' }, "unknownRepository: must be 'approve' or 'reject'"],
    [{ ...base, callbacks: { maxAttempts: 0 } }, 'callbacks.maxAttempts: must be a positive integer'],
  ])('fails naming the key, never a secret: %#', (github, message) => {
    let error: Error | undefined;
    try {
      read(github);
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toContain(`runtimeRisk.integrations.github.${message}`);
    expect(error?.message).not.toContain(SECRET);
    expect(error?.message).not.toContain('PRIVATE KEY');
  });
});

describe('GitHub App auth helpers', () => {
  it('checks X-Hub-Signature-256 over the raw bytes', () => {
    const body = Buffer.from('{"a":1}');
    const good = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
    expect(verifyGithubSignature(body, good, SECRET)).toBe(true);
    expect(verifyGithubSignature(Buffer.from('{"a": 1}'), good, SECRET)).toBe(false);
    expect(verifyGithubSignature(body, good, 'other')).toBe(false);
    expect(verifyGithubSignature(body, good.replace('sha256=', 'sha1='), SECRET)).toBe(false);
    expect(verifyGithubSignature(body, 'sha256=zz', SECRET)).toBe(false);
    expect(verifyGithubSignature(body, undefined, SECRET)).toBe(false);
    expect(verifyGithubSignature(body, [good], SECRET)).toBe(false);
  });

  it('makes an RS256 JWT valid at most 10 minutes, issued 60 s back', () => {
    const now = new Date('2026-12-04T10:00:00Z');
    const [header, payload] = createAppJwt('12', privateKey, now)
      .split('.')
      .slice(0, 2)
      .map(p => JSON.parse(Buffer.from(p, 'base64url').toString()));
    expect(header).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(payload).toEqual({ iat: now.getTime() / 1000 - 60, exp: now.getTime() / 1000 + 540, iss: '12' });
  });
});

describe('fitComment', () => {
  it('keeps the header and every link, cutting reasons to 1,024 characters', () => {
    const lines = Array.from({ length: 5 }, (_, i) => ({
      essential: `component:default/svc-${i}: block https://portal.example.com/runtime-risk/decisions/${'d'.repeat(36)}${i}`,
      detail: 'x'.repeat(400),
    }));
    const comment = fitComment('Runtime Risk blocked the deployment to production.', lines);
    expect(comment.length).toBeLessThanOrEqual(GITHUB_COMMENT_MAX);
    for (let i = 0; i < 5; i++) expect(comment).toContain(`${'d'.repeat(36)}${i}`);
    expect(comment).toContain('…');
    // short comments stay whole
    expect(fitComment('head', [{ essential: 'a', detail: 'b' }])).toBe('head\n- a: b');
    // too many entities: cut, still within the limit
    const many = Array.from({ length: 40 }, (_, i) => ({ essential: `component:default/service-number-${i}: proceed` }));
    expect(fitComment('head', many).length).toBeLessThanOrEqual(GITHUB_COMMENT_MAX);
  });
});
