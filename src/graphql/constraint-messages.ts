/**
 * What a client is told when a write breaks a named constraint: one
 * human message per data rule, so the rule itself lives only in its
 * constraint and the API never reveals constraint or table names. A
 * constraint missing here still answers a generic "Invalid input".
 */
/** The default SLA policies and an organization's own share their target rules. */
const POSITIVE_TARGETS = "Targets must be positive numbers of minutes";
const RESOLUTION_AFTER_FIRST_RESPONSE = "The resolution target must not be shorter than the first-response target";

export const CONSTRAINT_MESSAGES: Readonly<Record<string, string>> = {
  tickets_subject_length: "The subject must be 1 to 200 characters, not only white space",
  tickets_description_length: "The description is too long or only white space",
  ticket_comments_body_length: "A comment must contain text and be at most 20000 characters",
  ticket_status_history_note_length: "A note must be at most 2000 characters",
  users_display_name_length: "The display name must be 1 to 100 characters, not only white space",
  users_display_name_normalized: "The display name must not start or end with spaces",
  users_display_name_visible: "The display name must not contain control, invisible or text-direction characters",
  user_accounts_email_format: "The email address is not valid (printable ASCII, at most 320 characters, one @)",
  sla_policies_first_response_positive: POSITIVE_TARGETS,
  sla_policies_resolution_after_first_response: RESOLUTION_AFTER_FIRST_RESPONSE,
  organization_sla_policies_first_response_positive: POSITIVE_TARGETS,
  organization_sla_policies_resolution_after_first_response: RESOLUTION_AFTER_FIRST_RESPONSE,
  organization_sla_policies_one_per_priority: "The organization has targets for this priority already",
  ticket_transitions_distinct_statuses: "A transition must go to a different status",
  ticket_transitions_roles_not_empty: "A transition must allow at least one role",
  ticket_transitions_roles_no_nulls: "A transition's roles must not contain null",
  write_quotas_max_count_range: "A quota allows 1 to 1000000 writes",
  write_quotas_per_interval_range: "A quota's interval must be between 1 minute and 1 day",
  webhook_endpoints_url_format: "The webhook URL must be an http(s) URL of at most 2000 characters",
  webhook_endpoints_event_kinds_known:
    "Event kinds must be one or more of ticket.created, ticket.status_changed, ticket.assigned, ticket.commented, ticket.updated, ticket.sla_at_risk, ticket.sla_breached, ticket.sla_met, attachment.created, user.deactivated, user.role_changed",
  organizations_name_length: "The organization's name must be 1 to 200 characters, not only white space",
  organizations_name_key: "An organization with this name already exists",
  organizations_domains_valid: "Domains must be at most 20 lower-case domain names such as example.com",
  attachments_file_name_safe: "The file name must be 1 to 200 characters and not only dots or spaces",
  attachments_content_type_shape: "The content type must be a media type such as image/png",
  attachments_content_type_allowed: "Programs (executables, installers, scripts) cannot be attached",
  attachments_size_range: "A file must have 1 byte to 100 MiB",
  attachments_sha256_shape: "The SHA-256 must be 64 hexadecimal digits",
  attachment_quotas_max_file_bytes_range: "The largest file must be 1 byte to 100 MiB",
  attachment_quotas_max_count_range: "A quota allows 1 to 100000 uploads",
  attachment_quotas_max_bytes_range: "A quota allows 1 byte to 1 TiB",
  attachment_quotas_per_interval_range: "A quota's interval must be between 1 minute and 7 days",
  notification_preferences_kind:
    "The kind must be one of ticket_created, ticket_reply, ticket_status, ticket_assigned, customer_reply, sla_breach",
  outbound_mails_to_address_format: "The email address is not valid (printable ASCII, at most 320 characters, one @)",
  business_calendars_name_length: "A calendar name must have 1-100 characters, not only spaces",
  business_calendars_time_zone_known: "The time zone must be an IANA time zone name such as Europe/Berlin",
  business_calendars_name_unique: "A calendar with this name exists already",
  business_calendar_versions_effective_unique: "The calendar has a version from this date already",
  business_calendar_hours_weekday_iso: "The weekday must be 1 (Monday) to 7 (Sunday)",
  business_calendar_hours_starts_in_day: "Opening hours must start between 00:00 and 23:59",
  business_calendar_hours_not_empty: "Opening hours must end at another time than they start",
  business_calendar_holidays_name_length: "A holiday name has at most 100 characters",
  business_calendar_holidays_one_per_date: "The calendar has a holiday on this date already",
  business_calendar_holidays_partial_interval:
    "A partial holiday needs a start before its end (or neither, for the whole day)",
  sla_pause_statuses_pkey: "This status pauses this clock already",
};

export function constraintMessage(constraint: string | undefined): string | undefined {
  return constraint === undefined ? undefined : CONSTRAINT_MESSAGES[constraint];
}
