import type { Client, SubscribePayload } from "graphql-ws";

export interface WsResult {
  data?: Record<string, any> | null;
  errors?: readonly any[];
}

/**
 * One GraphQL operation over a graphql-ws client, answered as HTTP would:
 * its result, or the errors a refused operation is answered with.
 */
export function wsRequest(client: Client, payload: SubscribePayload & Record<string, unknown>): Promise<WsResult> {
  return new Promise((resolve) => {
    let result: WsResult = {};
    client.subscribe(payload, {
      next: (value) => (result = value as WsResult),
      error: (error) => resolve({ errors: Array.isArray(error) ? error : [error] }),
      complete: () => resolve(result),
    });
  });
}
