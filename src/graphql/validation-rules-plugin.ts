import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  type ValidationContext,
  type ValidationRule,
} from "postgraphile/graphql";
import { projectPlugin } from "./project-plugin.ts";

/**
 * The graphql-js validation rules grafserv applies, adjusted:
 *
 * - every validation error carries `extensions.code` GRAPHQL_VALIDATION_FAILED;
 * - in production, no "Did you mean …?" suggestions: they spell out the
 *   schema to anyone probing it, which matters when introspection is off;
 * - with introspection off (GRAPHQL_INTROSPECTION=false), `__schema` and
 *   `__type` are refused (`__typename` stays).
 */
export const GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED";

const SUGGESTION = /\s*Did you mean [\s\S]*\?$/;

/** A message without graphql-js's trailing "Did you mean …?" suggestion. */
export function withoutSuggestion(message: string): string {
  return message.replace(SUGGESTION, "");
}

export interface ValidationRulesOptions {
  production: boolean;
  introspection: boolean;
}

function coded(error: GraphQLError, production: boolean): GraphQLError {
  return new GraphQLError(production ? withoutSuggestion(error.message) : error.message, {
    ...(error.nodes ? { nodes: error.nodes } : {}),
    ...(error.source ? { source: error.source } : {}),
    ...(error.positions ? { positions: error.positions } : {}),
    extensions: { ...error.extensions, code: GRAPHQL_VALIDATION_FAILED },
  });
}

/** The rule, reporting its errors coded (and without suggestions in production). */
function reportingCoded(rule: ValidationRule, production: boolean): ValidationRule {
  return (context: ValidationContext) => {
    // The rule sees the real context except for how it reports.
    const reporting = Object.create(context) as ValidationContext;
    reporting.reportError = (error: GraphQLError) => context.reportError(coded(error, production));
    return rule(reporting);
  };
}

export function validationRulesPlugin({ production, introspection }: ValidationRulesOptions): GraphileConfig.Plugin {
  return projectPlugin("ValidationRules", {
    grafserv: {
      middleware: {
        setPreset(next, event) {
          const rules = introspection
            ? event.validationRules
            : [...event.validationRules, NoSchemaIntrospectionCustomRule];
          event.validationRules = rules.map((rule) => reportingCoded(rule, production));
          return next();
        },
      },
    },
  });
}
