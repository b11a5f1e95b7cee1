export { startDemoBackend, loadDemoEntities, REPO_ROOT, type DemoBackend, type DemoBackendOptions } from './demoBackend';
export { scenarioDecision, type GateScenario } from './gateScenario';
