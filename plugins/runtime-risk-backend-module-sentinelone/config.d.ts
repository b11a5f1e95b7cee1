import { HumanDuration } from '@backstage/types';

export interface Config {
  runtimeRisk?: {
    sources?: {
      /**
       * SentinelOne signal source. Absent: the module stays idle.
       * Needs an API token of a service user with the Viewer role.
       */
      sentinelone?: {
        /** Source instance id used in signal ids; default `sentinelone`. */
        id?: string;
        /**
         * Console root, `https://<tenant>.sentinelone.net`. `/web/api/v2.1` is
         * appended unless the URL already ends with it.
         */
        baseUrl: string;
        /**
         * API token, sent as `Authorization: ApiToken <token>`.
         * @visibility secret
         */
        apiToken: string;
        /** Only threats of these account ids. */
        accountIds?: string[];
        /** Only threats of these site ids. */
        siteIds?: string[];
        /** Look up `/agents` for network interfaces and cloud ids; default true. */
        agents?: boolean;
        /** `limit` of the threat listing; default 500 (API maximum 1000). */
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
