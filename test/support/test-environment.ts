// Runs in every test worker before its test file is imported.
import { inject } from "vitest";

process.env.GRAPHILE_ENV ??= "development";
// Temporary folders, the tests' own servers' data directories among them, in
// the run's scratch folder (scratch-folder.ts), which is removed after the run.
process.env.TMPDIR = inject("scratchFolder");
