import { pgSelectSingleFromRecord } from "postgraphile/@dataplan/pg";
import { access, context, lambda, sideEffect, type FieldArgs, type Step } from "postgraphile/grafast";
import { parse, type DocumentNode } from "postgraphile/graphql";
import { extendSchema, gql } from "postgraphile/utils";
import type { AccessClaims } from "../auth/access-tokens.ts";
import { authError } from "../auth/auth-errors.ts";
import { clientKey, withClientSlot } from "../auth/client-concurrency.ts";
import * as authentication from "../auth/authentication.ts";
import type { AuthenticationDependencies, AuthRequest, IssuedSession } from "../auth/authentication.ts";
import type { UserRow } from "../auth/auth-store.ts";

/**
 * The authentication mutations of DESIGN.md: register, verifyEmail, login,
 * refreshSession, logout, changePassword, requestPasswordReset,
 * resetPassword and the admin's createUser
 * (setUserRole and deactivateUser are plain SQL functions in app_public).
 *
 * Each mutation is a side effect calling auth/authentication.ts, which talks
 * to the app_private functions on the API's own connection role: the
 * request's web role (often ticketing_anonymous) may not touch app_private.
 * The `user` of each payload is the generated User type, built from the row
 * the SQL function returned rather than looked up again, because an
 * anonymous request may not read users.
 *
 * One authentication mutation per request: every one of them hashes a
 * password or touches a session, and aliases would otherwise multiply one
 * request's work (ten `register` aliases, ten accounts). The first runs; the
 * others answer TOO_MANY_AUTH_OPERATIONS without doing anything. And one
 * client address has a bounded number in flight (client-concurrency.ts).
 */
declare global {
  namespace Grafast {
    interface Context {
      /** Verified access-token claims of the request, if any (http/request-auth.ts). */
      auth?: AccessClaims;
      /**
       * Client address (honours TRUST_PROXY): from the HTTP request, or from a
       * websocket's upgrade request. Used by the authentication rate limits;
       * when unknown, all unknown clients share one limit.
       */
      clientIp?: string;
    }
  }
}

const inputAndPayloadTypes = gql`
  input RegisterInput {
    email: String!
    password: String!
    displayName: String!
  }

  input LoginInput {
    email: String!
    password: String!
  }

  input RefreshSessionInput {
    refreshToken: String!
  }

  input LogoutInput {
    refreshToken: String!
  }

  input ChangePasswordInput {
    currentPassword: String!
    newPassword: String!
  }

  input CreateUserInput {
    email: String!
    displayName: String!
    role: UserRole!
    password: String!
  }

  """
  Always the same answer, whether or not the email was free: a new account
  gets a verification link by mail (verifyEmail then signs it in); the owner
  of a taken email is told that someone tried to register with it.
  """
  type RegisterPayload {
    success: Boolean!
  }

  input VerifyEmailInput {
    "The token of the mailed verification link."
    token: String!
  }

  """
  A new session: a short-lived access token (send it as a Bearer token) and a
  single-use refresh token (exchange it with refreshSession before the access
  token expires).
  """
  type VerifyEmailPayload {
    accessToken: String!
    refreshToken: String!
    accessTokenExpiresAt: Datetime!
    user: User
  }

  """
  A new session; see VerifyEmailPayload.
  """
  type LoginPayload {
    accessToken: String!
    refreshToken: String!
    accessTokenExpiresAt: Datetime!
    user: User
  }

  """
  The next tokens of the session; the refresh token given in is now used up.
  """
  type RefreshSessionPayload {
    accessToken: String!
    refreshToken: String!
    accessTokenExpiresAt: Datetime!
    user: User
  }

  type LogoutPayload {
    success: Boolean!
  }

  type ChangePasswordPayload {
    user: User
  }

  type CreateUserPayload {
    user: User
  }

  input RequestPasswordResetInput {
    email: String!
  }

  """
  Always the same answer, whether or not the email has an account: when it
  has one, a reset link (valid 30 minutes, usable once) is on its way.
  """
  type RequestPasswordResetPayload {
    success: Boolean!
  }

  input ResetPasswordInput {
    "The token of the mailed link."
    token: String!
    newPassword: String!
  }

  type ResetPasswordPayload {
    success: Boolean!
  }

  input RequestEmailChangeInput {
    newEmail: String!
    currentPassword: String!
  }

  """
  A verification link is on its way to the new address (the email changes
  when verifyEmail follows it) and a notice to the old one. An address held by
  another account is answered the same, with nothing sent.
  """
  type RequestEmailChangePayload {
    success: Boolean!
  }

`;

/** Requests (by their GraphQL context) that already ran an authentication mutation. */
const contextsWithAuthOperation = new WeakSet<object>();

/** Claims the request's one authentication mutation; refuses a second one. */
function claimAuthOperation(graphqlContext: object): void {
  if (contextsWithAuthOperation.has(graphqlContext)) throw authError("TOO_MANY_AUTH_OPERATIONS");
  contextsWithAuthOperation.add(graphqlContext);
}

