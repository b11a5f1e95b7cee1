import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';

/** One call to a run's `deployment_protection_rule` endpoint as the fake recorded it. */
export interface RecordedCallback {
  repository: string;
  runId: string;
  status: number;
  body: { environment_name?: string; state?: string; comment?: string };
}

/**
 * A fake GitHub REST API on loopback for the deployment protection rule:
 * `POST /app/installations/{id}/access_tokens` checks the App JWT (RS256 with the
 * App's public key, `iss`, `iat`/`exp` within 10 minutes) and issues installation
 * tokens; `POST /repos/{owner}/{repo}/actions/runs/{run}/deployment_protection_rule`
 * checks the token and the body (GitHub's rules: `environment_name` required,
 * `state` approved|rejected or absent for a status report, comment at most 1,024
 * characters, at most 10 status reports per run) and records it. `failNext`
 * answers that many callbacks with 502 first.
 */
export class FakeGithub {
  readonly appId = '4242';
  readonly privateKeyPem: string;
  private readonly publicKey: KeyObject;
  private server?: http.Server;
  baseUrl = '';
  /** Installation tokens issued: token -> installation id. */
  readonly tokens = new Map<string, string>();
  tokenRequests = 0;
  /** Why JWTs were refused. */
  readonly jwtFailures: string[] = [];
  /** Every callback received (accepted or not). */
  readonly callbacks: RecordedCallback[] = [];
  /** Callbacks to answer 502 before accepting any. */
  failNext = 0;

  /** `privateKeyPem`: the App key to accept JWTs of (default: a new one, see {@link privateKeyPem}). */
  constructor(options: { privateKeyPem?: string } = {}) {
    if (options.privateKeyPem) {
      this.privateKeyPem = options.privateKeyPem;
      this.publicKey = createPublicKey(createPrivateKey(options.privateKeyPem));
    } else {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      this.privateKeyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
      this.publicKey = publicKey;
    }
  }

  /** Accepted callbacks (2xx) of one run. */
  accepted(runId: string): RecordedCallback[] {
    return this.callbacks.filter(c => c.runId === runId && c.status < 300);
  }

  callbackUrl(repository: string, runId: string): string {
    return `${this.baseUrl}/repos/${repository}/actions/runs/${runId}/deployment_protection_rule`;
  }

  /** Listens on 127.0.0.1 (`port` 0: any free port). */
  async start(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', c => chunks.push(c));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>(resolve => this.server!.listen(port, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>(resolve => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private reply(res: http.ServerResponse, status: number, body?: unknown) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  }

  private checkJwt(authorization: string | undefined): string | undefined {
    const jwt = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
    if (!jwt) return 'no bearer JWT';
    const [h, p, s] = jwt.split('.');
    if (!h || !p || !s) return 'not a JWT';
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string };
    if (header.alg !== 'RS256') return `alg ${header.alg}`;
    if (!verify('sha256', Buffer.from(`${h}.${p}`), this.publicKey, Buffer.from(s, 'base64url'))) return 'bad signature';
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { iat?: number; exp?: number; iss?: unknown };
    const now = Math.floor(Date.now() / 1000);
    if (String(claims.iss) !== this.appId) return `iss ${String(claims.iss)}`;
    if (typeof claims.iat !== 'number' || claims.iat > now + 5) return 'iat in the future';
    if (typeof claims.exp !== 'number' || claims.exp <= now) return 'expired';
    if (claims.exp - claims.iat > 600) return 'lives longer than 10 minutes';
    return undefined;
  }

  private handle(req: http.IncomingMessage, text: string, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const tokenPath = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(url.pathname);
    if (req.method === 'POST' && tokenPath) {
      this.tokenRequests += 1;
      const failure = this.checkJwt(req.headers.authorization);
      if (failure) {
        this.jwtFailures.push(failure);
        this.reply(res, 401, { message: `A JSON web token could not be decoded (${failure})` });
        return;
      }
      const token = `ghs_${randomBytes(16).toString('hex')}`;
      this.tokens.set(token, tokenPath[1]);
      this.reply(res, 201, { token, expires_at: new Date(Date.now() + 3600_000).toISOString() });
      return;
    }
    const rulePath = /^\/repos\/([^/]+\/[^/]+)\/actions\/runs\/(\d+)\/deployment_protection_rule$/.exec(url.pathname);
    if (req.method === 'POST' && rulePath) {
      let body: RecordedCallback['body'] = {};
      try {
        body = JSON.parse(text);
      } catch {
        // recorded as an empty body, refused below
      }
      const record = (status: number) => this.callbacks.push({ repository: rulePath[1], runId: rulePath[2], status, body });
      const token = req.headers.authorization?.replace(/^(Bearer|token) /, '');
      if (!token || !this.tokens.has(token)) {
        record(401);
        this.reply(res, 401, { message: 'Bad credentials' });
        return;
      }
      if (this.failNext > 0) {
        this.failNext -= 1;
        record(502);
        this.reply(res, 502, { message: 'Server Error' });
        return;
      }
      const reports = this.accepted(rulePath[2]).filter(c => c.body.state === undefined).length;
      const invalid =
        !body.environment_name ||
        (body.state !== undefined && body.state !== 'approved' && body.state !== 'rejected') ||
        (body.comment ?? '').length > 1024 ||
        (body.state === undefined && reports >= 10) ||
        this.accepted(rulePath[2]).some(c => c.body.state !== undefined);
      if (invalid) {
        record(422);
        this.reply(res, 422, { message: 'Validation Failed' });
        return;
      }
      record(204);
      res.writeHead(204);
      res.end();
      return;
    }
    this.reply(res, 404, { message: 'Not Found' });
  }
}

/** `X-Hub-Signature-256` of `body` under `secret`. */
export function githubSignature(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
