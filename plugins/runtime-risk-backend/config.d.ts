import type { HumanDuration } from '@backstage/types';

/** One of the actions a failure mode may take. */
type FailureAction = 'block' | 'approval_required' | 'proceed_with_warning';
/** A gate decision. */
type GateAction = 'proceed' | 'approval_required' | 'block';

export interface Config {
  /** Runtime Risk: a deployment gate answering from live EDR signals. */
  runtimeRisk?: {
    /**
     * Signal sources: `file`, `crowdstrike`, `defender`, `sentinelone`, `webhook`.
     * Each source module reads and documents its own block (in its own
     * config.d.ts, so the schema of a vendor's keys lives with its adapter);
     * a module whose block is absent stays idle. Secrets in these blocks are
     * marked `@visibility secret` there and never logged.
     */
    sources?: {};
    /** Who approves exceptions and pending decisions (notified when one awaits them). */
    approvers?: {
      /** Group entity ref, e.g. `group:default/security` (kind defaults to group, namespace to default). */
      group?: string;
    };
    /** Notifications through the notifications backend, when it is installed. */
    notifications?: {
      /** Default true: owners are told of blocked deploys, approvers of pending approvals. */
      enabled?: boolean;
    };
    /**
     * Live updates to the portal through the Backstage signals service (issue 18 part 4): a
     * data-less message on `runtime-risk:<entityRef>` when an entity's risk changes, coalesced.
     */
    live?: {
      /** Default true. Without the signals backend installed the messages go nowhere and the portal polls. */
      enabled?: boolean;
      /** How long changes are gathered before they are announced (one message per entity); default 500 ms. */
      debounce?: HumanDuration;
      /** Most entity messages per window; more are announced with one message on `runtime-risk:all`. Default 200. */
      maxPerWindow?: number;
    };
    /**
     * Gate inputs (the indexed entity, its correlated signals, source state and
     * exceptions) cached through the Backstage cache service (`backend.cache`:
     * memory by default, Redis/Valkey/Memcache when configured). Invalidated by
     * a data version that every write of signals, index or exceptions bumps, so
     * a cached input is never older than the last committed change.
     */
    cache?: {
      /** Default true. */
      enabled?: boolean;
      /** Longest a cached input is kept; default `{ minutes: 10 }`. */
      ttl?: HumanDuration;
    };
    /** Schedule of every pull source's ingestion task (scope global). */
    ingestion?: {
      /** How often each pull source syncs; default `{ seconds: 30 }`. A source may override with its own `schedule`. */
      frequency?: HumanDuration;
      /** Longest one sync may run; default `{ minutes: 2 }`. */
      timeout?: HumanDuration;
    };
    /**
     * The sweep (scope global) that expires exceptions past `expiresAt`, records the
     * revocation of exceptions a newer severe detection put out of scope, and expires
     * pending decisions past `approvalTtl`. The gate applies both at request time anyway;
     * the sweep records them (status, audit log, notifications). Revocation also happens
     * on ingest, right after the batch or push that stored the signal; for it the sweep
     * is the safety net.
     */
    exceptions?: {
      /** How often the sweep runs; default `{ minutes: 1 }`. */
      frequency?: HumanDuration;
    };
    /** The hash-chained decision log (docs/security.md "Audit log"). */
    audit?: {
      /**
       * How often the log's head (`{seq, hash}`) is published as the auditor event
       * `audit-head` (scope global), so it can be anchored outside the database;
       * default `{ hours: 1 }`.
       */
      headFrequency?: HumanDuration;
    };
    /** Integrations with CI/CD systems. */
    integrations?: {
      /**
       * GitHub custom deployment protection rule (docs/github.md): a GitHub App
       * whose `deployment_protection_rule` webhook reaches
       * `/api/runtime-risk/v1/integrations/github/events`. Absent: that route answers 404.
       */
      github?: {
        /** The GitHub App's ID (the JWT's `iss`). */
        appId: number | string;
        /**
         * The App's private key (PEM, as GitHub downloads it; literal `\n` accepted),
         * signing the App JWT that buys installation tokens.
         * @visibility secret
         */
        privateKey: string;
        /**
         * The App's webhook secret: `X-Hub-Signature-256` is checked with it.
         * @visibility secret
         */
        webhookSecret: string;
        /**
         * GitHub REST API root; default `https://api.github.com`. GitHub Enterprise
         * Server: `https://<host>/api/v3`. Callback URLs must be under it.
         */
        apiBaseUrl?: string;
        /** GitHub environment name -> policy environment (`runtimeRisk.policy.environments`). */
        environments?: { [githubEnvironment: string]: string };
        /**
         * Policy environment of GitHub environments not in `environments`.
         * Absent: those deployments are approved with a comment saying they are not gated.
         */
        defaultEnvironment?: string;
        /**
         * The answer for a repository no entity names in `github.com/project-slug`;
         * default `approve` (with a comment saying it is not gated).
         */
        unknownRepository?: 'approve' | 'reject';
        /** Calls back to GitHub, kept in the database until sent. */
        callbacks?: {
          /** How often queued and waiting callbacks are looked at (scope global); default `{ seconds: 15 }`. */
          frequency?: HumanDuration;
          /** Wait before the first retry after a 5xx or network error, doubling up to 30 minutes; default `{ seconds: 10 }`. */
          backoff?: HumanDuration;
          /** Attempts before a callback is given up (logged as an error); default 10. */
          maxAttempts?: number;
        };
      };
    };
    /** Schedule of the catalog correlation index rebuild (scope global, also run at start). */
    correlation?: {
      /** How often the index is rebuilt from the catalog; default `{ minutes: 5 }`. */
      frequency?: HumanDuration;
      /** Longest one rebuild may run; default `{ minutes: 5 }`. */
      timeout?: HumanDuration;
      /**
       * Every how often a rebuild is a full one (reads every stored signal's asset and
       * rewrites the whole index), the safety net of the incremental rebuilds in between
       * (catalog changes, signals fetched and inventory hosts listed since the last
       * rebuild; only changed entities written). The first rebuild of a process is
       * always full. Default `{ hours: 6 }`.
       */
      fullRebuildEvery?: HumanDuration;
      /**
       * An incremental rebuild reads the signals fetched (and hosts listed) since the last
       * rebuild began less this much: a page fetched before that rebuild may commit after
       * its reads (also covers clock skew between replicas). Default `{ minutes: 10 }`.
       */
      incrementalOverlap?: HumanDuration;
      /**
       * Hosts of entities that the catalog does not describe (correlation rule 4,
       * `matchedBy: inventory`). Each entry maps an entity (ref; kind defaults to
       * component, namespace to default) to hosts: hostnames, FQDNs, EDR device
       * ids, cloud instance ids, IPs, CIDR blocks or MACs. Without `environment`
       * the hosts apply to every environment. Validated at start-up.
       */
      inventory?: Array<{
        /** The entity, e.g. `component:default/payments`. */
        entityRef: string;
        /** The environment these hosts belong to (letters, digits, `-`, `_`); omit for all. */
        environment?: string;
        /** Host identifiers of the entity. */
        hosts: string[];
      }>;
      /**
       * Path (relative to the working directory) of a YAML or JSON inventory file:
       * a list of `{ entityRef, environment?, hosts }` entries as in `inventory`,
       * or `{ inventory: [...] }`. Read at start-up (fails fast) and again on every
       * index rebuild, so edits apply without a restart.
       */
      inventoryFile?: string;
      /**
       * When true, a Component also reaches every host/vm/node Resource of its System
       * (`matchedBy: relation:system:<resourceRef>`), the broad rule of earlier versions:
       * one detection on a System's VM then counts for every Component of the System.
       * Default false: a Component reaches only the Resources it `dependsOn` and those
       * whose `spec.dependencyOf` names it; a gate for the System itself covers them all.
       */
      inheritSystemResources?: boolean;
    };
    /**
     * Score snapshots for the portal's "Risk over time" chart: a task (scope global, also run
     * at start) evaluates every indexed entity in every environment from the gate's cached
     * inputs and stores the score when it changed, and at least hourly.
     */
    history?: {
      /** How often the scores are evaluated; default `{ minutes: 5 }`, at most 30 minutes. */
      frequency?: HumanDuration;
      /** How long snapshots are kept; default `{ days: 30 }`. */
      retention?: HumanDuration;
    };
    /** Which sources matter to an entity (DESIGN "Coverage"). */
    coverage?: {
      /**
       * How long a source's report of a host (a signal on it, any status) counts as the
       * source covering that host; default `{ days: 7 }`. An open (active) detection
       * always counts. A source that is down or stale matters only to entities with a host
       * it covers; an entity none of whose hosts any source covers is `uncorrelated`.
       */
      window?: HumanDuration;
    };
    /**
     * The gate policy. Invalid policy config fails start-up with a message naming the key.
     * Without it the production + staging policy of the design is used.
     */
    policy?: {
      /** Policy id, recorded with every decision alongside the policy's content hash. Default `default`. */
      id?: string;
      /** Policy per environment name (letters, digits, `-`, `_`); the gate refuses other environments with 400. */
      environments: {
        [environment: string]: {
          /** Score thresholds (0-100): score >= moderate is moderate, >= high is high, else low. */
          thresholds: {
            /** Lowest score that is moderate risk. */
            moderate: number;
            /** Lowest score that is high risk. */
            high: number;
          };
          /** The decision for each risk level. */
          actions: {
            /** Decision for low risk. */
            low: GateAction;
            /** Decision for moderate risk. */
            moderate: GateAction;
            /** Decision for high risk. */
            high: GateAction;
          };
          /** Data older than this (since the covering source's last successful sync) is stale. */
          maxSignalAge: HumanDuration;
          /** What to do when the risk cannot be trusted; never lowers a stricter signal-based decision. */
          onFailure: {
            /** A source covering the entity's hosts is down. */
            sourceUnavailable: FailureAction;
            /** The newest successful sync of the covering sources is older than `maxSignalAge`. */
            signalsStale: FailureAction;
            /** No host of the entity was found (risk level `unknown`). */
            uncorrelated: FailureAction;
            /** The score could not be computed from the data. */
            scoreUnavailable: FailureAction;
          };
          /** Longest an exception may last in this environment. */
          maxExceptionDuration?: HumanDuration;
          /** How long an approval of a pending decision stays valid. */
          approvalTtl?: HumanDuration;
        };
      };
      /** Scoring parameters: `weight(severity) x confidence x 0.5^(age / halfLife(severity))`, combined saturating to 0-100. */
      scoring?: {
        /** Weight (0-100) per severity; default informational 0, low 10, medium 35, high 70, critical 100. */
        severityWeights?: {
          /** Weight of informational signals. */
          informational?: number;
          /** Weight of low signals. */
          low?: number;
          /** Weight of medium signals. */
          medium?: number;
          /** Weight of high signals. */
          high?: number;
          /** Weight of critical signals. */
          critical?: number;
        };
        /** Decay half-life per severity; default low 12h, medium 24h, high 72h, critical 7d. */
        halfLife?: {
          /** Half-life of informational signals. */
          informational?: HumanDuration;
          /** Half-life of low signals. */
          low?: HumanDuration;
          /** Half-life of medium signals. */
          medium?: HumanDuration;
          /** Half-life of high signals. */
          high?: HumanDuration;
          /** Half-life of critical signals. */
          critical?: HumanDuration;
        };
      };
    };
  };
}
