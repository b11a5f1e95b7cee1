export { RuntimeRiskPage, RuntimeRiskPageContent } from './RuntimeRiskPage';
