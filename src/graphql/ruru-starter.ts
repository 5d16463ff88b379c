/**
 * What Ruru (GraphiQL at /graphiql, development only) shows on first open:
 * how to sign in and send the token, and a first query. docs/frontend.md has
 * the full set of operations.
 */
export const RURU_STARTER_QUERY = `# Helpdesk API — see docs/frontend.md for every operation a portal or console needs.
#
# 1. Sign in: run Login below (npm start prints the demo logins and their
#    password), copy
#    the accessToken from the result.
# 2. Open the "Headers" tab at the bottom and add
#      { "Authorization": "Bearer <accessToken>" }
#    Without it you are anonymous and see no tickets; a wrong or expired
#    token is answered with HTTP 401 UNAUTHENTICATED (remove the header or
#    sign in again).
# 3. Run MyTickets. Ctrl+Space completes fields; the Docs button lists all.

mutation Login {
  login(input: { email: "carol@demo.test", password: "<demo password>" }) {
    accessToken
    accessTokenExpiresAt
    refreshToken
    user { displayName role }
  }
}

query MyTickets {
  tickets(first: 10, orderBy: CREATED_AT_DESC) {
    totalCount
    nodes { number subject status priority createdAt }
  }
}
`;

type RuruConfig = NonNullable<GraphileConfig.Preset["ruru"]>;

export const RURU_CONFIG: RuruConfig = {
  // Ruru's client props are declared all-required though each is optional.
  clientConfig: { defaultQuery: RURU_STARTER_QUERY } as NonNullable<RuruConfig["clientConfig"]>,
};
