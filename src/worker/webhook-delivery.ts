import http from "node:http";
import https from "node:https";
import type { JobHelpers, Task } from "graphile-worker";
import { checkWebhookUrl, guardedLookup, RefusedAddressError } from "./outbound-address.ts";
import { webhookHeaders } from "./webhook-signature.ts";

/** How deliveries are sent (docs/webhooks.md). */
export interface WebhookSettings {
  /** Refuse http:// URLs (production). */
  httpsOnly: boolean;
  /** Hosts exempt from the internal-address refusal (WEBHOOK_ALLOWED_HOSTS), lower case. */
  allowedHosts: ReadonlySet<string>;
  /** An attempt not answered by then fails (WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
}

/** At most this much of a response body is read; the rest is discarded with the connection. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

interface Attempt {
  succeeded: boolean;
  responseCode: number | null;
  latencyMs: number;
  error: string | null;
}

interface DeliveryRow {
  id: string;
  url: string;
  secret: string;
  payload: unknown;
}

/** One POST: no redirects followed (Node's client never follows them), a deadline, the body read up to a cap. */
function post(url: URL, body: string, headers: Record<string, string>, settings: WebhookSettings): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === "https:" ? https : http;
    const request = client.request(url, {
      method: "POST",
      headers: {
        ...headers,
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        "user-agent": "ticketing-webhooks/1",
      },
      lookup: guardedLookup(settings.allowedHosts),
      timeout: settings.timeoutMs,
      agent: false,
    });
    const deadline = setTimeout(
      () => request.destroy(new Error(`no answer within ${settings.timeoutMs} ms`)),
      settings.timeoutMs,
    );
    request.on("timeout", () => request.destroy(new Error(`no answer within ${settings.timeoutMs} ms`)));
    request.on("error", (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    request.on("response", (response) => {
      let received = 0;
      response.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_RESPONSE_BYTES) response.destroy();
      });
      const done = () => {
        clearTimeout(deadline);
        resolve(response.statusCode ?? 0);
      };
      response.on("end", done);
      response.on("close", done);
      response.on("error", done);
    });
    request.end(body);
  });
}

async function attempt(delivery: DeliveryRow, settings: WebhookSettings): Promise<Attempt> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  try {
    const url = new URL(delivery.url);
    checkWebhookUrl(url, settings);
    const body = JSON.stringify(delivery.payload);
    const status = await post(url, body, webhookHeaders(delivery.secret, delivery.id, body), settings);
    const succeeded = status >= 200 && status < 300;
    return { succeeded, responseCode: status, latencyMs: latency(), error: succeeded ? null : `answered ${status}` };
  } catch (error) {
    const message =
      error instanceof RefusedAddressError ? error.message : `request failed: ${(error as Error).message}`;
    return { succeeded: false, responseCode: null, latencyMs: latency(), error: message };
  }
}

/**
 * The `deliver_webhook` task: one attempt of one delivery. What to send and
 * what follows an attempt (retry, give up, disable the endpoint) are SQL's
 * (app_private.webhook_delivery_to_send, app_private.record_webhook_attempt).
 */
export function deliverWebhookTask(settings: WebhookSettings): Task {
  return async (payload: unknown, helpers: JobHelpers) => {
    const deliveryId = (payload as { deliveryId?: unknown } | null)?.deliveryId;
    if (typeof deliveryId !== "string") return;
    const { rows } = await helpers.query<DeliveryRow>(
      "select id, url, secret, payload from app_private.webhook_delivery_to_send($1)",
      [deliveryId],
    );
    const delivery = rows[0];
    if (!delivery) return;
    const result = await attempt(delivery, settings);
    const { rows: recorded } = await helpers.query<{ status: string }>(
      "select app_private.record_webhook_attempt($1, $2, $3, $4, $5) as status",
      [delivery.id, result.succeeded, result.responseCode, result.latencyMs, result.error],
    );
    helpers.logger.debug(
      `webhook delivery ${delivery.id}: ${recorded[0]?.status} (${result.error ?? result.responseCode})`,
    );
  };
}
