/**
 * Every HTTP request the soak makes goes through `send`, which times it and
 * classifies the answer. The samples feed the report (error rate and latency
 * over time) and the "no 5xx outside fault windows" check.
 */
export type Outcome =
  /** 2xx and, for GraphQL, no errors. */
  | "ok"
  /** An answer the client expected may happen: a 4xx, or a GraphQL domain error (INVALID_TRANSITION, ...). */
  | "rejected"
  /** 503 SERVICE_UNAVAILABLE, SERVICE_BUSY or REQUEST_TIMEOUT: the database is away, saturated or hung. */
  | "unavailable"
  /** Any other 5xx, or a 200 carrying INTERNAL_SERVER_ERROR. */
  | "server_error"
  /** No HTTP answer at all: refused, reset, timed out. */
  | "network";

export interface Sample {
  /** Milliseconds since the run began. */
  start: number;
  end: number;
  op: string;
  status: number;
  outcome: Outcome;
  code?: string;
  /** The first error message of an answer that was not ok, for the report's examples. */
  message?: string;
}

export interface Answer {
  status: number;
  outcome: Outcome;
  body: unknown;
  headers: Headers | undefined;
  /** The first GraphQL error code, if any. */
  code?: string;
}

export const REQUEST_TIMEOUT_MS = 15_000;

export class Traffic {
  readonly samples: Sample[] = [];
  readonly origin: number;
  baseUrl: string;

  constructor(baseUrl: string, origin = Date.now()) {
    this.baseUrl = baseUrl;
    this.origin = origin;
  }

  now(): number {
    return Date.now() - this.origin;
  }

  /** POSTs a GraphQL operation as the given client (IP and token). */
  graphql(
    op: string,
    query: string,
    variables: Record<string, unknown>,
    client: { ip: string; token?: string | undefined },
  ): Promise<Answer> {
    const headers: Record<string, string> = { "Content-Type": "application/json", "X-Forwarded-For": client.ip };
    if (client.token) headers.Authorization = `Bearer ${client.token}`;
    return this.send(op, "/graphql", { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  }

  async send(op: string, path: string, init: RequestInit): Promise<Answer> {
    const start = this.now();
    let answer: Answer;
    try {
      const response = await fetch(this.baseUrl + path, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      answer = classify(response.status, body, response.headers);
    } catch {
      answer = { status: 0, outcome: "network", body: undefined, headers: undefined };
    }
    const sample: Sample = { start, end: this.now(), op, status: answer.status, outcome: answer.outcome };
    if (answer.code) sample.code = answer.code;
    if (answer.outcome !== "ok") {
      const message = (answer.body as { errors?: { message?: unknown }[] } | undefined)?.errors?.[0]?.message;
      if (typeof message === "string") sample.message = message.slice(0, 200);
    }
    this.samples.push(sample);
    return answer;
  }
}

function firstErrorCode(body: unknown): string | undefined {
  const errors = (body as { errors?: { extensions?: { code?: unknown } }[] } | undefined)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const code = errors[0]?.extensions?.code;
  return typeof code === "string" ? code : "UNKNOWN";
}

/** The answers of an API that cannot serve right now (docs/security.md, "Time and connections"). */
const UNAVAILABLE_CODES = new Set(["SERVICE_UNAVAILABLE", "SERVICE_BUSY", "REQUEST_TIMEOUT"]);

function classify(status: number, body: unknown, headers: Headers): Answer {
  const code = typeof body === "object" && body !== null ? firstErrorCode(body) : undefined;
  const base = { status, body, headers, ...(code ? { code } : {}) };
  if (status === 503 && code !== undefined && UNAVAILABLE_CODES.has(code)) return { ...base, outcome: "unavailable" };
  if (status >= 500) return { ...base, outcome: "server_error" };
  if (status >= 400) return { ...base, outcome: "rejected" };
  // A 200 whose error carries no code was not produced by the error mask.
  if (code === "INTERNAL_SERVER_ERROR" || code === "UNKNOWN") return { ...base, outcome: "server_error" };
  if (code === "SERVICE_UNAVAILABLE") return { ...base, outcome: "unavailable" };
  if (status >= 400 || code) return { ...base, outcome: "rejected" };
  return { ...base, outcome: "ok" };
}
