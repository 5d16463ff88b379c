import type { NextFunction, Request, Response } from "express";
import type { Logger } from "../observability/logger.ts";

/**
 * The last two handlers of the app: unknown paths get a 404, and errors
 * thrown by middleware (oversized or malformed bodies, bugs) get a short JSON
 * answer. Client errors keep their status; anything else is a 500 whose
 * details stay in the log.
 */
export function notFound(_req: Request, res: Response): void {
  res.status(404).json({ errors: [{ message: "Not found", extensions: { code: "NOT_FOUND" } }] });
}

const CLIENT_ERROR_MESSAGES: Record<number, { message: string; code: string }> = {
  400: { message: "Malformed request body", code: "BAD_REQUEST" },
  413: { message: "Request body too large", code: "PAYLOAD_TOO_LARGE" },
  415: { message: "Unsupported content type", code: "UNSUPPORTED_MEDIA_TYPE" },
};

export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const status = (error as { status?: unknown }).status;
    const clientError = typeof status === "number" ? CLIENT_ERROR_MESSAGES[status] : undefined;
    if (clientError && typeof status === "number") {
      res.status(status).json({ errors: [{ message: clientError.message, extensions: { code: clientError.code } }] });
      return;
    }
    logger.error({ err: error, requestId: req.id }, "unhandled HTTP error");
    if (res.headersSent) return;
    res
      .status(500)
      .json({ errors: [{ message: "Internal server error", extensions: { code: "INTERNAL_SERVER_ERROR" } }] });
  };
}
