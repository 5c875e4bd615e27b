// Choosing streams by origin and stream globs (`search --origin 'disp*' --stream app`, the web
// UI's search): the one place a pair of globs becomes a test of a stream, so that the streams
// searched now and those a follow discovers later are chosen by the same rule. Also the
// streams of named origins, as `export` and the web UI's download take them.

import { checkGlob } from "../store/names.ts";
import { listStreams, type StreamRef } from "../store/read.ts";

/** The globs to choose by; null or absent: any. */
export interface StreamGlobs {
  origin?: string | null;
  stream?: string | null;
}

/**
 * Checks the globs (LW_USAGE names the option: `${prefix}origin`, `${prefix}stream`, so "--"
 * for the CLI's options, "" for the web UI's parameters) and returns the test of a stream.
 */
export function streamMatcher(globs: StreamGlobs, prefix: string): (ref: StreamRef) => boolean {
  const originRe = globs.origin == null ? null : checkGlob(`${prefix}origin`, globs.origin);
  const streamRe = globs.stream == null ? null : checkGlob(`${prefix}stream`, globs.stream);
  return (r) => (!originRe || originRe.test(r.origin)) && (!streamRe || streamRe.test(r.stream));
}

/** The streams of the store that `matches` chooses, in the store's order. */
export async function matchingStreams(
  root: string,
  matches: (ref: StreamRef) => boolean,
): Promise<StreamRef[]> {
  return (await listStreams(root)).filter(matches);
}

/**
 * The streams of the origins named (every origin when none is), only those called `stream`
 * when it is given: what an export takes. The caller says what an empty selection means.
 */
export async function streamsOfOrigins(
  root: string,
  origins: readonly string[],
  stream?: string,
): Promise<StreamRef[]> {
  return matchingStreams(
    root,
    (r) =>
      (origins.length === 0 || origins.includes(r.origin)) && (stream === undefined || r.stream === stream),
  );
}
