import { simpleParser } from "mailparser";
import { describe, expect, it } from "vitest";
import { inboundFacts, newText, ticketSubject } from "../../src/mail/inbound-message.ts";
import { escapeHtml, renderMail } from "../../src/mail/mail-render.ts";

/** The pure parts of mail: rendering templates safely, reading inbound messages. */
describe("templates", () => {
  it("escape values in HTML, keep them in text, and keep the subject on one line", () => {
    const rendered = renderMail(
      {
        subject: "Re: {{subject}}",
        text: "{{name}} said: {{body}}",
        html: '<p>{{name}} said: {{body}}</p><a href="{{url}}">x</a>',
      },
      { subject: "Hi\r\nBcc: victim@example.com", name: "<b>Eve</b>", body: "a & b\nc", url: 'javascript:"alert(1)"' },
    );
    expect(rendered.subject).toBe("Re: Hi Bcc: victim@example.com");
    expect(rendered.text).toBe("<b>Eve</b> said: a & b\nc");
    expect(rendered.html).toBe(
      '<p>&lt;b&gt;Eve&lt;/b&gt; said: a &amp; b<br>\nc</p><a href="javascript:&quot;alert(1)&quot;">x</a>',
    );
    expect(escapeHtml(`'"<>&`)).toBe("&#39;&quot;&lt;&gt;&amp;");
  });

  it("render unknown placeholders and inherited names empty", () => {
    expect(renderMail({ subject: "{{missing}}x", text: "{{constructor}}{{toString}}", html: "" }, {}).text).toBe("");
  });
});

describe("the new text of a reply", () => {
  it.each([
    ["Gmail", "Thanks!\n\nOn Mon, 30 Nov 2026 at 12:00, Helpdesk <help@x.test> wrote:\n> earlier"],
    ["Gmail, wrapped", "Thanks!\n\nOn Mon, 30 Nov 2026 at 12:00, Helpdesk\n<help@x.test> wrote:\n> earlier"],
    ["Outlook", "Thanks!\n\n-----Original Message-----\nFrom: Helpdesk\nearlier"],
    ["Outlook headers", "Thanks!\n\nFrom: Helpdesk <help@x.test>\nSent: Monday\nearlier"],
    ["signature", "Thanks!\n-- \nAda, ACME Ltd"],
    ["quoted lines only", "> earlier\nThanks!\n> more"],
  ])("%s", (_label, text) => {
    expect(newText(text)).toBe("Thanks!");
  });

  it("keeps a reply that quotes nothing", () => {
    expect(newText("Line one\r\nLine two\r\n")).toBe("Line one\nLine two");
  });
});

describe("reading an inbound message", () => {
  it("finds the ticket references, the sender and automatic mail", async () => {
    const raw = [
      "From: Ada <ADA@Example.com>",
      "To: reply+1042@support.example.test, someone@else.test",
      "Subject: Re: [#1042] Printer [#77]",
      "In-Reply-To: <mail.01900000-0000-7000-8000-000000000001@support.example.test>",
      "References: <ticket.01900000-0000-7000-8000-000000000002@support.example.test> <x@elsewhere>",
      "Auto-Submitted: auto-replied",
      "",
      "I am away.",
    ].join("\r\n");
    const facts = inboundFacts(await simpleParser(raw), "support.example.test");
    expect(facts).toMatchObject({
      sender: "ada@example.com",
      displayName: "Ada",
      mailIds: ["01900000-0000-7000-8000-000000000001"],
      ticketIds: ["01900000-0000-7000-8000-000000000002"],
      ticketNumbers: ["1042", "77"],
      autoReason: "Auto-Submitted: auto-replied",
      body: "I am away.",
    });
  });

  it("ignores references to other domains and treats Auto-Submitted: no as a person", async () => {
    const raw =
      "From: b@example.com\r\nSubject: hello\r\nAuto-Submitted: no\r\nIn-Reply-To: <mail.01900000-0000-7000-8000-000000000001@evil.test>\r\n\r\nHi";
    const facts = inboundFacts(await simpleParser(raw), "support.example.test");
    expect(facts).toMatchObject({ mailIds: [], ticketNumbers: [], autoReason: undefined, body: "Hi" });
  });

  it("reads the text of an HTML-only message", async () => {
    const raw =
      "From: h@example.com\r\nSubject: html\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>It works <b>now</b>.</p><blockquote>old</blockquote>";
    const facts = inboundFacts(await simpleParser(raw), "support.example.test");
    expect(facts.body).toContain("It works now.");
  });

  it("makes a ticket subject without reply prefixes and tags", () => {
    expect(ticketSubject("Re: Fwd: [#12] Printer")).toBe("Printer");
    expect(ticketSubject("   ")).toBe("(no subject)");
    expect(ticketSubject("x".repeat(300))).toHaveLength(200);
  });
});
