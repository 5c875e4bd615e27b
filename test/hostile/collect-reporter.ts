// A node:test reporter for the hostile suite (issue 21): writes one JSON line per finished test
// (file, the names of its enclosing suites, its own name, pass or fail) so that
// scripts/hostile-suite.ts can match what ran against the registry in cases.ts. It prints
// nothing itself: the spec reporter next to it speaks to people.

interface TestEventData {
  name: string;
  nesting: number;
  file?: string;
  skip?: boolean | string;
  todo?: boolean | string;
  details?: { type?: string; error?: { message?: string; cause?: unknown } };
}

interface TestEvent {
  type: string;
  data: TestEventData;
}

export default async function* collect(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  // the names of the suites a test sits in, per file (files may run side by side)
  const open = new Map<string, string[]>();
  for await (const event of source) {
    const d = event.data;
    if (event.type === "test:start") {
      const path = open.get(d.file ?? "") ?? [];
      path.length = d.nesting;
      path.push(d.name);
      open.set(d.file ?? "", path);
      continue;
    }
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    const path = (open.get(d.file ?? "") ?? []).slice(0, d.nesting);
    const cause = d.details?.error?.cause;
    yield `${JSON.stringify({
      file: d.file ?? "",
      suites: path,
      name: d.name,
      kind: d.details?.type ?? "test",
      ok: event.type === "test:pass",
      skip: Boolean(d.skip) || Boolean(d.todo),
      error:
        event.type === "test:fail"
          ? String(cause instanceof Error ? cause.message : (cause ?? d.details?.error?.message ?? "")).slice(
              0,
              300,
            )
          : undefined,
    })}\n`;
  }
}
