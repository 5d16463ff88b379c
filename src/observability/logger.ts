import { pino, type Logger } from "pino";

export type { Logger };

/** Structured JSON logs on standard output; secrets are redacted by path. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "ticketing-api" },
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers.cookie",
        "*.password",
        "*.refreshToken",
        "*.accessToken",
      ],
      censor: "[redacted]",
    },
  });
}
