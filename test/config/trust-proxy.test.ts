import { describe, expect, it } from "vitest";
import { appConfigFrom } from "../../src/config/app-config.ts";
import { parseEnvironment } from "../../src/config/environment.ts";

const RESOLVED = { databaseUrl: "postgres://x@h/d", jwtSecret: "s" };

describe("TRUST_PROXY", () => {
  it.each([
    ["false", undefined],
    ["0", 0],
    ["2", 2],
    ["loopback", "loopback"],
    ["loopback, 10.0.0.0/8", "loopback, 10.0.0.0/8"],
    [" 192.0.2.10 ", "192.0.2.10"],
    ["2001:db8::/32,uniquelocal", "2001:db8::/32,uniquelocal"],
    ["10.0.0.0/255.0.0.0", "10.0.0.0/255.0.0.0"],
  ])("accepts %j", (value, expected) => {
    expect(appConfigFrom(parseEnvironment({ TRUST_PROXY: value }), RESOLVED).trustProxy).toEqual(expected);
  });

  it("is unset by default: the socket address is the client", () => {
    expect(appConfigFrom(parseEnvironment({}), RESOLVED).trustProxy).toBeUndefined();
  });

  it.each(["true", "TRUE", " true "])("refuses %j (trust any hop: every client could choose its address)", (value) => {
    expect(() => parseEnvironment({ TRUST_PROXY: value })).toThrow(
      "Invalid configuration: TRUST_PROXY must not be true (it trusts any client's X-Forwarded-For); give a hop count or the proxies' addresses",
    );
  });

  it.each(["everyone please", "everyone", "11", "10.0.0.0/33", "300.1.1.1", "loopback,", "10.0.0.1/8/8"])(
    "refuses %j with one line naming the variable",
    (value) => {
      expect(() => parseEnvironment({ TRUST_PROXY: value })).toThrow(
        "Invalid configuration: TRUST_PROXY must be a hop count (0 to 10) or a comma-separated list of proxy addresses or subnets",
      );
    },
  );
});
