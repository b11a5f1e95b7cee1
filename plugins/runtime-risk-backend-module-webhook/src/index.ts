/**
 * Webhook (push) signal source for Runtime Risk.
 *
 * @packageDocumentation
 */
export { runtimeRiskModuleWebhook as default } from './module';
export { signWebhookBody, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './WebhookSignalSource';
