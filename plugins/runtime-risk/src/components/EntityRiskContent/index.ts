export { EntityRiskContent } from './EntityRiskContent';
