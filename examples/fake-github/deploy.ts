/**
 * A fake GitHub deployment through the Runtime Risk deployment protection rule
 * (docs/github.md, "Trying it"): starts a fake GitHub API on 127.0.0.1:7110 that
 * knows the demo App key, sends the portal a signed `deployment_protection_rule`
 * event for `--repo` / `--environment`, and prints what the rule calls back: at
 * once for proceed / block; for approval_required the status report with the
 * decision link, then (after someone else approves or rejects it in the portal)
 * the final answer. The demo App key is made on this machine (never committed):
 * `--init` writes examples/fake-github/demo-app-key.pem (ignored by git) when it is
 * missing, before the portal is started with examples/app-config.github-demo.yaml:
 *
 *   node --require @backstage/cli/config/nodeTransform.cjs examples/fake-github/deploy.ts --init
 *   npm start -- --config ../../app-config.yaml --config ../../examples/app-config.github-demo.yaml
 *   node --require @backstage/cli/config/nodeTransform.cjs examples/fake-github/deploy.ts \
 *     [--repo acme/payments-api] [--environment production] [--backend http://localhost:7007]
 */
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { FakeGithub, githubSignature } from '../../plugins/runtime-risk-backend/src/testUtils/fakeGithub';

/** The demo values of examples/app-config.github-demo.yaml. */
export const DEMO_GITHUB = { port: 7110, webhookSecret: 'fake-github-webhook-secret', keyFile: path.join(__dirname, 'demo-app-key.pem') };

/** Writes a fresh RSA key for the demo App when there is none (the portal reads it through $file). */
function ensureDemoKey() {
  if (fs.existsSync(DEMO_GITHUB.keyFile)) {
    console.log(`demo App key: ${DEMO_GITHUB.keyFile} (kept)`);
    return;
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  fs.writeFileSync(DEMO_GITHUB.keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  console.log(`demo App key: wrote ${DEMO_GITHUB.keyFile}`);
}

async function main() {
  const { values } = parseArgs({
    options: {
      repo: { type: 'string', default: 'acme/payments-api' },
      environment: { type: 'string', default: 'production' },
      backend: { type: 'string', default: 'http://localhost:7007' },
      'wait-minutes': { type: 'string', default: '30' },
      init: { type: 'boolean', default: false },
    },
  });
  if (values.init) {
    ensureDemoKey();
    return;
  }
  if (!fs.existsSync(DEMO_GITHUB.keyFile)) {
    console.error(`no demo App key at ${DEMO_GITHUB.keyFile}: run this script with --init first (then start the portal)`);
    process.exitCode = 1;
    return;
  }
  const github = new FakeGithub({ privateKeyPem: fs.readFileSync(DEMO_GITHUB.keyFile, 'utf8') });
  await github.start(DEMO_GITHUB.port);
  const runId = String(Date.now());
  const body = JSON.stringify({
    action: 'requested',
    environment: values.environment,
    event: 'push',
    deployment_callback_url: github.callbackUrl(values.repo!, runId),
    deployment: { id: Number(runId), sha: 'demo' },
    repository: { full_name: values.repo },
    installation: { id: 1 },
    sender: { login: 'octocat' },
  });
  const res = await fetch(`${values.backend}/api/runtime-risk/v1/integrations/github/events`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-GitHub-Event': 'deployment_protection_rule',
      'X-GitHub-Delivery': randomUUID(),
      'X-Hub-Signature-256': githubSignature(body, DEMO_GITHUB.webhookSecret),
    },
    body,
  });
  console.log(`webhook: ${res.status} ${await res.text()}`);
  if (res.status !== 202) {
    await github.stop();
    process.exitCode = 1;
    return;
  }
  const deadline = Date.now() + Number(values['wait-minutes']) * 60_000;
  let shown = 0;
  for (;;) {
    const calls = github.accepted(runId);
    for (const call of calls.slice(shown)) {
      console.log(`\nGitHub got ${call.body.state ? `state: ${call.body.state}` : 'a status report'}:\n${call.body.comment ?? ''}`);
    }
    shown = calls.length;
    if (calls.some(c => c.body.state)) break;
    if (Date.now() > deadline) {
      console.log('\nno final answer yet; giving up waiting');
      process.exitCode = 2;
      break;
    }
    await new Promise(r => setTimeout(r, 500));
  }
  const final = github.accepted(runId).find(c => c.body.state);
  if (final?.body.state === 'rejected') process.exitCode = 3;
  await github.stop();
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
