import { readAlerts } from "../query/alerts.ts";
import { Output } from "../query/emit.ts";
import { timeBound } from "../query/time.ts";
import { escapePayload } from "../store/escape.ts";
import { checkStoreFormat } from "../store/format.ts";
import { parse } from "./args.ts";
import { storePath } from "./store-path.ts";

export const ALERTS_HELP = `Usage: logward alerts [--since T] [--until T] [--json] [--store DIR]

Lists the alerts the collector raised, oldest first: quotas nearly or fully used, records
removed to stay within a quota or by retention, origins refused or slowed down, datagrams,
connections or messages dropped or refused (dropped), the disk reserve, configuration reloads. They are stored durably in the store (origin _logward,
stream alerts); the daemon need not run.

Options:
  --since T     alerts at or after T (RFC 3339, a date, 'now', or relative: -15m, -2h, -1d)
  --until T     alerts before T
  --json        one JSON object per line: time, alert, origin, group, message
  --store DIR   the store (default: $LOGWARD_STORE, else /var/lib/logward for root,
                else ~/.local/share/logward)
  -h, --help    show this help
`;

export async function alertsCommand(args: string[]): Promise<number> {
  const { values } = parse(
    "alerts",
    args,
    {
      store: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      json: { type: "boolean" },
    },
    { min: 0, max: 0 },
  );
  const now = Date.now() * 1000;
  const since = timeBound("--since", values.since, now);
  const until = timeBound("--until", values.until, now);
  const root = storePath(values.store);
  await checkStoreFormat(root, false);
  const out = new Output();
  let n = 0;
  for await (const a of readAlerts(root, { since, until })) {
    n++;
    if (values.json) await out.write(`${JSON.stringify(a)}\n`);
    else {
      // the message may quote an origin's name or a file path: escape it like any stored text
      const who = a.origin ?? (a.group ? `group:${a.group}` : "-");
      const line = `${a.time}  ${a.alert.padEnd(13)}  ${who.padEnd(12)}  ${a.message}`;
      // as bytes: the escaped text keeps valid UTF-8 (a name in any script) as it is
      await out.write(escapePayload(Buffer.from(line)));
      await out.write("\n");
    }
  }
  if (n === 0 && !values.json) await out.write("No alerts.\n");
  await out.flush();
  return 0;
}
