/**
 * Grafast reads GRAPHILE_ENV when it is first imported; entry points import
 * this module first so development builds get its extra checks and
 * production builds stay quiet.
 */
process.env.GRAPHILE_ENV ??= process.env.NODE_ENV === "production" ? "production" : "development";
