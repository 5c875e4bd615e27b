// Logging in to a running `serve`'s web UI the way a browser does: follow the login link for
// the session cookie, then read the CSRF token from /api/session. Shared by the tests that
// POST to the UI's API (reload, blob-open) so each does not repeat the two requests.
import { get } from "node:http";
import { uiLogin } from "./daemon.ts";

export interface UiSession {
  /** The UI's origin, e.g. "http://127.0.0.1:1234". */
  base: string;
  /** The session cookie, as "name=value". */
  cookie: string;
  /** The token a POST carries in X-CSRF-Token. */
  csrf: string;
}

/** Logs in to the web UI of the `serve` running on `store`. */
export async function uiSession(store: string): Promise<UiSession> {
  const login = uiLogin(store);
  const base = new URL(login).origin;
  const cookie = await new Promise<string>((resolve) =>
    get(login, (res) => {
      res.resume();
      resolve(String(res.headers["set-cookie"]).split(";")[0]!);
    }),
  );
  const csrf = await new Promise<string>((resolve) =>
    get(`${base}/api/session`, { headers: { Cookie: cookie } }, (res) => {
      let t = "";
      res.on("data", (c: Buffer) => {
        t += c;
      });
      res.on("end", () => resolve((JSON.parse(t) as { csrf: string }).csrf));
    }),
  );
  return { base, cookie, csrf };
}
