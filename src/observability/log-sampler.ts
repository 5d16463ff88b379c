import type { Logger } from "./logger.ts";

/**
 * Warnings that a client can cause at will (refused documents, unknown
 * trusted-document ids) are written at most `perWindow` times per kind in
 * each window; the rest are counted and reported as one line when the next
 * window opens. An abuse flood therefore writes a few lines a minute, not
 * megabytes.
 */
export interface LogSamplerOptions {
  perWindow?: number;
  windowMs?: number;
  now?: () => number;
}

export interface LogSampler {
  warn(kind: string, fields: Record<string, unknown>, message: string): void;
}

interface Window {
  startedAt: number;
  written: number;
  suppressed: number;
}

export function createLogSampler(logger: Logger, options: LogSamplerOptions = {}): LogSampler {
  const perWindow = options.perWindow ?? 10;
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  // One entry per kind; kinds are fixed strings of the code, so this stays small.
  const windows = new Map<string, Window>();
  return {
    warn(kind, fields, message) {
      const time = now();
      let window = windows.get(kind);
      if (!window || time - window.startedAt >= windowMs) {
        if (window && window.suppressed > 0) {
          logger.warn(
            { kind, suppressed: window.suppressed, windowSeconds: windowMs / 1000 },
            "similar warnings suppressed",
          );
        }
        window = { startedAt: time, written: 0, suppressed: 0 };
        windows.set(kind, window);
      }
      if (window.written < perWindow) {
        window.written++;
        logger.warn({ kind, ...fields }, message);
      } else {
        window.suppressed++;
      }
    },
  };
}
