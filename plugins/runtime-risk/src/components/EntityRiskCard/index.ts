export { EntityRiskCard } from './EntityRiskCard';
export type { EntityRiskCardProps } from './EntityRiskCard';
