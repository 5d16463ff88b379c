import argon2 from "argon2";
import { describe, expect, it, vi } from "vitest";
import { passwordWeakness } from "../../src/auth/password-policy.ts";
import {
  currentHashOptions,
  FAST_HASH_OPTIONS,
  HASH_OPTIONS,
  hashPassword,
  needsRehash,
  verifyPassword,
} from "../../src/auth/passwords.ts";
import { digestRefreshToken, isWellFormedRefreshToken, newRefreshToken } from "../../src/auth/refresh-tokens.ts";
import { createUserAccount } from "../../src/auth/auth-store.ts";
import { useTestDatabase } from "../support/test-database.ts";
import { useStandardPasswordHashing } from "../support/password-hashing.ts";
import { useTestApi } from "../support/test-api.ts";
import { login } from "./auth-helpers.ts";

const database = useTestDatabase();
const api = useTestApi(database);

describe("argon2id hashing", () => {
  useStandardPasswordHashing();

  it("uses argon2id at or above OWASP's parameters", async () => {
    expect(HASH_OPTIONS.memoryCost).toBeGreaterThanOrEqual(19_456);
    expect(HASH_OPTIONS.timeCost).toBeGreaterThanOrEqual(2);
    const hash = await hashPassword("correct horse battery staple");
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=65536,p=1,t=3\$/);
    expect(await verifyPassword(hash, "correct horse battery staple")).toBe(true);
    expect(await verifyPassword(hash, "correct horse battery staplE")).toBe(false);
    expect(await verifyPassword("not a hash", "anything")).toBe(false);
  });

  it("uses the fast test parameters only when asked and never in production", () => {
    expect(currentHashOptions()).toBe(HASH_OPTIONS);
    vi.stubEnv("PASSWORD_HASHING", "fast");
    expect(currentHashOptions()).toBe(FAST_HASH_OPTIONS);
    vi.stubEnv("NODE_ENV", "production");
    expect(currentHashOptions()).toBe(HASH_OPTIONS);
    vi.stubEnv("NODE_ENV", "test");
    vi.stubEnv("PASSWORD_HASHING", "standard");
  });

  it("treats compatible Unicode forms of a password alike (NFKC)", async () => {
    const hash = await hashPassword("caf\u00e9-au-lait-please");
    expect(await verifyPassword(hash, "cafe\u0301-au-lait-please")).toBe(true);
  });

  it("flags hashes made with weaker parameters for rehashing", async () => {
    const old = await argon2.hash("correct horse battery staple", {
      type: argon2.argon2id,
      memoryCost: 19_456,
      timeCost: 2,
      parallelism: 1,
    });
    expect(needsRehash(old)).toBe(true);
    expect(needsRehash(await hashPassword("a-current-passphrase-1"))).toBe(false);
  });

  it("upgrades an old hash at the next successful login", async () => {
    const old = await argon2.hash("an-old-but-fine-passphrase", {
      type: argon2.argon2id,
      memoryCost: 19_456,
      timeCost: 2,
      parallelism: 1,
    });
    const { id } = await createUserAccount(database.current.owner, {
      email: "legacy@example.com",
      displayName: "Legacy",
      role: "customer",
      passwordHash: old,
    });
    const response = await login(api.current.request, "legacy@example.com", "an-old-but-fine-passphrase");
    expect(response.body.errors).toBeUndefined();
    const { rows } = await database.current.owner.query(
      "select password_hash from app_private.user_accounts where user_id = $1",
      [id],
    );
    expect(rows[0].password_hash).toMatch(/^\$argon2id\$v=19\$m=65536,p=1,t=3\$/);
    expect(
      (await login(api.current.request, "legacy@example.com", "an-old-but-fine-passphrase")).body.errors,
    ).toBeUndefined();
  });
});

describe("password policy", () => {
  it.each([
    ["a-perfectly-fine-passphrase", undefined],
    ["tr0ub4dor&3-xyzzy", undefined],
    ["short-pass", "Password must be at least 12 characters"],
    ["\u{1F600}".repeat(11), "Password must be at least 12 characters"],
    ["x".repeat(257), "Password must be at most 256 characters"],
    ["\u{1F600}".repeat(256), undefined],
    ["PASSWORD123456", "Password is too common"],
    ["!!Sunshine2026!!", "Password is too common"],
    ["correcthorsebatterystaple", "Password is too common"],
    ["i-am-jane.doe-forever", "Password must not contain the email address"],
  ])("%j -> %s", (password, expected) => {
    expect(passwordWeakness(password, "Jane.Doe@example.com")).toBe(expected);
  });

  it("ignores very short local parts", () => {
    expect(passwordWeakness("a-perfectly-fine-passphrase", "a@example.com")).toBeUndefined();
  });
});

describe("refresh tokens", () => {
  it("are 256 random bits in base64url, stored as SHA-256", () => {
    const { token, digest } = newRefreshToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(digest).toEqual(digestRefreshToken(token));
    expect(digest).toHaveLength(32);
    expect(newRefreshToken().token).not.toBe(token);
    expect(isWellFormedRefreshToken(token)).toBe(true);
    expect(isWellFormedRefreshToken(`${token}=`)).toBe(false);
  });
});
