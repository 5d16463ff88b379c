import { afterEach, describe, expect, it } from "vitest";
import type { TestProject } from "vitest/node";
import setup, { RESETS_ROLES_OPT_IN } from "../support/global-setup.ts";

/**
 * The suite on a server of your own (TEST_DATABASE_URL) resets cluster-wide
 * role passwords, so it refuses to start without the explicit opt-in, before
 * connecting anywhere.
 */
const saved = { url: process.env.TEST_DATABASE_URL, optIn: process.env[RESETS_ROLES_OPT_IN] };

afterEach(() => {
  for (const [name, value] of [
    ["TEST_DATABASE_URL", saved.url],
    [RESETS_ROLES_OPT_IN, saved.optIn],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe("TEST_DATABASE_URL", () => {
  it.each([undefined, "", "yes", "true"])(
    "without %j as the opt-in, refuses and says what it would change",
    async (optIn) => {
      // Port 9 (discard) on this machine: nothing may be contacted before the refusal.
      process.env.TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:9/postgres";
      if (optIn === undefined) delete process.env[RESETS_ROLES_OPT_IN];
      else process.env[RESETS_ROLES_OPT_IN] = optIn;
      const project = { provide: () => expect.fail("set-up went on past the refusal") } as unknown as TestProject;
      await expect(setup(project)).rejects.toThrow(
        /passwords of the cluster-wide roles ticketing_owner and ticketing_authenticator.*TEST_DATABASE_RESETS_ROLES=1/,
      );
    },
  );
});
