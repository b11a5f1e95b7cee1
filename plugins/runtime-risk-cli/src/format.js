// @ts-check
'use strict';

/**
 * The subset of the GateDecision shape (see @runtime-risk/backstage-plugin-runtime-risk-common,
 * `GateDecisionSchema`) that the CLI reads.
 * @typedef {object} Decision
 * @property {string} decisionId
 * @property {'proceed' | 'approval_required' | 'block'} decision
 * @property {string} [entityRef]
 * @property {string} [environment]
 * @property {string} [riskLevel]
 * @property {number | null} [score]
 * @property {{ code: string, message: string, signalIds?: string[], source?: string }[]} [reasons]
 * @property {{ id: string, matchedBy: string, value?: string }[]} [hosts]
 * @property {{ count: number, freshAt: string | null, stale: boolean }} [signals]
 * @property {{ id: string, hash: string }} [policy]
 * @property {{ id: string, expiresAt: string }} [exception]
 * @property {boolean} [dryRun]
 * @property {string} [wouldHaveBeen]
 * @property {'final' | 'pending' | 'approved' | 'rejected' | 'expired'} [status]
 * @property {string} [evaluatedAt]
 */

const DECISIONS = ['proceed', 'approval_required', 'block'];
const STATUSES = ['final', 'pending', 'approved', 'rejected', 'expired'];

/**
 * Checks the fields the CLI relies on; anything else is passed through untouched.
 * @param {unknown} value
 * @returns {Decision | undefined}
 */
function asDecision(value) {
  if (!value || typeof value !== 'object') return undefined;
  const v = /** @type {Record<string, unknown>} */ (value);
  if (typeof v.decisionId !== 'string' || typeof v.decision !== 'string' || !DECISIONS.includes(v.decision)) {
    return undefined;
  }
  if (v.status !== undefined && (typeof v.status !== 'string' || !STATUSES.includes(v.status))) return undefined;
  if (v.reasons !== undefined && !Array.isArray(v.reasons)) return undefined;
  return /** @type {Decision} */ (value);
}

/** Exit codes (documented in docs/ci.md). */
const EXIT = /** @type {const} */ ({
  PROCEED: 0,
  BLOCK: 1,
  APPROVAL: 2,
  UNREACHABLE: 3,
  USAGE: 4,
});

/**
 * The outcome of a decision as the pipeline sees it. An approved pending decision
 * proceeds, a rejected one blocks, an expired one is like an approval timeout.
 * @param {Decision} d
 * @returns {'proceed' | 'block' | 'pending' | 'expired' | 'approval_required'}
 */
function outcomeOf(d) {
  if (d.status === 'approved') return 'proceed';
  if (d.status === 'rejected') return 'block';
  if (d.status === 'expired') return 'expired';
  if (d.decision === 'approval_required') return d.status === 'pending' || d.status === undefined ? 'pending' : 'approval_required';
  return d.decision;
}

/**
 * @param {ReturnType<typeof outcomeOf>} outcome
 * @returns {number}
 */
function exitCodeOf(outcome) {
  switch (outcome) {
    case 'proceed':
      return EXIT.PROCEED;
    case 'block':
      return EXIT.BLOCK;
    default:
      return EXIT.APPROVAL;
  }
}

/**
 * @param {string} portalRoot
 * @param {string} decisionId
 */
function decisionLink(portalRoot, decisionId) {
  return `${portalRoot}/runtime-risk/decisions/${encodeURIComponent(decisionId)}`;
}

/**
 * Human-readable summary of a decision.
 * @param {Decision} d
 * @param {{ portalRoot: string, entityRef: string, environment: string }} ctx
 * @returns {string}
 */
function formatDecision(d, ctx) {
  const outcome = outcomeOf(d);
  const headline = {
    proceed: d.status === 'approved' ? 'PROCEED (approved)' : 'PROCEED',
    block: d.status === 'rejected' ? 'BLOCK (approval rejected)' : 'BLOCK',
    pending: 'APPROVAL REQUIRED (pending)',
    approval_required: 'APPROVAL REQUIRED',
    expired: 'APPROVAL EXPIRED',
  }[outcome];
  const lines = [];
  lines.push(`runtime-risk gate: ${headline}  ${d.entityRef ?? ctx.entityRef} -> ${d.environment ?? ctx.environment}`);
  if (d.dryRun) {
    lines.push(`  dry run: nothing is enforced${d.wouldHaveBeen ? `; the gate would have answered ${d.wouldHaveBeen}` : ''}`);
  }
  const score = d.score === null || d.score === undefined ? 'n/a' : String(d.score);
  lines.push(`  risk level: ${d.riskLevel ?? 'unknown'}   score: ${score}`);
  const reasons = d.reasons ?? [];
  if (reasons.length) {
    lines.push('  reasons:');
    for (const r of reasons) {
      const ids = r.signalIds && r.signalIds.length ? ` [signals: ${r.signalIds.join(', ')}]` : '';
      lines.push(`    - ${r.code}: ${r.message}${ids}`);
    }
  }
  if (d.hosts && d.hosts.length) {
    lines.push(`  hosts: ${d.hosts.map(h => `${h.id} (${h.matchedBy})`).join(', ')}`);
  }
  if (d.signals) {
    lines.push(
      `  signals: ${d.signals.count} active, fresh at ${d.signals.freshAt ?? 'never'}${d.signals.stale ? ' (STALE)' : ''}`,
    );
  }
  if (d.exception) lines.push(`  exception: ${d.exception.id} until ${d.exception.expiresAt}`);
  if (d.policy) lines.push(`  policy: ${d.policy.id} (${d.policy.hash.slice(0, 12)})`);
  lines.push(`  decision: ${d.decisionId}  ${decisionLink(ctx.portalRoot, d.decisionId)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Markdown summary for GitHub Actions' job summary (`$GITHUB_STEP_SUMMARY`).
 * @param {Decision} d
 * @param {{ portalRoot: string, entityRef: string, environment: string }} ctx
 * @returns {string}
 */
function formatMarkdownSummary(d, ctx) {
  const outcome = outcomeOf(d);
  const icon = outcome === 'proceed' ? ':white_check_mark:' : outcome === 'block' ? ':no_entry:' : ':hourglass:';
  /** @param {string} text */
  const cell = text => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const lines = [
    `### ${icon} Runtime Risk gate: \`${d.status && d.status !== 'final' ? `${d.decision} (${d.status})` : d.decision}\``,
    '',
    `\`${d.entityRef ?? ctx.entityRef}\` → \`${d.environment ?? ctx.environment}\` · risk level **${d.riskLevel ?? 'unknown'}** · score ${
      d.score === null || d.score === undefined ? 'n/a' : d.score
    }${d.dryRun ? ' · dry run' : ''}`,
    '',
  ];
  const reasons = d.reasons ?? [];
  if (reasons.length) {
    lines.push('| reason | message |', '| --- | --- |');
    for (const r of reasons) lines.push(`| \`${r.code}\` | ${cell(r.message)} |`);
    lines.push('');
  }
  lines.push(`[Decision ${d.decisionId}](${decisionLink(ctx.portalRoot, d.decisionId)})`, '');
  return `${lines.join('\n')}\n`;
}

module.exports = { EXIT, asDecision, outcomeOf, exitCodeOf, decisionLink, formatDecision, formatMarkdownSummary };
