import type { UserRole } from "../src/auth/auth-store.ts";
import type { Journal } from "./journal.ts";
import * as op from "./operations.ts";
import type { Random } from "./random.ts";
import { SOAK_PASSWORD } from "./setup.ts";
import type { Answer, Traffic } from "./traffic.ts";

/**
 * Simulated customers, agents and admins. Each runs a loop of realistic
 * steps over the real HTTP API with its own seeded random source and its
 * own forwarded IP (the soak's API trusts X-Forwarded-For from loopback),
 * signs in once and afterwards only refreshes its session, and journals
 * every mutation the API acknowledged.
 */
export interface World {
  traffic: Traffic;
  journal: Journal;
  /** Tickets whose creation was acknowledged, for admins to pick from. */
  tickets: string[];
  agentIds: string[];
  /** Milliseconds (run clock) at which actors stop starting new steps. */
  stopAt: number;
  /** Run-wide counters of session events. */
  sessions: { logins: number; registrations: number; refreshes: number; relogins: number };
  /** The token of the newest verification link mailed to an address (read from the outbox as the owner). */
  verificationToken(email: string): Promise<string | undefined>;
}

interface Session {
  userId: string;
  token: string;
  refreshToken: string;
}

type Status = "open" | "in_progress" | "waiting_on_customer" | "resolved" | "closed";

interface TicketView {
  rowId: string;
  status: string;
  agentId: string | null;
  customerId: string;
}

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

function data<T>(answer: Answer, field: string): T | undefined {
  if (answer.outcome !== "ok") return undefined;
  return ((answer.body as { data?: Record<string, unknown> }).data?.[field] ?? undefined) as T | undefined;
}

const toEnum = (status: string) => status;
const fromEnum = (status: string) => status as Status;

export abstract class Actor {
  protected session: Session | undefined;
  protected seq = 0;
  readonly ip: string;

  readonly name: string;
  readonly role: UserRole;
  readonly email: string;
  protected readonly rng: Random;
  protected readonly world: World;

  constructor(name: string, role: UserRole, email: string, index: number, rng: Random, world: World) {
    this.name = name;
    this.role = role;
    this.email = email;
    this.rng = rng;
    this.world = world;
    this.ip = `10.${Math.floor(index / 250) + 1}.${index % 250}.${(index % 7) + 1}`;
  }

  protected get userId(): string {
    return this.session!.userId;
  }

  protected tag(): string {
    this.seq += 1;
    return `${this.name}-${this.seq}`;
  }

  protected words(count: number): string {
    return Array.from({ length: count }, () => this.rng.pick(op.WORDS)!).join(" ");
  }

  protected call(name: string, query: string, variables: Record<string, unknown> = {}): Promise<Answer> {
    return this.world.traffic.graphql(name, query, variables, { ip: this.ip, token: this.session?.token });
  }

  private adopt(payload: { accessToken: string; refreshToken: string; user: { rowId: string } }): void {
    this.session = { userId: payload.user.rowId, token: payload.accessToken, refreshToken: payload.refreshToken };
  }

  protected async signIn(): Promise<boolean> {
    const answer = await this.world.traffic.graphql(
      "login",
      op.LOGIN,
      { input: { email: this.email, password: SOAK_PASSWORD } },
      { ip: this.ip },
    );
    const payload = data<{ accessToken: string; refreshToken: string; user: { rowId: string } }>(answer, "login");
    if (!payload) return false;
    this.world.sessions.logins += 1;
    this.adopt(payload);
    return true;
  }

  /** First session of the actor; customers register, staff log in. */
  protected async establish(): Promise<boolean> {
    return this.signIn();
  }

  private async refresh(): Promise<void> {
    const answer = await this.world.traffic.graphql(
      "refreshSession",
      op.REFRESH,
      { input: { refreshToken: this.session!.refreshToken } },
      { ip: this.ip },
    );
    const payload = data<{ accessToken: string; refreshToken: string; user: { rowId: string } }>(
      answer,
      "refreshSession",
    );
    if (payload) {
      this.world.sessions.refreshes += 1;
      this.adopt(payload);
    } else if (answer.code === "TOKEN_REUSED" || answer.code === "INVALID_TOKEN") {
      // A refresh whose answer was lost (fault) rotated the token anyway: sign in again.
      this.world.sessions.relogins += 1;
      await this.signIn();
    }
  }

  protected abstract step(): Promise<Answer | undefined>;

  /** Milliseconds before the first request: users arrive over a few seconds, not in the same instant. */
  startDelayMs = 0;

