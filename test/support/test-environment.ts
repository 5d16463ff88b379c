// Runs in every test worker before its test file is imported.
process.env.GRAPHILE_ENV ??= "development";
