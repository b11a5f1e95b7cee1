import { HumanDuration } from '@backstage/types';

export interface Config {
  runtimeRisk?: {
    sources?: {
      /**
       * CrowdStrike Falcon signal source. Absent: the module stays idle.
       * Needs an API client with the Alerts: Read and Hosts: Read scopes.
       */
      crowdstrike?: {
        /** Source instance id used in signal ids; default `crowdstrike`. */
        id?: string;
        /**
         * Falcon cloud region; ignored when `baseUrl` is set. Default `us-1`.
         */
        region?: 'us-1' | 'us-2' | 'eu-1' | 'us-gov-1';
        /** API base URL, e.g. `https://api.crowdstrike.com` (overrides `region`; tests, proxies). */
        baseUrl?: string;
        /** OAuth2 API client id. */
        clientId: string;
        /**
         * OAuth2 API client secret.
         * @visibility secret
         */
        clientSecret: string;
        /** Child CID to act on (Flight Control parents only). */
        memberCid?: string;
        /** Extra FQL ANDed to the alert filter, e.g. `product:'epp'`. */
        filter?: string;
        /** Sync the Hosts API inventory (devices modified since the cursor); default true. */
        inventory?: boolean;
        /** Page size of the alert and device queries; default 500. */
        pageSize?: number;
        /** Pages fetched per sync before returning `hasMore`; default 10. */
        maxPages?: number;
        /** Timeout of each HTTP request; default 30 seconds. */
        requestTimeout?: HumanDuration;
        /** Overrides `runtimeRisk.ingestion.frequency` / `timeout` for this source. */
        schedule?: { frequency?: HumanDuration; timeout?: HumanDuration };
      };
    };
  };
}
