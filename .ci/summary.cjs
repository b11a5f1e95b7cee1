// Prints the one plain line CI reads, `tests: N passed, N failed`, from vitest's
// JSON report, and exits non-zero when anything failed. A test file that fails
// to load (no failed assertion of its own) counts as a failure too.
const r = require(process.argv[2]);
const passed = r.numPassedTests || 0;
let failed = r.numFailedTests || 0;
const loadFailures = (r.testResults || []).filter(
  t => t.status === 'failed' && !(t.assertionResults || []).some(a => a.status === 'failed'),
);
for (const t of loadFailures) {
  console.log(`failed to run: ${t.name}: ${String(t.message || '').split('\n')[0]}`);
}
failed += loadFailures.length;
if (!r.success && failed === 0) failed = 1;
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
