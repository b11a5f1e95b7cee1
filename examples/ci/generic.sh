#!/bin/sh
# Generic deployment gate step for any CI system or deploy script.
#
#   RUNTIME_RISK_URL=https://backstage.example.com RUNTIME_RISK_TOKEN=... \
#     ./generic.sh component:default/payments-api production "$IMAGE" "$RUN_ID" "$RUN_URL"
#
# Exit codes (from the CLI): 0 proceed, 1 block, 2 approval required / timed out,
# 3 gate unreachable or bad credentials, 4 bad usage. See docs/ci.md.
#
# RUNTIME_RISK_CLI: how to run the CLI (default: `npx --yes @runtime-risk/runtime-risk-cli`,
# i.e. plugins/runtime-risk-cli published to your registry; or e.g.
# `node /opt/runtime-risk-cli/bin/runtime-risk`). Set it to `none`, or run where
# Node.js is missing, to use the curl + jq fallback (no waiting for approval).
# CI_PROVIDER names the CI system in the decision record (default: generic).
set -eu

ENTITY="${1:?usage: generic.sh <entityRef> <environment> [artifact] [runId] [runUrl]}"
ENVIRONMENT="${2:?usage: generic.sh <entityRef> <environment> [artifact] [runId] [runUrl]}"
ARTIFACT="${3:-}"
RUN_ID="${4:-}"
RUN_URL="${5:-}"
PROVIDER="${CI_PROVIDER:-generic}"

RUNTIME_RISK_CLI="${RUNTIME_RISK_CLI:-npx --yes @runtime-risk/runtime-risk-cli}"
if [ "$RUNTIME_RISK_CLI" != none ] && command -v node >/dev/null 2>&1; then
  # The CLI: prints the decision, reasons and a link; waits for an approval up to 30 minutes.
  set -- gate --entity "$ENTITY" --env "$ENVIRONMENT" --pipeline-provider "$PROVIDER" --wait --timeout 30m
  [ -n "$ARTIFACT" ] && set -- "$@" --artifact "$ARTIFACT"
  [ -n "$RUN_ID" ] && set -- "$@" --pipeline-run-id "$RUN_ID"
  [ -n "$RUN_URL" ] && set -- "$@" --pipeline-url "$RUN_URL"
  # shellcheck disable=SC2086 # RUNTIME_RISK_CLI is a command line
  exec $RUNTIME_RISK_CLI "$@"
fi

# Fallback without Node.js: curl + jq, same exit codes, no waiting.
: "${RUNTIME_RISK_URL:?set RUNTIME_RISK_URL}" "${RUNTIME_RISK_TOKEN:?set RUNTIME_RISK_TOKEN}"
body=$(jq -n --arg e "$ENTITY" --arg env "$ENVIRONMENT" --arg a "$ARTIFACT" \
  --arg p "$PROVIDER" --arg r "$RUN_ID" --arg u "$RUN_URL" \
  '{entityRef: $e, environment: $env, pipeline: ({provider: $p, runId: $r, url: $u} | with_entries(select(.value != "")))}
   + (if $a != "" then {artifact: $a} else {} end)')
answer=$(mktemp)
trap 'rm -f "$answer"' EXIT
status=$(curl -sS --retry 3 --retry-connrefused --max-time 30 -o "$answer" -w '%{http_code}' \
  -X POST "${RUNTIME_RISK_URL%/}/api/runtime-risk/v1/gate" \
  -H "Authorization: Bearer ${RUNTIME_RISK_TOKEN}" -H 'Content-Type: application/json' \
  -d "$body") || { echo "runtime-risk gate unreachable" >&2; exit 3; }
case "$status" in
  200) ;;
  400|404) jq -r '"runtime-risk: " + .error.message' "$answer" >&2; exit 4 ;;
  401|403) echo "runtime-risk: credentials refused ($status)" >&2; exit 3 ;;
  *) echo "runtime-risk: gate answered $status" >&2; exit 3 ;;
esac
jq -r '"runtime-risk gate: \(.decision) (risk \(.riskLevel), score \(.score))", (.reasons[] | "  - \(.code): \(.message)"), "  decision: \(.decisionId)"' "$answer"
case "$(jq -r .decision "$answer")" in
  proceed) exit 0 ;;
  block) exit 1 ;;
  *) exit 2 ;;
esac
