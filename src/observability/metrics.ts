import client from "prom-client";
import type pg from "pg";

/**
 * Prometheus metrics of one API instance. Each instance owns its registry, so
 * several servers in one process (as in the tests) never collide.
 */
export interface Metrics {
  registry: client.Registry;
  httpRequestDuration: client.Histogram<"method" | "route" | "status">;
  graphqlOperations: client.Counter<"operation_name" | "operation_type" | "outcome">;
  /** Open GraphQL subscriptions (websocket streams) of this instance. */
  activeSubscriptions: client.Gauge;
}

export function createMetrics(): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequestDuration: new client.Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration by route and status code.",
      labelNames: ["method", "route", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    graphqlOperations: new client.Counter({
      name: "graphql_operations_total",
      help: "GraphQL operations by operation name, type and outcome (success, error, invalid).",
      labelNames: ["operation_name", "operation_type", "outcome"],
      registers: [registry],
    }),
    activeSubscriptions: new client.Gauge({
      name: "graphql_subscriptions_active",
      help: "GraphQL subscriptions currently open over websockets.",
      registers: [registry],
    }),
  };
}

/** Pool gauges are read at scrape time rather than tracked on every checkout. */
export function registerPoolMetrics(metrics: Metrics, pool: pg.Pool): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new client.Gauge({
      name,
      help,
      registers: [metrics.registry],
      collect() {
        this.set(read());
      },
    });
  gauge("pg_pool_connections_total", "Connections open in the API's pg pool.", () => pool.totalCount);
  gauge("pg_pool_connections_idle", "Idle connections in the API's pg pool.", () => pool.idleCount);
  gauge("pg_pool_clients_waiting", "Requests waiting for a pg pool connection.", () => pool.waitingCount);
}
