import autocannon from "autocannon";

/** One fixed-time, fixed-concurrency load run against one endpoint. */
export interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  requests: number;
  /** Transport errors, timeouts, non-2xx answers, and 200 answers carrying `errors` (GraphQL) or `error` (ceiling). */
  failures: number;
  /** CPU ms per request of the server process and of PostgreSQL during the run (processes.ts), when measured. */
  cpu?: { serverMsPerRequest: number; databaseMsPerRequest?: number };
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  /** Builds each request: its body and extra headers. */
  next: () => { body: string; headers?: Record<string, string> };
  headers: Record<string, string>;
}

/** A GraphQL error still comes back as 200; both servers name failures at the top of the body. */
const FAILED_BODY = /^\{"(errors|error)"|,"errors":\[/;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  let failedBodies = 0;
  const result = await autocannon({
    url: options.url,
    method: "POST",
    connections: options.connections,
    duration: options.durationSeconds,
    headers: { "content-type": "application/json", ...options.headers },
    requests: [
      {
        setupRequest: (request) => {
          const { body, headers } = options.next();
          return { ...request, body, headers: { ...request.headers, ...headers } };
        },
        onResponse: (status, body) => {
          if (status < 300 && FAILED_BODY.test(body)) failedBodies += 1;
        },
      },
    ],
  });
  return {
    requestsPerSecond: Math.round(result.requests.average * 10) / 10,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    failures: result.errors + result.timeouts + result.non2xx + failedBodies,
  };
}
