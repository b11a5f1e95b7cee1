export interface Config {
  runtimeRisk?: {
    /** The runtime-risk permission policy module (pluginId `permission`). */
    permissionPolicy?: {
      /** Group refs (`group:default/security`) whose members approve or reject exceptions and pending decisions. Required. */
      approverGroups: string[];
      /** Group refs whose members may override gate decisions. Default: `approverGroups`. */
      overrideGroups?: string[];
      /** Group refs whose members read `/v1/sources`, `/v1/coverage`, the audit routes and the policy (approvers always may). */
      adminGroups?: string[];
      /**
       * When true, a user reads an entity in the catalog (`catalog.entity.read`,
       * and so its risk, signals, decisions and exceptions) only if they own it
       * or belong to a reader, approver, override or admin group. Default false.
       */
      restrictEntityReads?: boolean;
      /** Group refs whose members read every entity when `restrictEntityReads` is on. */
      readerGroups?: string[];
    };
  };
}
