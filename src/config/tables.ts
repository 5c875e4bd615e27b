// The `[[name]]` sections (listen, notify, policy) are arrays of tables; reading one starts
// the same way in each: the array itself, or one problem when the key holds something else,
// then each element checked to be a table before its keys are read.

/**
 * `doc[key]` when it is an array; null when the key is absent, or when it holds anything else
 * (then "<key> must be an array of tables: [[<key>]]" is pushed to `problems`).
 */
export function tableArray(doc: Record<string, unknown>, key: string, problems: string[]): unknown[] | null {
  const raw = doc[key];
  if (raw === undefined) return null;
  if (!Array.isArray(raw)) {
    problems.push(`${key} must be an array of tables: [[${key}]]`);
    return null;
  }
  return raw;
}

/** A TOML table (an object that is not an array). */
export function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
