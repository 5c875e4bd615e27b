// How one key of a plain section ([collector], [store], [export]) is read: the value's parser
// (null: not acceptable), the field it sets, and the words that say what it must be in the
// error ("collector.max_record must be <want>, not ...").

import type { CollectorConfig, CollectorWidePolicy } from "./types.ts";

export type Rule = {
  key: keyof CollectorConfig | keyof CollectorWidePolicy;
  parse: (v: unknown) => unknown;
  want: string;
};

/** `parse`, then only a value from `min` to `max` (a size, a duration, a whole number). */
export function within(parse: (v: unknown) => number | null, min: number, max = Number.POSITIVE_INFINITY) {
  return (v: unknown): number | null => {
    const n = parse(v);
    return n !== null && n >= min && n <= max ? n : null;
  };
}

export const wholeNumber = (v: unknown): number | null => (Number.isInteger(v) ? (v as number) : null);
