/** The GraphQL operations the simulated users send (see schema.graphql). */
const SESSION = "accessToken refreshToken user { rowId role }";
const TICKET = "rowId number status agentId customerId";

export const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { success } }`;
export const VERIFY_EMAIL = `mutation VerifyEmail($input: VerifyEmailInput!) { verifyEmail(input: $input) { ${SESSION} } }`;
export const LOGIN = `mutation Login($input: LoginInput!) { login(input: $input) { ${SESSION} } }`;
export const REFRESH = `mutation Refresh($input: RefreshSessionInput!) { refreshSession(input: $input) { ${SESSION} } }`;

export const CREATE_TICKET = `mutation CreateTicket($ticket: TicketInput!) {
  createTicket(input: { ticket: $ticket }) { ticket { ${TICKET} subject } }
}`;
export const ADD_COMMENT = `mutation AddComment($ticketId: UUID!, $body: String!, $isInternal: Boolean) {
  addComment(input: { ticketId: $ticketId, body: $body, isInternal: $isInternal }) { ticketComment { rowId ticketId authorId } }
}`;
export const TRANSITION = `mutation Transition($ticketId: UUID!, $toStatus: TicketStatus!, $note: String) {
  transitionTicket(input: { ticketId: $ticketId, toStatus: $toStatus, note: $note }) { ticket { ${TICKET} } }
}`;
export const ASSIGN = `mutation Assign($ticketId: UUID!, $agentId: UUID) {
  assignTicket(input: { ticketId: $ticketId, agentId: $agentId }) { ticket { ${TICKET} } }
}`;
export const TAKE_NEXT = `mutation TakeNext { takeNextTicket(input: {}) { ticket { ${TICKET} } } }`;

export const MY_TICKETS = `query MyTickets { tickets(first: 20, orderBy: [CREATED_AT_DESC]) { totalCount nodes { ${TICKET} subject } } }`;
export const OPEN_QUEUE = `query OpenQueue {
  tickets(first: 20, condition: { status: open }, orderBy: [PRIORITY_DESC, CREATED_AT_ASC]) { totalCount nodes { ${TICKET} } }
}`;
export const TICKET_DETAIL = `query TicketDetail($id: UUID!) {
  ticket(rowId: $id) {
    ${TICKET} subject description
    ticketComments(first: 20) { nodes { rowId body isInternal authorId createdAt } }
    ticketStatusHistories(first: 20) { nodes { fromStatus toStatus changedAt } }
  }
}`;
export const SEARCH = `query Search($q: String!) { searchTickets(query: $q, first: 10) { nodes { ${TICKET} subject } } }`;
export const CURRENT_USER = `query Me { currentUser { rowId role } }`;
export const AUDIT = `query Audit { auditLogEntries(first: 20, orderBy: [OCCURRED_AT_DESC]) { nodes { rowId tableName operation recordId } } }`;
/** A deliberately heavy read for the connection burst: nested relations over many rows. */
export const HEAVY_LIST = `query Heavy {
  tickets(first: 100, orderBy: [UPDATED_AT_DESC]) {
    totalCount
    nodes { ${TICKET} customer { displayName } ticketComments(first: 10) { totalCount nodes { body } } ticketStatusHistories { totalCount } }
  }
}`;

/** A word list for subjects, comments and searches, so full-text search finds something. */
export const WORDS = [
  "printer",
  "invoice",
  "password",
  "laptop",
  "network",
  "refund",
  "delivery",
  "account",
  "screen",
  "battery",
  "email",
  "login",
  "shipment",
  "warranty",
  "update",
  "crash",
  "slow",
  "billing",
  "license",
  "backup",
];
