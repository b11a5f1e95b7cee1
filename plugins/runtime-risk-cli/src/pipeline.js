// @ts-check
'use strict';

/**
 * @typedef {{ provider?: string, runId?: string, url?: string }} PipelineInfo
 */

/**
 * Detects the CI run that calls the gate from the CI system's own environment
 * variables, so that the decision record names the pipeline.
 *
 * - GitHub Actions: `GITHUB_ACTIONS=true`, `GITHUB_RUN_ID`, `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`
 * - GitLab CI: `GITLAB_CI=true`, `CI_PIPELINE_ID`, `CI_PIPELINE_URL`
 * - Jenkins: `JENKINS_URL`, `BUILD_TAG`, `BUILD_URL`
 *
 * @param {Record<string, string | undefined>} env
 * @returns {PipelineInfo | undefined}
 */
function detectPipeline(env) {
  if (env.GITHUB_ACTIONS === 'true') {
    const server = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '');
    const runId = env.GITHUB_RUN_ID;
    return compact({
      provider: 'github-actions',
      runId,
      url:
        runId && env.GITHUB_REPOSITORY ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${runId}` : undefined,
    });
  }
  if (env.GITLAB_CI === 'true') {
    return compact({ provider: 'gitlab-ci', runId: env.CI_PIPELINE_ID, url: env.CI_PIPELINE_URL });
  }
  if (env.JENKINS_URL) {
    return compact({ provider: 'jenkins', runId: env.BUILD_TAG || env.BUILD_NUMBER, url: env.BUILD_URL });
  }
  return undefined;
}

/**
 * @param {PipelineInfo} info
 * @returns {PipelineInfo}
 */
function compact(info) {
  /** @type {PipelineInfo} */
  const out = {};
  if (info.provider) out.provider = info.provider;
  if (info.runId) out.runId = info.runId;
  if (info.url) out.url = info.url;
  return out;
}

/**
 * Explicit flags win over detection, field by field.
 * @param {PipelineInfo | undefined} detected
 * @param {PipelineInfo} flags
 * @returns {PipelineInfo | undefined}
 */
function mergePipeline(detected, flags) {
  const merged = compact({ ...(detected || {}), ...compact(flags) });
  return Object.keys(merged).length ? merged : undefined;
}

/** A login as GitHub and GitLab report it (bots such as `dependabot[bot]` included). */
const LOGIN = /^[A-Za-z0-9_.\-[\]]{1,255}$/;

/**
 * The person behind the pipeline, from the CI system's own variables: GitHub
 * Actions `GITHUB_TRIGGERING_ACTOR` (who started this run or re-run), else
 * `GITHUB_ACTOR`; GitLab CI `GITLAB_USER_LOGIN`. A value that is not a login is
 * ignored (`ignored` says why).
 * @param {Record<string, string | undefined>} env
 * @returns {{ requestedBy?: { provider: string, login: string }, ignored?: string }}
 */
function detectRequestedBy(env) {
  /** @type {[string, string][]} */
  const candidates = [
    ['GITHUB_TRIGGERING_ACTOR', 'github'],
    ['GITHUB_ACTOR', 'github'],
    ['GITLAB_USER_LOGIN', 'gitlab'],
  ];
  for (const [name, provider] of candidates) {
    const value = env[name]?.trim();
    if (!value) continue;
    if (!LOGIN.test(value)) return { ignored: `${name} is not a login (${JSON.stringify(value.slice(0, 40))}); requestedBy not sent` };
    return { requestedBy: { provider, login: value } };
  }
  return {};
}

module.exports = { detectPipeline, mergePipeline, detectRequestedBy };
