export interface Config {
  runtimeRisk?: {
    sources?: {
      /**
       * File signal source: normalized signals in a JSON array, a `{ signals, asOf }`
       * object or NDJSON (one signal a line, optional `{"_meta":{"asOf":"..."}}` line).
       * Timestamps may be relative (`now`, `now-2h`) for demos. Absent block: module idle.
       */
      file?: {
        /** Path of the file, absolute or relative to the repository root. */
        path?: string;
        /** Source id for `path` (default `file`). */
        id?: string;
        /** Several files, each its own source. */
        files?: Array<{
          /** Source id. */
          id: string;
          /** Path of the file. */
          path: string;
        }>;
      };
    };
  };
}
