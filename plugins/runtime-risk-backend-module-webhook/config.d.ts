import type { HumanDuration } from '@backstage/types';

export interface Config {
  runtimeRisk?: {
    sources?: {
      /**
       * Webhook (push) signal sources. Absent: the module stays idle. Each entry
       * receives `POST /api/runtime-risk/v1/signals/webhook/<id>` with signals in
       * the normalized SignalInput shape (one, an array, `{ signals: [...] }` or NDJSON),
       * signed with `X-Runtime-Risk-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`
       * and `X-Runtime-Risk-Timestamp: <unix seconds>`.
       */
      webhook?: {
        /** Replay window in seconds for all entries; default 300. */
        toleranceSeconds?: number;
        /** Require the timestamp header (default true); false accepts a signature over the raw body alone. */
        requireTimestamp?: boolean;
        /** Largest accepted body in bytes (bigger pushes get 413); default 1048576, at most 10485760 (the router reads no more). */
        maxBodyBytes?: number;
        /** Most signals in one push; default 1000. */
        maxSignals?: number;
        /** One push source per entry. */
        sources: Array<{
          /** Source id: letters, digits, `.`, `_`, `-`; part of the URL and of signal ids (`<id>:<sourceId>`). */
          id: string;
          /**
           * Shared HMAC secret of this sender.
           * @visibility secret
           */
          secret: string;
          /** Overrides the block's `toleranceSeconds`. */
          toleranceSeconds?: number;
          /** Overrides the block's `requireTimestamp`. */
          requireTimestamp?: boolean;
          /**
           * How often the sender pushes or calls the signed
           * `POST /api/runtime-risk/v1/signals/webhook/<id>/heartbeat` (e.g. `15m`,
           * `{ minutes: 15 }`). Without it this source is never stale for being quiet;
           * with it, a source not heard from for longer than this is stale for the
           * hosts it has reported (DESIGN "Coverage").
           */
          heartbeat?: string | number | HumanDuration;
        }>;
      };
    };
  };
}
