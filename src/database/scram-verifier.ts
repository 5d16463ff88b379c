import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

/**
 * The SCRAM-SHA-256 verifier PostgreSQL stores for a password (RFC 5802 and
 * RFC 7677), computed here so that `CREATE/ALTER ROLE … PASSWORD` receives
 * the verifier, never the password: the clear text then never reaches the
 * server's statement log (log_statement = ddl logs the whole statement),
 * pg_stat_activity or a replica. PostgreSQL recognises the format and
 * stores it as given; logging in with the password works as usual.
 *
 * PostgreSQL normalises the password with SASLprep before hashing; for the
 * generated ASCII passwords this project uses, NFKC is the same thing.
 */
export const SCRAM_ITERATIONS = 4096;

export function scramVerifier(password: string, iterations = SCRAM_ITERATIONS): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}
