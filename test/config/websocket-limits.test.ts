import { describe, expect, it } from "vitest";
import { appConfigFrom } from "../../src/config/app-config.ts";
import { parseEnvironment } from "../../src/config/environment.ts";

const resolved = { databaseUrl: "postgres://x@h/d", jwtSecret: "s" };

describe("WS_* websocket limits", () => {
  it("are read in seconds and counts, and only those set override the defaults", () => {
    const config = appConfigFrom(
      parseEnvironment({
        WS_CONNECTION_INIT_TIMEOUT_SECONDS: "5",
        WS_UNAUTHENTICATED_IDLE_SECONDS: "30",
        WS_MAX_SOCKETS_PER_ADDRESS: "200",
        WS_MAX_SUBSCRIPTIONS_PER_USER: "40",
        WS_MESSAGES_PER_SECOND: "50",
      }),
      resolved,
    );
    expect(config.websocketLimits).toEqual({
      connectionInitTimeoutMs: 5_000,
      unauthenticatedIdleMs: 30_000,
      maxSocketsPerAddress: 200,
      maxSubscriptionsPerUser: 40,
      messagesPerSecond: 50,
    });
    expect(appConfigFrom(parseEnvironment({}), resolved).websocketLimits).toEqual({});
  });

  it.each([
    ["WS_CONNECTION_INIT_TIMEOUT_SECONDS", "0"],
    ["WS_UNAUTHENTICATED_IDLE_SECONDS", "forever"],
    ["WS_MAX_SOCKETS_PER_ADDRESS", "-1"],
    ["WS_MAX_SUBSCRIPTIONS_PER_USER", "1.5"],
    ["WS_MESSAGES_PER_SECOND", "0"],
  ])("refuses %s=%s with one line naming it", (variable, value) => {
    expect(() => parseEnvironment({ [variable]: value })).toThrow(new RegExp(`^Invalid configuration: ${variable} `));
  });
});
