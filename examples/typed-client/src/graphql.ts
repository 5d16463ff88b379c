import { initGraphQLTada } from "gql.tada";
import type { introspection } from "./graphql-env.d.ts";

/**
 * `graphql()` for this API: documents written with it are typed from
 * schema.graphql. Scalars are what the API sends on the wire.
 */
export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { BigInt: string; UUID: string; Datetime: string; Cursor: string };
}>();

export type { FragmentOf, ResultOf, VariablesOf } from "gql.tada";
