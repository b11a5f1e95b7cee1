// Prints the one plain line CI reads, `tests: N passed, N failed`, from vitest's
// JSON report (and the consumer check's, when given), and exits non-zero when
// anything failed. A test file that fails to load (no failed assertion of its
// own) counts as a failure too.
const r = require(process.argv[2]);
let passed = r.numPassedTests || 0;
let failed = r.numFailedTests || 0;
const loadFailures = (r.testResults || []).filter(
  t => t.status === 'failed' && !(t.assertionResults || []).some(a => a.status === 'failed'),
);
for (const t of loadFailures) {
  console.log(`failed to run: ${t.name}: ${String(t.message || '').split('\n')[0]}`);
}
failed += loadFailures.length;
if (!r.success && failed === 0) failed = 1;
// Optional: the consumer check's report (scripts/consumer-check.mjs --report) and exit code.
// Each of its checks counts as one test; no report, or a non-zero exit with no failed
// check in the report, counts as one failure.
if (process.argv[3]) {
  const fs = require('node:fs');
  const rc = Number(process.argv[4] || 0);
  let report;
  try {
    report = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
  } catch {
    report = undefined;
  }
  const checks = (report && report.checks) || [];
  const bad = checks.filter(c => !c.ok);
  passed += checks.length - bad.length;
  failed += bad.length;
  for (const c of bad) console.log(`failed: consumer check: ${c.name}`);
  if (!report) {
    console.log(`failed to run: consumer check wrote no report (exit ${rc})`);
    failed += 1;
  } else if (rc !== 0 && bad.length === 0) {
    console.log(`failed: consumer check exited ${rc}${report.error ? `: ${String(report.error).split('\n')[0]}` : ''}`);
    failed += 1;
  }
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
