import { projectPlugin } from "./project-plugin.ts";

/**
 * Names the result field of a mutation made from a SQL function after what
 * it returns: `transitionTicket { ticket }`, `addComment { ticketComment }`,
 * `deactivateUser { user }` — the shape PostGraphile users know from table
 * mutations. PostGraphile v5 calls it `result` by default; a
 * `@resultFieldName` smart tag on the function still wins, and functions
 * returning scalars keep `result`.
 */
export const PayloadNamingPlugin: GraphileConfig.Plugin = projectPlugin("PayloadNaming", {
  inflection: {
    replace: {
      functionMutationResultFieldName(previous, _options, details) {
        const tagged = details.resource.extensions?.tags?.resultFieldName;
        if (typeof tagged === "string") return tagged;
        const codec = details.resource.codec;
        if (!codec.attributes || codec.isAnonymous) return previous!(details);
        const name = this.camelCase(details.returnGraphQLTypeName);
        return details.resource.isUnique ? name : this.pluralize(name);
      },
    },
  },
});
