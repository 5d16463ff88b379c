import {
  getNamedType,
  isCompositeType,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from "postgraphile/graphql";

/**
 * What a GraphQL document would cost, measured on its syntax tree before
 * graphql-js validates it, in one pass over the tree: each fragment is
 * measured once and reused wherever it is spread, so fragments spreading
 * each other twice per level (2^30 fields from 30 short lines) are measured
 * in 30 steps, not 2^30.
 *
 * - fields: field selections after expanding fragments (aliases included);
 * - depth: the deepest field nesting after expanding fragments;
 * - cost: every field counts 1, times the page sizes of the connections
 *   above it. A connection's page is `first` (or `last`), with variables
 *   resolved; without either it is the default page, which the API applies
 *   (default-page-plugin.ts);
 * - rootFields: fields at the operation's top level (mutations are bounded);
 * - pages: each connection page a client asked for, to refuse those over
 *   the maximum.
 *
 * Introspection list fields that lead back to types (`fields`, `types`,
 * `interfaces`, `possibleTypes`, `inputFields`) may appear once on a path:
 * the standard introspection query needs no more, and nesting them again
 * multiplies work by the size of the schema at each level.
 */
export interface DocumentCost {
  type: OperationDefinitionNode["operation"];
  fields: number;
  depth: number;
  cost: number;
  rootFields: number;
  /** A path repeating an introspection list field, if any. */
  introspectionCycle?: string;
  /** The largest page asked of a connection, with its field name. */
  largestPage?: { field: string; size: number };
  /** The largest `offset` given to a connection, with its field name. */
  largestOffset?: { field: string; size: number };
}

export interface CostOptions {
  /** The page counted (and applied) for a connection without `first` or `last`. */
  defaultPageSize: number;
}

interface Summary {
  fields: number;
  depth: number;
  cost: number;
  width: number;
  /** Bits of INTROSPECTION_LISTS appearing at or below this selection set. */
  introspection: number;
}

const EMPTY: Summary = { fields: 0, depth: 0, cost: 0, width: 0, introspection: 0 };
const INTROSPECTION_LISTS = ["fields", "types", "interfaces", "possibleTypes", "inputFields"];

type Variables = Readonly<Record<string, unknown>> | null | undefined;

class Measurer {
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly measured = new Map<string, Summary>();
  private readonly measuring = new Set<string>();
  private readonly variableDefaults = new Map<string, ValueNode>();
  introspectionCycle: string | undefined;
  largestPage: { field: string; size: number } | undefined;
  largestOffset: { field: string; size: number } | undefined;

  private readonly schema: GraphQLSchema;
  private readonly variables: Variables;
  private readonly options: CostOptions;

  constructor(schema: GraphQLSchema, document: DocumentNode, variables: Variables, options: CostOptions) {
    this.schema = schema;
    this.variables = variables;
    this.options = options;
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION && !this.fragments.has(definition.name.value)) {
        this.fragments.set(definition.name.value, definition);
      }
    }
  }

  useVariableDefaults(operation: OperationDefinitionNode): void {
    this.variableDefaults.clear();
    for (const definition of operation.variableDefinitions ?? []) {
      if (definition.defaultValue) this.variableDefaults.set(definition.variable.name.value, definition.defaultValue);
    }
  }

  fragment(name: string): Summary {
    const known = this.measured.get(name);
    if (known) return known;
    const definition = this.fragments.get(name);
    // Unknown fragments and cycles are validation errors; they add nothing here.
    if (!definition || this.measuring.has(name)) return EMPTY;
    this.measuring.add(name);
    const summary = this.selectionSet(definition.selectionSet, this.typeNamed(definition.typeCondition.name.value));
    this.measuring.delete(name);
    this.measured.set(name, summary);
    return summary;
  }

  selectionSet(selectionSet: SelectionSetNode, parentType: GraphQLCompositeType | undefined): Summary {
    let fields = 0;
    let depth = 0;
    let cost = 0;
    let width = 0;
    let introspection = 0;
    for (const selection of selectionSet.selections) {
      let inner: Summary;
      if (selection.kind === Kind.FIELD) {
        inner = this.field(selection, parentType);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? this.typeNamed(selection.typeCondition.name.value) : parentType;
        inner = this.selectionSet(selection.selectionSet, type);
      } else {
        inner = this.fragment(selection.name.value);
      }
      fields += inner.fields;
      depth = Math.max(depth, inner.depth);
      cost += inner.cost;
      width += inner.width;
      introspection |= inner.introspection;
    }
    return { fields, depth, cost, width, introspection };
  }

  /** A field as a one-field summary: itself plus what it selects. */
  private field(node: FieldNode, parentType: GraphQLCompositeType | undefined): Summary {
    const definition = this.fieldDefinition(node.name.value, parentType);
    const namedType = definition ? getNamedType(definition.type) : undefined;
    const childType = namedType && isCompositeType(namedType) ? namedType : undefined;
    const child = node.selectionSet ? this.selectionSet(node.selectionSet, childType) : EMPTY;
    const page = definition ? this.pageOf(node, definition) : 1;
    let introspection = child.introspection;
    const listBit = parentType?.name.startsWith("__") ? this.introspectionBit(node.name.value) : 0;
    if (listBit !== 0) {
      if ((child.introspection & listBit) !== 0) this.introspectionCycle ??= node.name.value;
      introspection |= listBit;
    }
    return { fields: 1 + child.fields, depth: 1 + child.depth, cost: 1 + page * child.cost, width: 1, introspection };
  }

  private introspectionBit(name: string): number {
    const index = INTROSPECTION_LISTS.indexOf(name);
    return index < 0 ? 0 : 1 << index;
  }

  /** The rows a connection field asks for: `first`, else `last`, else the default page. */
  private pageOf(node: FieldNode, definition: GraphQLField<unknown, unknown>): number {
    if (!definition.args.some((argument) => argument.name === "first")) return 1;
    let first: number | undefined;
    let last: number | undefined;
    let offset: number | undefined;
    for (const argument of node.arguments ?? []) {
      if (argument.name.value === "first") first = this.intValue(argument.value);
      else if (argument.name.value === "last") last = this.intValue(argument.value);
      else if (argument.name.value === "offset") offset = this.intValue(argument.value);
    }
    // Skipped rows are read all the same: a large offset is refused like a large page.
    if (offset !== undefined && offset > (this.largestOffset?.size ?? -Infinity))
      this.largestOffset = { field: node.name.value, size: offset };
    const asked = Math.max(first ?? -Infinity, last ?? -Infinity);
    if (asked > (this.largestPage?.size ?? -Infinity)) this.largestPage = { field: node.name.value, size: asked };
    const page = first ?? last ?? this.options.defaultPageSize;
    return Math.max(page, 0);
  }

  private intValue(value: ValueNode): number | undefined {
    if (value.kind === Kind.INT) return Number(value.value);
    if (value.kind !== Kind.VARIABLE) return undefined;
    const name = value.name.value;
    const given = this.variables?.[name];
    if (given !== undefined) return typeof given === "number" && Number.isFinite(given) ? given : undefined;
    const fallback = this.variableDefaults.get(name);
    return fallback?.kind === Kind.INT ? Number(fallback.value) : undefined;
  }

  private typeNamed(name: string): GraphQLCompositeType | undefined {
    const type = this.schema.getType(name);
    return type && isCompositeType(type) ? type : undefined;
  }

  private fieldDefinition(name: string, parentType: GraphQLCompositeType | undefined) {
    if (!parentType) return undefined;
    if (parentType === this.schema.getQueryType()) {
      if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
      if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
    }
    return "getFields" in parentType ? parentType.getFields()[name] : undefined;
  }
}

