/** Builds and reads the postgres:// URLs the project passes around. */
export interface DatabaseUrls {
  /** Superuser (or CREATEROLE + CREATEDB) connection for set-up only. */
  root: string;
  /** `ticketing_owner`: migrations. */
  owner: string;
  /** `ticketing_authenticator`: the API. */
  authenticator: string;
}

export function buildUrl(options: {
  user: string;
  password?: string;
  host: string;
  port: number;
  database: string;
}): string {
  const url = new URL("postgres://localhost");
  url.username = options.user;
  if (options.password) url.password = options.password;
  url.hostname = options.host;
  url.port = String(options.port);
  url.pathname = `/${options.database}`;
  return url.toString();
}

/** The same server and credentials, another database. */
export function withDatabase(connectionString: string, database: string): string {
  const url = new URL(connectionString);
  url.pathname = `/${database}`;
  return url.toString();
}

export function databaseName(connectionString: string): string {
  return decodeURIComponent(new URL(connectionString).pathname.slice(1));
}

export function userName(connectionString: string): string {
  return decodeURIComponent(new URL(connectionString).username);
}

export function password(connectionString: string): string | undefined {
  const value = new URL(connectionString).password;
  return value ? decodeURIComponent(value) : undefined;
}
