import { GraphQLError, Kind, type ValueNode } from "postgraphile/graphql";
import { projectPlugin } from "./project-plugin.ts";

/**
 * `BigInt` (PostgreSQL bigint, e.g. ticket numbers) also accepts integer
 * literals: `ticketByNumber(number: 1009)` as well as `number: "1009"`.
 * PostGraphile sends bigints as strings because JavaScript numbers lose
 * precision past 2^53; an integer literal in a query is digits in the text, so
 * it is taken as written, without passing through a JavaScript number.
 * Variables already accept numbers and strings; results stay strings.
 */
export const BigIntLiteralPlugin: GraphileConfig.Plugin = projectPlugin("BigIntLiteral", {
  schema: {
    hooks: {
      GraphQLScalarType(config) {
        if (config.name !== "BigInt" || !config.parseLiteral) return config;
        const parseString = config.parseLiteral;
        return {
          ...config,
          description: `${config.description ?? ""} Integer literals are accepted too (\`1009\` or \`"1009"\`).`.trim(),
          parseLiteral(ast: ValueNode, variables) {
            if (ast.kind === Kind.INT) return parseString({ kind: Kind.STRING, value: ast.value }, variables);
            if (ast.kind === Kind.STRING) return parseString(ast, variables);
            throw new GraphQLError(`BigInt takes an integer or a string of digits (kind = '${ast.kind}')`);
          },
        };
      },
    },
  },
});
