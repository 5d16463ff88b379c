import { ConfigurationError } from "../config/environment.ts";
import { createLogger, type Logger } from "../observability/logger.ts";

/**
 * Runs a command-line entry point: a configuration error (or any other
 * expected failure) prints one line and exits non-zero, without a stack trace.
 */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${error instanceof ConfigurationError ? "" : "Error: "}${message}\n`);
    if (process.env.DEBUG_STACK === "1" && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    process.exit(error instanceof ConfigurationError ? 2 : 1);
  }
}

/** A command's log: on standard error, so that standard output carries only its result. */
export function commandLogger(level: string): Logger {
  return createLogger(level, "stderr");
}
