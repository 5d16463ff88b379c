/**
 * Templates are data (app_private.mail_templates): `{{name}}` is replaced by
 * the mail's parameter `name`. In the HTML body every value is escaped; in
 * the subject line breaks become spaces (no header injection); the text
 * body takes values as they are. An unknown placeholder renders empty.
 */
export interface MailTemplate {
  subject: string;
  text: string;
  html: string;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g;

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] ?? character);
}

function parameter(params: Record<string, unknown>, name: string): string {
  const value = Object.hasOwn(params, name) ? params[name] : undefined;
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : String(value);
}

function fill(template: string, params: Record<string, unknown>, encode: (value: string) => string): string {
  return template.replace(PLACEHOLDER, (_match, name: string) => encode(parameter(params, name)));
}

/** A single line: control characters (CR, LF, …) become spaces. */
export function oneLine(value: string): string {
  return value.replace(/\p{Cc}+/gu, " ").trim();
}

export function renderMail(template: MailTemplate, params: Record<string, unknown>): RenderedMail {
  return {
    subject: oneLine(fill(template.subject, params, oneLine)),
    text: fill(template.text, params, (value) => value),
    html: fill(template.html, params, (value) => escapeHtml(value).replace(/\r?\n/g, "<br>\n")),
  };
}
