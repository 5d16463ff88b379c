import { describe, expect, it } from "vitest";
import { appConfigFrom } from "../../src/config/app-config.ts";
import { parseEnvironment } from "../../src/config/environment.ts";

describe("TRUST_PROXY", () => {
  it.each([
    ["true", true],
    ["false", false],
    ["2", 2],
    ["loopback", "loopback"],
    ["loopback, 10.0.0.0/8", "loopback, 10.0.0.0/8"],
  ])("accepts %j", (value, expected) => {
    const environment = parseEnvironment({ TRUST_PROXY: value });
    expect(appConfigFrom(environment, { databaseUrl: "postgres://x@h/d", jwtSecret: "s" }).trustProxy).toEqual(expected);
  });

  it("is unset by default: the socket address is the client", () => {
    expect(appConfigFrom(parseEnvironment({}), { databaseUrl: "postgres://x@h/d", jwtSecret: "s" }).trustProxy).toBeUndefined();
  });

  it("refuses anything else with one line naming the variable", () => {
    expect(() => parseEnvironment({ TRUST_PROXY: "everyone please" })).toThrow(
      "Invalid configuration: TRUST_PROXY must be true, false, a hop count or a list of addresses",
    );
  });
});
