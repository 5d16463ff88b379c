import { pino, type Logger } from "pino";

export type { Logger };

/**
 * Structured JSON logs, secrets redacted by path: on standard output for the
 * server, on standard error for commands whose standard output is their result.
 */
export function createLogger(level: string, stream: "stdout" | "stderr" = "stdout"): Logger {
  const options = {
    level,
    base: { service: "ticketing-api" },
    redact: {
      paths: ["req.headers.authorization", "req.headers.cookie", "*.password", "*.refreshToken", "*.accessToken"],
      censor: "[redacted]",
    },
  };
  return stream === "stdout" ? pino(options) : pino(options, pino.destination({ dest: 2, sync: true }));
}
