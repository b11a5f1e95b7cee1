/**
 * Live updates (issue 18 part 4): the backend publishes a data-less message on
 * the Backstage signals service when what the portal shows of an entity's risk
 * changes; the portal refetches through the normal, permission-checked API.
 * Nothing about the risk travels in the message, so it is broadcast.
 */

/** Prefix of every runtime-risk signal channel. */
export const RISK_CHANNEL_PREFIX = 'runtime-risk:';

/**
 * The channel on which a change of every entity is announced at once: a source
 * changed state (it may cover any entity), or more entities changed within one
 * window than the backend sends one by one. Every open card and tab refetches.
 */
export const RISK_ALL_CHANNEL = `${RISK_CHANNEL_PREFIX}all`;

/** The signal channel of one entity: `runtime-risk:<entity ref, lower-cased>`. */
export function riskChannel(entityRef: string): string {
  return `${RISK_CHANNEL_PREFIX}${entityRef.toLowerCase()}`;
}

/** The message sent on a risk channel: something changed, ask again. */
export interface RiskChangedMessage {
  type: 'changed';
  [key: string]: string;
}
