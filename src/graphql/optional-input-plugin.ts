import { GraphQLInputObjectType, GraphQLNonNull, isNonNullType } from "postgraphile/graphql";
import { projectPlugin } from "./project-plugin.ts";

/**
 * A mutation whose input has no required field may be called without
 * `input`: `mutation { takeNextTicket { ticket { id } } }`. PostGraphile v5
 * always declares `input: XInput!`; here such an argument becomes
 * `input: XInput = {}`, so leaving it out means an empty input and the old
 * form (`takeNextTicket(input: {})`) keeps working. Which arguments are
 * required comes from the SQL function (arguments without a default are
 * required, see preset.ts `pgStrictFunctions`), so this plugin restates no rule.
 */
export const OptionalInputPlugin: GraphileConfig.Plugin = projectPlugin("OptionalInput", {
  schema: {
    hooks: {
      GraphQLObjectType_fields_field_args_arg(arg, _build, context) {
        if (!context.scope.isRootMutation || context.scope.argName !== "input") return arg;
        if (!isNonNullType(arg.type)) return arg;
        const inputType = arg.type.ofType;
        if (!(inputType instanceof GraphQLInputObjectType)) return arg;
        const fields = Object.values(inputType.getFields());
        if (fields.some((field) => field.type instanceof GraphQLNonNull && field.defaultValue === undefined))
          return arg;
        return { ...arg, type: inputType, defaultValue: {} };
      },
    },
  },
});
