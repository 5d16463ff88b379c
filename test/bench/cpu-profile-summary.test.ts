import { expect, it } from "vitest";
import { placeOf, summarize } from "../../bench/cpu-profile-summary.ts";

/** The profile summary sorts self time into packages, project folders, Node and V8. */
it("attributes each function's self time to its package, project folder, Node or V8", () => {
  expect(placeOf("file:///app/node_modules/@dataplan/pg/dist/executor.js", "execute")).toBe("@dataplan/pg");
  expect(placeOf("file:///app/node_modules/grafast/dist/index.js", "run")).toBe("grafast");
  expect(placeOf("file:///app/node_modules/a/node_modules/express/lib/router.js", "handle")).toBe("express");
  expect(placeOf("file:///app/src/graphql/error-masking.ts", "mask")).toBe("project src/graphql");
  expect(placeOf("node:internal/streams/readable", "push")).toBe("node: (Node's own modules)");
  expect(placeOf("", "(garbage collector)")).toBe("(garbage collector)");
  expect(placeOf("", "stringify")).toBe("(V8 builtins and native code)");

  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
  const { total, busy, places } = summarize([
    {
      nodes: [
        { id: 1, callFrame: frame("(idle)", "") },
        { id: 2, callFrame: frame("execute", "file:///app/node_modules/grafast/dist/x.js") },
        { id: 3, callFrame: frame("query", "file:///app/node_modules/pg/lib/client.js") },
      ],
      startTime: 0,
      endTime: 100,
      samples: [1, 2, 3, 2],
      timeDeltas: [50, 20, 10, 20],
    },
  ]);
  expect(total).toBe(100);
  expect(busy).toBe(50);
  expect(Object.fromEntries(places)).toEqual({ "(idle)": 50, grafast: 40, pg: 10 });
});
