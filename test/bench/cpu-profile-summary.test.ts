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
  const profile = [
    {
      nodes: [
        { id: 1, callFrame: frame("(idle)", "") },
        { id: 2, callFrame: frame("execute", "file:///app/node_modules/grafast/dist/x.js") },
        { id: 3, callFrame: frame("query", "file:///app/node_modules/pg/lib/client.js"), children: [4] },
        { id: 4, callFrame: frame("write", "node:net"), children: [5] },
        { id: 5, callFrame: frame("writev", "") },
      ],
      startTime: 0,
      endTime: 200,
      samples: [1, 2, 3, 2, 5, 2],
      timeDeltas: [50, 20, 10, 20, 30, 70],
    },
  ];
  const { total, busy, places, owners } = summarize(profile);
  expect(total).toBe(200);
  expect(busy).toBe(150);
  expect(Object.fromEntries(places)).toEqual({
    "(idle)": 50,
    grafast: 110,
    pg: 10,
    "(V8 builtins and native code)": 30,
  });
  // The socket write is pg's.
  expect(Object.fromEntries(owners)).toEqual({ "(idle)": 50, grafast: 110, pg: 40 });
  // Samples before 100 µs left out: the last three remain.
  expect(Object.fromEntries(summarize(profile, 100).places)).toEqual({
    grafast: 90,
    "(V8 builtins and native code)": 30,
  });
});
