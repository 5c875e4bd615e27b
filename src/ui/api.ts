// The web UI's JSON API (docs/UI.md): this module only routes a request to its endpoint. The
// endpoints answer with the same query code as the CLI, by what they do:
//   api-streams.ts  GET /api/origins (`ls`), GET /api/records (`show`)
//   api-search.ts   GET /api/search (`search`, in a worker thread)
//   api-tail.ts     GET /api/tail (`show --follow`, Server-Sent Events)
//   api-actions.ts  GET /api/export (`export`), POST /api/rm (`rm`), POST /api/open (`open`)
// Every parameter is hostile until checked (params.ts).

import type { IncomingMessage, ServerResponse } from "node:http";
import { LogwardError } from "../errors.ts";
import { exportArchive, open, remove } from "./api-actions.ts";
import { search } from "./api-search.ts";
import { origins, records } from "./api-streams.ts";
import { tail } from "./api-tail.ts";
import type { ApiContext } from "./context.ts";

export async function handleApi(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const p = url.searchParams;
  const route = `${req.method === "POST" ? "POST" : "GET"} ${url.pathname}`;
  switch (route) {
    case "GET /api/origins":
      return origins(ctx, res);
    case "GET /api/records":
      return records(ctx, p, res);
    case "GET /api/search":
      return search(ctx, p, res);
    case "GET /api/tail":
      return tail(ctx, p, res);
    case "GET /api/export":
      return exportArchive(ctx, p, res);
    case "POST /api/rm":
      return remove(ctx, req, res);
    case "POST /api/open":
      return open(ctx, req, res);
    default:
      throw new LogwardError("LW_NOT_FOUND", `There is no ${route} in the API (docs/UI.md lists it).`);
  }
}
