/**
 * The real-backend test harness of this repository (private, never published):
 * the runtime-risk backend plugin and the file signal source module, by their
 * public entry points, started with the demo catalog and signals of examples/;
 * and the decisions a stand-in gate answers. For the tests of the packages that
 * reach the backend over HTTP (CLI, scaffolder action, OpenFeature provider).
 *
 * @packageDocumentation
 */
export { startDemoBackend, loadDemoEntities, REPO_ROOT, type DemoBackend, type DemoBackendOptions } from './demoBackend';
export { addStandardScenarios, scenarioDecision, type GateScenario } from './gateScenario';
