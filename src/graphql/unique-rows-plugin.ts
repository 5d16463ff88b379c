import { projectPlugin } from "./project-plugin.ts";

/**
 * A SQL function tagged `@uniqueRows` returns rows of a table, each at most
 * once (e.g. `app_public.tickets_ticket_status_histories`, which reads a
 * ticket's history from its creation on in place of the foreign-key
 * relation). Its connection then behaves like the relation's: the table's
 * primary key breaks ties in every ordering (stable pages and cursors), and
 * `orderBy` defaults to `[PRIMARY_KEY_ASC]`. PostGraphile gives neither to a
 * function, since a function may return a row twice.
 */
export const UniqueRowsPlugin = projectPlugin("UniqueRows", {
  description: "The table's primary key orders and identifies the rows of a function tagged @uniqueRows",
  gather: {
    hooks: {
      pgProcedures_functionResourceOptions(_info, event) {
        const { tags } = event.pgProc.getTagsAndDescription();
        if (!tags.uniqueRows) return;
        const primaryKey = event.baseResourceOptions.uniques?.filter((unique) => unique.isPrimary) ?? [];
        if (primaryKey.length === 0)
          throw new Error(`@uniqueRows on ${event.pgProc.proname}: its table has no primary key`);
        Object.assign(event.functionResourceOptions, { uniques: primaryKey });
      },
    },
  },
  schema: {
    hooks: {
      GraphQLObjectType_fields_field_args_arg(argument, build, context) {
        const { argName, isPgFieldConnection, pgFieldResource: resource } = context.scope;
        if (argName !== "orderBy" || !isPgFieldConnection || !resource?.parameters) return argument;
        if (!resource.uniques.some((unique: { isPrimary?: boolean }) => unique.isPrimary) || !resource.codec.attributes)
          return argument;
        const orderBy = build.getTypeByName(build.inflection.orderByType(build.inflection.tableType(resource.codec)));
        const primaryKeyAsc = build.inflection.builtin("PRIMARY_KEY_ASC");
        const value =
          orderBy && "getValues" in orderBy
            ? orderBy.getValues().find((entry) => entry.name === primaryKeyAsc)
            : undefined;
        return value ? { ...argument, defaultValue: [value.value] } : argument;
      },
    },
  },
});