function rootType(schema: GraphQLSchema, operation: OperationDefinitionNode) {
  if (operation.operation === "mutation") return schema.getMutationType() ?? undefined;
  if (operation.operation === "subscription") return schema.getSubscriptionType() ?? undefined;
  return schema.getQueryType() ?? undefined;
}

/** The operation a request executes: the named one, or the only one. */
export function selectedOperation(document: DocumentNode, operationName: string | null | undefined) {
  const operations = document.definitions.filter(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  if (operationName == null) return operations.length === 1 ? operations[0] : undefined;
  return operations.find((operation) => operation.name?.value === operationName);
}

export interface DocumentMeasure {
  /** Over every operation and fragment of the document: what validation will walk. */
  document: { fields: number; depth: number; introspectionCycle?: string };
  /** The operation the request executes, with the request's variables; absent when none is selected. */
  operation?: DocumentCost;
}

/**
 * Measures a parsed document for one request. Linear in the document's size
 * whatever its fragments expand to.
 */
export function measureDocument(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Variables,
  options: CostOptions,
): DocumentMeasure {
  const measurer = new Measurer(schema, document, variables, options);
  const selected = selectedOperation(document, operationName);
  let operation: DocumentCost | undefined;
  // The executed operation first, so the fragments it spreads are measured with its variables.
  if (selected) {
    measurer.useVariableDefaults(selected);
    const summary = measurer.selectionSet(selected.selectionSet, rootType(schema, selected));
    operation = {
      type: selected.operation,
      fields: summary.fields,
      depth: summary.depth,
      cost: summary.cost,
      rootFields: summary.width,
      ...(measurer.largestPage ? { largestPage: measurer.largestPage } : {}),
      ...(measurer.largestOffset ? { largestOffset: measurer.largestOffset } : {}),
    };
  }
  let fields = 0;
  let depth = 0;
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      const summary = measurer.fragment(definition.name.value);
      fields = Math.max(fields, summary.fields);
      depth = Math.max(depth, summary.depth);
    } else if (definition.kind === Kind.OPERATION_DEFINITION) {
      measurer.useVariableDefaults(definition);
      const summary =
        definition === selected && operation
          ? operation
          : measurer.selectionSet(definition.selectionSet, rootType(schema, definition));
      // Validation walks every operation: their fields add up.
      fields += summary.fields;
      depth = Math.max(depth, summary.depth);
    }
  }
  const cycle = measurer.introspectionCycle;
  return {
    document: { fields, depth, ...(cycle ? { introspectionCycle: cycle } : {}) },
    ...(operation ? { operation } : {}),
  };
}
