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

module.exports = { detectPipeline, mergePipeline };
