import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";

/**
 * Preloaded into a child process (`node --import`): records every module
 * specifier the process resolves and writes the list, one per line, to
 * IMPORT_RECORD_FILE when the process exits. Shows what a command loaded
 * before it stopped, without timing it.
 */
const target = process.env.IMPORT_RECORD_FILE;
const specifiers = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    specifiers.add(specifier);
    return nextResolve(specifier, context);
  },
});
process.on("exit", () => {
  if (target) writeFileSync(target, [...specifiers].join("\n"));
});
