// A RecordSink that writes down what a framer hands it, as latin1 text: the framer tests compare
// these against what they fed in.

import type { RecordSink } from "../../src/wire/framer.ts";

export type Out =
  | { data: string }
  | { cut: string; length: number }
  | { unterminated: string; length: number };

export function collector(): { sink: RecordSink; out: Out[] } {
  const out: Out[] = [];
  return {
    out,
    sink: {
      records(buf, offsets, count) {
        for (let k = 0; k < count; k++)
          out.push({ data: buf.toString("latin1", offsets[2 * k], offsets[2 * k + 1]) });
      },
      truncated(kept, length) {
        out.push({ cut: kept.toString("latin1"), length });
      },
      unterminated(kept, length) {
        out.push({ unterminated: kept.toString("latin1"), length });
      },
    },
  };
}