  async run(): Promise<void> {
    const { traffic, stopAt } = this.world;
    await sleep(this.startDelayMs);
    // Sign-in retries back off (0.5, 1, 2, 4, 5 s...): every retry of a timed-out sign-in is more argon2 work queued.
    for (let attempt = 0; !this.session && traffic.now() < stopAt; attempt++) {
      if (await this.establish()) break;
      await sleep(Math.min(5_000, 500 * 2 ** attempt));
    }
    let steps = 0;
    while (traffic.now() < stopAt) {
      steps += 1;
      let answer: Answer | undefined;
      try {
        if (steps % 40 === 0) await this.refresh();
        else answer = await this.step();
      } catch (error) {
        // A bug in the simulation, not in the API: visible in the report, never fatal.
        traffic.samples.push({
          start: traffic.now(),
          end: traffic.now(),
          op: `actor-bug:${String(error)}`.slice(0, 80),
          status: -1,
          outcome: "rejected",
        });
      }
      if (answer?.status === 401) {
        this.world.sessions.relogins += 1;
        await this.signIn();
      }
      const unavailable = answer?.outcome === "network" || answer?.outcome === "unavailable";
      await sleep(unavailable ? 250 : this.rng.int(40, 200));
    }
  }

  protected async comment(ticketId: string, isInternal: boolean): Promise<Answer> {
    const body = `soak ${this.tag()} ${this.words(4)}`;
    const answer = await this.call("addComment", op.ADD_COMMENT, { ticketId, body, isInternal });
    const comment = data<{ ticketComment: { rowId: string; ticketId: string; authorId: string } }>(
      answer,
      "addComment",
    );
    if (comment?.ticketComment) {
      this.world.journal.record({
        kind: "comment",
        at: this.world.traffic.now(),
        commentId: comment.ticketComment.rowId,
        ticketId,
        authorId: this.userId,
        body,
        isInternal,
      });
    }
    return answer;
  }

  protected async transition(ticketId: string, to: Status): Promise<Answer> {
    const note = `soak ${this.tag()}`;
    const answer = await this.call("transitionTicket", op.TRANSITION, { ticketId, toStatus: toEnum(to), note });
    const result = data<{ ticket: TicketView }>(answer, "transitionTicket");
    if (result?.ticket && fromEnum(result.ticket.status) === to) {
      this.world.journal.record({
        kind: "transition",
        at: this.world.traffic.now(),
        ticketId,
        actorId: this.userId,
        toStatus: to,
        note,
      });
    }
    return answer;
  }

  protected async detail(ticketId: string): Promise<{ answer: Answer; ticket: TicketView | undefined }> {
    const answer = await this.call("ticketDetail", op.TICKET_DETAIL, { id: ticketId });
    return { answer, ticket: data<TicketView>(answer, "ticket") };
  }

  protected search(): Promise<Answer> {
    return this.call("searchTickets", op.SEARCH, { q: this.words(1) });
  }
}

export class Customer extends Actor {
  private readonly mine: string[] = [];

  protected override async establish(): Promise<boolean> {
    const answer = await this.world.traffic.graphql(
      "register",
      op.REGISTER,
      { input: { email: this.email, password: SOAK_PASSWORD, displayName: this.name } },
      { ip: this.ip },
    );
    // Answered the same whether or not the email was taken; the account is
    // unverified until the mailed link is followed (verifyEmail signs it in).
    if (!data<{ success: boolean }>(answer, "register")?.success) return false;
    const token = await this.world.verificationToken(this.email);
    // Registered before (an answer lost): the account exists, so sign in.
    if (!token) return this.signIn();
    const verified = await this.world.traffic.graphql(
      "verifyEmail",
      op.VERIFY_EMAIL,
      { input: { token } },
      { ip: this.ip },
    );
    const payload = data<{ accessToken: string; refreshToken: string; user: { rowId: string } }>(
      verified,
      "verifyEmail",
    );
    if (payload) {
      this.world.sessions.registrations += 1;
      this.session = { userId: payload.user.rowId, token: payload.accessToken, refreshToken: payload.refreshToken };
      this.world.journal.record({
        kind: "register",
        at: this.world.traffic.now(),
        userId: payload.user.rowId,
        email: this.email,
      });
      return true;
    }
    // Verified before (an answer lost): sign in.
    return verified.code === "INVALID_TOKEN" ? this.signIn() : false;
  }

  protected async step(): Promise<Answer | undefined> {
    const choice = this.rng.weighted({ file: 20, comment: 20, list: 25, detail: 12, search: 10, close: 6, me: 7 });
    const ticketId = this.rng.pick(this.mine);
    if (choice === "file" || !ticketId) {
      const subject = `${this.words(3)} (${this.tag()})`;
      const priority = this.rng.pick(["low", "normal", "normal", "high", "urgent"]);
      const answer = await this.call("createTicket", op.CREATE_TICKET, {
        ticket: { subject, description: `soak: ${this.words(12)}`, priority },
      });
      const created = data<{ ticket: TicketView & { subject: string } }>(answer, "createTicket");
      if (created?.ticket) {
        this.mine.push(created.ticket.rowId);
        this.world.tickets.push(created.ticket.rowId);
        this.world.journal.record({
          kind: "ticket",
          at: this.world.traffic.now(),
          ticketId: created.ticket.rowId,
          customerId: this.userId,
          actorId: this.userId,
          subject,
        });
      }
      return answer;
    }
    switch (choice) {
      case "comment":
        return this.comment(ticketId, false);
      case "list":
        return this.call("myTickets", op.MY_TICKETS);
      case "detail":
        return (await this.detail(ticketId)).answer;
      case "search":
        return this.search();
      case "me":
        return this.call("currentUser", op.CURRENT_USER);
      case "close": {
        const { answer, ticket } = await this.detail(ticketId);
        if (!ticket) return answer;
        const status = fromEnum(ticket.status);
        if (status === "closed") return answer;
        // Customers confirm a fix, reopen it, or withdraw the request.
        const to: Status = status === "resolved" && this.rng.chance(0.3) ? "open" : "closed";
        return this.transition(ticketId, to);
      }
    }
  }
}

