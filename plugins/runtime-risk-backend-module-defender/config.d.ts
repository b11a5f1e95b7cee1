import { HumanDuration } from '@backstage/types';

export interface Config {
  runtimeRisk?: {
    sources?: {
      /**
       * Microsoft Defender for Endpoint signal source. Absent: the module stays idle.
       * Needs an Entra ID app registration with the WindowsDefenderATP application
       * permissions Alert.Read.All and Machine.Read.All.
       */
      defender?: {
        /** Source instance id used in signal ids; default `defender`. */
        id?: string;
        /** Entra ID (Azure AD) tenant id. */
        tenantId: string;
        /** Application (client) id of the app registration. */
        clientId: string;
        /**
         * Client secret of the app registration.
         * @visibility secret
         */
        clientSecret: string;
        /**
         * Defender API URL; default `https://api.securitycenter.microsoft.com`.
         * The token scope is `<apiUrl>/.default`. Override for sovereign clouds or tests.
         */
        apiUrl?: string;
        /** Microsoft identity platform URL; default `https://login.microsoftonline.com`. */
        loginUrl?: string;
        /** Look up `/api/machines/{id}` for IPs, MACs and VM ids; default true. */
        machines?: boolean;
        /** `$top` of the alert listing; default 1000 (API maximum 10000). */
        pageSize?: number;
        /** Pages fetched per sync; default 50. */
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
