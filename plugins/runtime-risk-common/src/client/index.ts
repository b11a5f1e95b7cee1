export * from './RuntimeRiskApiClient';
