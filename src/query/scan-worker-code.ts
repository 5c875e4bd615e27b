// Where a scan worker's code comes from (scan-pool.ts). From the sources: scan-worker.ts next
// to this module. In a start-up bundle (scripts/build.ts) this module is replaced by one that
// holds the worker's own bundle as text: a bundle has no import.meta to find files beside it.
export const SCAN_WORKER: { url: string | null; code: string | null } = {
  url: new URL("./scan-worker.ts", import.meta.url).href,
  code: null,
};
