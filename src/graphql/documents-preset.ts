import type { LogSampler } from "../observability/log-sampler.ts";
import { defaultPagePlugin } from "./default-page-plugin.ts";
import { documentCachePlugin } from "./document-cache.ts";
import { documentLimitsPlugin, type DocumentLimits } from "./document-limits.ts";
import { trustedDocumentsPreset, type TrustedDocuments } from "./trusted-documents.ts";
import { validationRulesPlugin } from "./validation-rules-plugin.ts";

/**
 * Everything that bounds what a GraphQL document may cost, as one preset
 * (docs/security.md, "Documents and query cost"): the checks before parsing
 * and execution, the memory-bounded document and plan caches, the default
 * page, the validation rules (coded errors, no suggestions in production,
 * introspection switch) and, when configured, trusted documents only.
 */
export interface DocumentsPresetOptions {
  limits: DocumentLimits;
  sampler: LogSampler;
  production: boolean;
  introspection: boolean;
  trustedDocuments?: TrustedDocuments | undefined;
}

export function documentsPreset(options: DocumentsPresetOptions): GraphileConfig.Preset {
  const { limits, sampler, trustedDocuments } = options;
  return {
    extends: trustedDocuments ? [trustedDocumentsPreset(trustedDocuments, sampler)] : [],
    plugins: [
      documentLimitsPlugin({ limits, sampler }),
      documentCachePlugin({
        budgetBytes: limits.documentCacheBytes,
        maxTokens: limits.maxTokens,
        defaultPageSize: limits.defaultPageSize,
      }),
      defaultPagePlugin(limits),
      validationRulesPlugin({ production: options.production, introspection: options.introspection }),
    ],
    grafserv: {
      // Replaced by the cache of document-cache.ts, bounded by memory rather than count.
      parseAndValidateCacheSize: 0,
    },
  };
}