export class Agent extends Actor {
  private mine: string[] = [];

  protected async step(): Promise<Answer | undefined> {
    const choice = this.rng.weighted({ take: 18, work: 25, comment: 18, queue: 15, search: 10, claim: 6, me: 3 });
    const ticketId = this.rng.pick(this.mine);
    if (choice === "take" || ((choice === "work" || choice === "comment") && !ticketId)) {
      const answer = await this.call("takeNextTicket", op.TAKE_NEXT);
      const taken = data<{ ticket: TicketView | null }>(answer, "takeNextTicket");
      if (taken?.ticket && taken.ticket.agentId === this.userId) {
        this.mine.push(taken.ticket.rowId);
        this.world.journal.record({
          kind: "take",
          at: this.world.traffic.now(),
          ticketId: taken.ticket.rowId,
          agentId: this.userId,
        });
      }
      return answer;
    }
    switch (choice) {
      case "comment":
        return this.comment(ticketId!, this.rng.chance(0.3));
      case "work": {
        const { answer, ticket } = await this.detail(ticketId!);
        if (!ticket || ticket.agentId !== this.userId) {
          if (answer.outcome === "ok") this.mine = this.mine.filter((id) => id !== ticketId);
          return answer;
        }
        const status = fromEnum(ticket.status);
        const next: Partial<Record<Status, Status>> = {
          in_progress: this.rng.chance(0.3) ? "waiting_on_customer" : "resolved",
          waiting_on_customer: "resolved",
          resolved: "closed",
        };
        const to = next[status];
        if (!to) {
          this.mine = this.mine.filter((id) => id !== ticketId);
          return answer;
        }
        return this.transition(ticketId!, to);
      }
      case "queue":
        return this.call("openQueue", op.OPEN_QUEUE);
      case "search":
        return this.search();
      case "me":
        return this.call("currentUser", op.CURRENT_USER);
      case "claim": {
        // Picks an unassigned open ticket from the queue and assigns it to themselves.
        const queue = await this.call("openQueue", op.OPEN_QUEUE);
        const nodes = data<{ nodes: TicketView[] }>(queue, "tickets")?.nodes ?? [];
        const candidate = this.rng.pick(nodes.filter((node) => node.agentId === null));
        if (!candidate) return queue;
        return this.assign(candidate.rowId, this.userId, (id) => this.mine.push(id));
      }
      default:
        return undefined;
    }
  }

  protected async assign(ticketId: string, agentId: string, onSuccess: (id: string) => void): Promise<Answer> {
    const answer = await this.call("assignTicket", op.ASSIGN, { ticketId, agentId });
    const result = data<{ ticket: TicketView }>(answer, "assignTicket");
    if (result?.ticket && result.ticket.agentId === agentId) {
      onSuccess(ticketId);
      this.world.journal.record({
        kind: "assign",
        at: this.world.traffic.now(),
        ticketId,
        actorId: this.userId,
        agentId,
      });
    }
    return answer;
  }
}

export class Admin extends Agent {
  protected override async step(): Promise<Answer | undefined> {
    const choice = this.rng.weighted({
      assign: 15,
      transition: 10,
      list: 25,
      audit: 10,
      search: 15,
      detail: 15,
      comment: 10,
    });
    // Recent tickets are the busy ones.
    const recent = this.world.tickets.slice(-200);
    const ticketId = this.rng.pick(recent);
    if (!ticketId) return this.call("allTickets", op.MY_TICKETS);
    switch (choice) {
      case "assign": {
        const agentId = this.rng.pick(this.world.agentIds);
        return agentId ? this.assign(ticketId, agentId, () => undefined) : undefined;
      }
      case "transition": {
        const { answer, ticket } = await this.detail(ticketId);
        if (!ticket) return answer;
        const status = fromEnum(ticket.status);
        const options: Partial<Record<Status, Status[]>> = {
          open: ticket.agentId ? ["in_progress", "closed"] : ["closed"],
          in_progress: ["waiting_on_customer", "resolved"],
          waiting_on_customer: ["in_progress", "resolved"],
          resolved: ["closed", "in_progress"],
          closed: ["open"],
        };
        const to = this.rng.pick(options[status] ?? []);
        return to ? this.transition(ticketId, to) : answer;
      }
      case "list":
        return this.call("allTickets", op.MY_TICKETS);
      case "audit":
        return this.call("auditLog", op.AUDIT);
      case "search":
        return this.search();
      case "detail":
        return (await this.detail(ticketId)).answer;
      case "comment":
        return this.comment(ticketId, this.rng.chance(0.5));
    }
  }
}
