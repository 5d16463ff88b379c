import { constant, ConstantStep, lambda, type FieldPlanResolver, type Step } from "postgraphile/grafast";
import { projectPlugin } from "./project-plugin.ts";

/**
 * Every connection (and list) of the schema reads one page: a request
 * without `first` or `last` (or with them null) gets the first
 * `defaultPageSize` rows instead of every row. The query cost check counts
 * that same page for such fields (query-cost.ts), and refuses pages over
 * `maxPageSize` before execution (document-limits.ts), so this plugin only
 * applies the default.
 *
 * PostGraphile applies `first` through the argument's `applyPlan`, which
 * grafast skips when the argument is absent; so the field's plan takes over
 * `first` here and the argument keeps no `applyPlan` of its own.
 */
export interface PageOptions {
  defaultPageSize: number;
  maxPageSize: number;
}

interface Paginated extends Step {
  setFirst(first: Step): unknown;
}

function isPaginated(step: unknown): step is Paginated {
  return step != null && typeof (step as { setFirst?: unknown }).setFirst === "function";
}

/** A step known at planning time to hold null or nothing: the argument was left out or given null. */
function isAbsent(step: Step | undefined): boolean {
  return step === undefined || (step instanceof ConstantStep && step.data == null);
}

function withDefaultPage(plan: FieldPlanResolver, defaultPageSize: number): FieldPlanResolver {
  return function planWithDefaultPage($parent, fieldArgs, info) {
    const $result = plan($parent, fieldArgs, info);
    const argumentNames = info.field.args.map((argument) => argument.name);
    if (!argumentNames.includes("first") || !isPaginated($result)) return $result;
    const $first = fieldArgs.getRaw("first");
    const $last = argumentNames.includes("last") ? fieldArgs.getRaw("last") : undefined;
    if ($first instanceof ConstantStep && $first.data != null) {
      $result.setFirst($first);
    } else if (isAbsent($first) && isAbsent($last)) {
      $result.setFirst(constant(defaultPageSize));
    } else {
      // Variables: known per request only.
      const $page = lambda(
        [$first, $last ?? constant(null)],
        ([first, last]) => first ?? (last == null ? defaultPageSize : null),
        true,
      );
      $result.setFirst($page);
    }
    return $result;
  };
}

function isCollectionField(scope: { isPgFieldConnection?: boolean; isPgFieldSimpleCollection?: boolean }): boolean {
  return Boolean(scope.isPgFieldConnection || scope.isPgFieldSimpleCollection);
}

export function defaultPagePlugin({ defaultPageSize, maxPageSize }: PageOptions): GraphileConfig.Plugin {
  return projectPlugin("DefaultPage", {
    schema: {
      hooks: {
        GraphQLObjectType_fields_field(field, _build, context) {
          if (!isCollectionField(context.scope) || !field.plan) return field;
          return { ...field, plan: withDefaultPage(field.plan as FieldPlanResolver, defaultPageSize) };
        },
        GraphQLObjectType_fields_field_args_arg(argument, _build, context) {
          if (context.scope.argName !== "first" || !isCollectionField(context.scope)) return argument;
          const { applyPlan: _appliedByTheFieldPlan, ...rest } = argument;
          return {
            ...rest,
            description:
              `Only read the first \`n\` values of the set (at most ${maxPageSize}). ` +
              `Without \`first\` or \`last\`, the first ${defaultPageSize} are read.`,
          };
        },
      },
    },
  });
}