/** A flow of auth/authentication.ts: `(deps, input, request)`. */
type Flow<TResult> = (deps: AuthenticationDependencies, input: never, request: AuthRequest) => Promise<TResult>;

/** One authentication mutation, `name(input: NameInput!): NamePayload`. */
interface AuthMutation {
  flow: Flow<unknown>;
  /**
   * How its payload is made: `session` and `user` payloads from what the flow
   * returns (their `user` fields below), `success` payloads say only that the
   * flow finished.
   */
  payload: "session" | "user" | "success";
  /** The field's description in the schema. */
  description: string;
}

/** The mutations, each with its flow and documentation. */
const MUTATIONS: Record<string, AuthMutation> = {
  register: {
    flow: authentication.register,
    payload: "success",
    description:
      "Creates a customer account, unverified until the mailed link is followed (verifyEmail). The answer does not tell whether the email was taken.",
  },
  verifyEmail: {
    flow: authentication.verifyEmail,
    payload: "session",
    description:
      "Proves the address with the token of a verification link and signs the account in. The link works once.",
  },
  login: {
    flow: authentication.login,
    payload: "session",
    description: "Signs in with email and password. Unknown email and wrong password give the same error.",
  },
  refreshSession: {
    flow: authentication.refreshSession,
    payload: "session",
    description: "Exchanges a refresh token for new tokens. Reusing a refresh token ends its whole session.",
  },
  logout: {
    flow: authentication.logout,
    payload: "success",
    description: "Ends the session of the refresh token.",
  },
  changePassword: {
    flow: authentication.changePassword,
    payload: "user",
    description: "Changes the signed-in user's password; their other sessions end.",
  },
  createUser: {
    flow: authentication.createUser,
    payload: "user",
    description: "Admins: creates a user with any role.",
  },
  requestPasswordReset: {
    flow: authentication.requestPasswordReset,
    payload: "success",
    description:
      "Mails a password reset link to the account with this email, if there is one; the answer is the same either way.",
  },
  requestEmailChange: {
    flow: authentication.requestEmailChange,
    payload: "success",
    description:
      "Asks to change the signed-in user's email (current password required); the new address must be verified with the mailed link.",
  },
  resetPassword: {
    flow: authentication.resetPassword,
    payload: "success",
    description:
      "Sets a new password with the token of a reset link: the link is used up, every session of the account ends and its lockout is cleared.",
  },
};

/**
 * The plan of one mutation: a side effect that is the request's one
 * authentication mutation, running the flow with the field's input, the
 * verified claims and the client address.
 */
function authMutationPlan(deps: AuthenticationDependencies, { flow, payload }: AuthMutation) {
  return (_$root: Step, fieldArgs: FieldArgs): Step => {
    const $context = context();
    const $result = sideEffect(
      [fieldArgs.getRaw("input"), $context, $context.get("auth"), $context.get("clientIp")],
      ([input, graphqlContext, auth, ip]) => {
        claimAuthOperation(graphqlContext);
        return withClientSlot(clientKey(ip), () => flow(deps, input as never, { auth, ip }));
      },
    );
    return payload === "success" ? lambda($result, () => ({ success: true }), true) : $result;
  };
}

/** `extend type Mutation { … }` with one field per entry of MUTATIONS. */
function mutationFields(): DocumentNode {
  const fields = Object.entries(MUTATIONS).map(([name, { description }]) => {
    const type = name[0]!.toUpperCase() + name.slice(1);
    return `${JSON.stringify(description)} ${name}(input: ${type}Input!): ${type}Payload`;
  });
  return parse(`extend type Mutation {\n${fields.join("\n")}\n}`);
}

export function authenticationPlugin(deps: AuthenticationDependencies): GraphileConfig.Plugin {
  return extendSchema((build) => {
    const users = build.input.pgRegistry.pgResources.users;
    if (!users) throw new Error("authenticationPlugin needs the app_public.users table");
    // The row (JSON keyed by column) is re-encoded as a record literal: no RLS-filtered lookup.
    const userFrom = ($row: Step<UserRow>) => pgSelectSingleFromRecord(users, $row);
    const userOfSession = ($session: Step<IssuedSession>) => userFrom(access($session, "userRecord"));

    return {
      typeDefs: [inputAndPayloadTypes, mutationFields()],
      objects: {
        Mutation: {
          plans: Object.fromEntries(
            Object.entries(MUTATIONS).map(([name, mutation]) => [name, authMutationPlan(deps, mutation)]),
          ),
        },
        VerifyEmailPayload: { plans: { user: userOfSession } },
        LoginPayload: { plans: { user: userOfSession } },
        RefreshSessionPayload: { plans: { user: userOfSession } },
        ChangePasswordPayload: { plans: { user: userFrom } },
        CreateUserPayload: { plans: { user: userFrom } },
      },
    };
  }, "TicketingAuthenticationPlugin");
}
