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
        /**
         * Use the Hosts API: device details of the alerts' devices and of devices modified since the
         * cursor, and the host inventory sync (`false` also turns `hostInventory` off); default true.
         */
        inventory?: boolean;
        /** Page size of the alert and device queries; default 500. */
        pageSize?: number;
        /** Pages fetched per sync before returning `hasMore`; default 10. */
        maxPages?: number;
        /** Timeout of each HTTP request; default 30 seconds. */
        requestTimeout?: HumanDuration;
        /**
         * The vendor host inventory sync (every host the vendor lists, on its own schedule and
         * cursor): `false` turns it off; default on, hourly.
         */
        hostInventory?:
          | boolean
          | {
              /** Default true. */
              enabled?: boolean;
              /** Default every hour. */
              frequency?: HumanDuration;
              /** Default 15 minutes. */
              timeout?: HumanDuration;
              /** Pages per call before the backend commits and calls again; default `maxPages`. */
              maxPages?: number;
              /** Hosts per page; default `pageSize` (capped at the API's maximum). */
              pageSize?: number;
            };
        /** Overrides `runtimeRisk.ingestion.frequency` / `timeout` for this source. */
        schedule?: { frequency?: HumanDuration; timeout?: HumanDuration };
      };
    };
  };
}
