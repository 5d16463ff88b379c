/**
 * A GraphQL plugin of this project: named `Ticketing<name>Plugin` (the name
 * Graphile's logs and errors show) and versioned with the API it ships in,
 * never on its own.
 */
export function projectPlugin(
  name: string,
  plugin: Omit<GraphileConfig.Plugin, "name" | "version">,
): GraphileConfig.Plugin {
  return { name: `Ticketing${name}Plugin`, version: "1.0.0", ...plugin };
}
