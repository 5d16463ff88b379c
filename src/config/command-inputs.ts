import { ConfigurationError, parseEnvironment, type Environment } from "./environment.ts";

/**
 * What each command needs from the environment, and nothing more: a
 * migration job holds the owner's URL, not the API's credentials. Outside
 * production a missing database URL means the local embedded database; in
 * production there is none, so the command's URLs are required.
 */
type Variable = keyof Environment;

interface Inputs {
  /** Required whatever NODE_ENV says. */
  always?: Variable[];
  /** Required when NODE_ENV=production. */
  production?: Variable[];
}

export const COMMAND_INPUTS = {
  start: { production: ["DATABASE_URL", "JWT_SECRET"] },
  "db:migrate": { production: ["DATABASE_OWNER_URL"] },
  "db:maintain": { production: ["DATABASE_OWNER_URL"] },
  worker: { production: ["DATABASE_OWNER_URL"] },
  "db:setup": { always: ["ROOT_DATABASE_URL", "DATABASE_OWNER_URL", "DATABASE_URL"] },
  "db:dev": { production: ["DATABASE_OWNER_URL", "ROOT_DATABASE_URL"] },
  "user:create": { production: ["DATABASE_OWNER_URL"] },
  "analyst:create": { production: ["ROOT_DATABASE_URL"] },
  "analyst:drop": { production: ["ROOT_DATABASE_URL"] },
  "mail:list": {},
} satisfies Record<string, Inputs>;

export type Command = keyof typeof COMMAND_INPUTS;

/** The validated environment of one command; a missing input stops it with one line naming the variable. */
export function environmentFor(command: Command, source: NodeJS.ProcessEnv = process.env): Environment {
  const environment = parseEnvironment(source);
  const inputs: Inputs = COMMAND_INPUTS[command];
  for (const variable of inputs.always ?? []) {
    if (environment[variable] === undefined) {
      throw new ConfigurationError(`Invalid configuration: ${variable} is required by ${command}`);
    }
  }
  if (environment.NODE_ENV === "production") {
    for (const variable of inputs.production ?? []) {
      if (environment[variable] === undefined) {
        throw new ConfigurationError(`Invalid configuration: ${variable} is required in production`);
      }
    }
  }
  return environment;
}
