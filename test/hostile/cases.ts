// The registry of the hostile suite (issue 21, "The suite"): every hostile case by class, the
// test file and test name that prove it, and the CVE or peer regress case it is modelled on
// where there is one. `npm run test:hostile` (scripts/hostile-suite.ts) runs these files and
// prints the table; a registered case that did not run, or failed, fails it, and
// test/suite-registry.test.ts keeps this list in step with the test names in the files.
// Tests named "fault: ..." in the suite's files are listed too without an entry here (the
// fault-injection tests of issue 21, classed by their words: see classOfFault).

export const HOSTILE_CLASSES = [
  "framing",
  "names",
  "escapes",
  "archives",
  "UI",
  "resources",
  "crashes",
  "disk",
  "clock",
  "seals",
  "syslog/TLS",
  "fuzzing",
] as const;

export type HostileClass = (typeof HOSTILE_CLASSES)[number];

export interface HostileCase {
  readonly cls: HostileClass;
  /** the test file, relative to test/ */
  readonly file: string;
  /** the test's own name (not its suites'), unique in its file */
  readonly name: string;
  /** the CVE, weakness or peer regress case it is modelled on, when there is one */
  readonly cite?: string;
}

/** The name prefix of the fault-injection tests, listed without a registry entry. */
export const FAULT_PREFIX = "fault: ";

/** The class of a "fault: ..." test, from its words. */
export function classOfFault(name: string): HostileClass {
  if (/\bclock\b/i.test(name)) return "clock";
  if (/\b(ENOSPC|EIO|disk|tmpfs)\b/i.test(name)) return "disk";
  return "crashes"; // kill -9, torn writes
}

/** More test files the suite runs (fault injection, by name) besides those of the cases. */
export const EXTRA_FILE_PATTERN = /^fault-.*\.test\.ts$/;

function inFile(file: string, rows: [HostileClass, string, string?][]): HostileCase[] {
  return rows.map(([cls, name, cite]) =>
    cite === undefined ? { cls, file, name } : { cls, file, name, cite },
  );
}

export const CASES: readonly HostileCase[] = [
  ...inFile("enospc.test.ts", [
    [
      "disk",
      "a full filesystem: nothing acknowledged is lost or damaged, and writing resumes when space returns",
    ],
  ]),
  ...inFile("escape.test.ts", [
    ["escapes", "round trip: unescape(escape(b)) equals b for every byte string"],
    [
      "escapes",
      "no escaped payload contains a forbidden raw byte or code point",
      "CVE-2003-0063 (xterm title escape), CVE-2022-46663 (less escape)",
    ],
    ["escapes", "valid text in any script is kept as is"],
    [
      "escapes",
      "each dangerous byte or character has the documented escape",
      "CVE-2003-0063 (xterm title escape), CVE-2022-46663 (less escape)",
    ],
    [
      "escapes",
      "isPrintableLines is true exactly for printable ASCII and LF, and then every line is display-safe",
      "CVE-2003-0063 (xterm title escape), CVE-2022-46663 (less escape)",
    ],
    [
      "escapes",
      "isDisplaySafe rejects raw dangerous content",
      "CVE-2003-0063 (xterm title escape), CVE-2022-46663 (less escape)",
    ],
    ["escapes", "malformed escapes in a damaged line are kept literally"],
  ]),
  ...inFile("fuzz-config.test.ts", [
    ["fuzzing", "every key with any value: loads or LW_CONFIG, never another exception"],
    ["fuzzing", "arbitrary TOML-like text: loads or LW_CONFIG"],
  ]),
  ...inFile("fuzz-export.test.ts", [
    ["fuzzing", "changed tars: verified or LW_EXPORT_INVALID, quickly, safe to print"],
    [
      "fuzzing",
      "arbitrary and changed compressed bytes: LW_EXPORT_INVALID, safe to print",
      "decompression bomb (CWE-409)",
    ],
    ["fuzzing", "checkManifest and TextMemberCheck throw only Errors, with printable messages"],
  ]),
  ...inFile("fuzz-seal.test.ts", [
    ["fuzzing", "parses only as the bytes the writer makes; never throws"],
    ["fuzzing", "nextSealLine finds whole lines whose kind is !seal, in blocks of any bytes"],
    ["fuzzing", "any text: LW_CHECKPOINT_INVALID only, within a second, safe to print"],
    ["fuzzing", "any order of epochs gives the keys of the plain chain (kept keys change no key)"],
  ]),
  ...inFile("fuzz-spool.test.ts", [
    ["fuzzing", "parseEntries never throws; entries are whole, in order, inside the buffer"],
    ["fuzzing", "any damaged segments: recovery never throws, keeps whole commits, cuts the rest"],
  ]),
  ...inFile("fuzz-store.test.ts", [
    ["fuzzing", "parseLine and recovery's checkLineHead never throw, agree, and give a safe seq"],
    ["fuzzing", "a receive time that parses is one formatTime writes back"],
    [
      "fuzzing",
      "unescape takes any bytes (a damaged payload) without throwing; escape of it is display-safe",
    ],
    ["fuzzing", "escapeInto at any offset writes what escapePayload writes, within ESCAPE_EXPANSION"],
    ["fuzzing", "escapeText of any string is what escapePayload makes of its UTF-8"],
    ["fuzzing", "any text parses without throwing into own string values; encoded pairs come back"],
    ["fuzzing", "any text: an index, null (rebuild it) or LW_STORE_VERSION; never another exception"],
    ["fuzzing", "any text: null or a document of the declared types; never a throw"],
  ]),
  ...inFile("fuzz-wire.test.ts", [
    ["fuzzing", "lines: only FramingError, bounded, the same records and error for any chunking"],
    ["fuzzing", "octets: only FramingError, bounded, the same records and error for any chunking"],
    ["fuzzing", "syslog-framer: only FramingError, bounded, the same records and error for any chunking"],
    ["fuzzing", "journal: only FramingError, bounded, the same records and error for any chunking"],
    ["fuzzing", "agent-decoder: only FramingError, bounded, the same records and error for any chunking"],
    ["fuzzing", "relp: only FramingError, bounded, the same records and error for any chunking"],
    ["fuzzing", "qrexec descriptor: only FramingError; a known service of its own; the text comes back"],
    ["fuzzing", "relay and local headers: only FramingError; what is encoded parses back"],
    ["fuzzing", "agent hello: only FramingError; an encoded hello parses back"],
    [
      "fuzzing",
      "the sender's reply decoder: only FramingError on any bytes; replies decode whatever the chunking",
    ],
    ["fuzzing", "relay reply frames and framed blobs: only FramingError; the same for any chunking"],
    [
      "fuzzing",
      "admin requests and refusals: LogwardError only, a code of the registry, requests parse back",
    ],
    ["fuzzing", "RELP offers and syslog fields never throw on any bytes"],
  ]),
  ...inFile("hostile-echo.test.ts", [
    [
      "escapes",
      "ingest: an agent hello's stream name and version reach stderr escaped",
      "CVE-2003-0063 (xterm title escape), CVE-2022-46663 (less escape); issue 21 probe 8",
    ],
    [
      "escapes",
      "CLI errors escape every argument they echo",
      "CVE-2003-0063 (xterm title escape), CVE-2022-46663 (less escape); issue 21 probe 8",
    ],
  ]),
  ...inFile("hostile-export.test.ts", [
    [
      "archives",
      "a consistent hand-made archive verifies (the helpers build what export writes)",
      "CVE-2003-0063 (xterm title escape), CVE-2022-46663 (less escape); issue 21 probe 7",
    ],
    [
      "archives",
      "names: absolute, '..', control bytes, not in the manifest; printed escaped",
      "tar path traversal (CWE-22), CVE-2003-0063 (xterm title escape), CVE-2022-46663 (less escape); issue 21 probe 7",
    ],
    [
      "archives",
      "content: a log member with raw ESC/BEL, or lines export never writes, fails",
      "CVE-2003-0063 (xterm title escape), CVE-2022-46663 (less escape); issue 21 probe 7",
    ],
    [
      "archives",
      "bombs: a 128 KiB archive that expands to 4 GiB fails fast",
      "decompression bomb (CWE-409); issue 21 probe 7",
    ],
  ]),
  ...inFile("hostile-limits.test.ts", [
    [
      "resources",
      "connections without a header: past the limit the oldest close at once, counted; a sender gets in",
      "slowloris",
    ],
    ["UI", "live tails in the web UI: the 33rd is refused with LW_BUSY; other requests are answered"],
    ["UI", "exports in the web UI: a third while two download is refused with LW_BUSY; others go on"],
  ]),
  ...inFile("notify-reload.test.ts", [
    [
      "resources",
      "serve: a catastrophic pattern on one origin's records does not stop another origin's ingest",
      "ReDoS (CWE-1333)",
    ],
  ]),
  ...inFile("notify.test.ts", [
    [
      "resources",
      "a pattern over its time budget is stopped: the batch is skipped with an alert, the next is checked",
      "ReDoS (CWE-1333)",
    ],
  ]),
  ...inFile("hostile-load.test.ts", [
    [
      "resources",
      "idle, slowloris and a 50x flood at once: every victim record arrives, the UI answers",
      "slowloris; issue 21 probe 10",
    ],
  ]),
  ...inFile("hostile-names.test.ts", [
    [
      "names",
      "logward CONSTRUCTOR: an unknown command (exit 2), not an internal error",
      "prototype pollution (CWE-1321); issue 21 probe 9",
    ],
    [
      "names",
      "qrexec socket service: prototype service names are refused, relay formats too",
      "prototype pollution (CWE-1321); issue 21 probe 9",
    ],
    [
      "names",
      "configuration keys, sections and groups named like prototype members are problems",
      "prototype pollution (CWE-1321); issue 21 probe 9",
    ],
    [
      "names",
      "a stream type named like a prototype member has no configured viewer",
      "prototype pollution (CWE-1321); issue 21 probe 9",
    ],
  ]),
  ...inFile("hostile-openbsd.test.ts", [
    [
      "escapes",
      "args-length-vis: a record cut at the limit next to 8-bit and control bytes keeps whole escapes",
      "OpenBSD syslogd regress args-length-vis.pl",
    ],
    [
      "resources",
      "args-fdexhaustion-tcp: out of file descriptors, serve refuses what it must and goes on",
      "OpenBSD syslogd regress args-fdexhaustion-tcp.pl",
    ],
  ]),
  ...inFile("hostile-quota-burst.test.ts", [
    [
      "resources",
      "a burst of 4 MiB into a 1 MiB drop-oldest quota keeps about 1 MiB, and ls says so",
      "issue 21 probe 11",
    ],
  ]),
  ...inFile("hostile-sessions.test.ts", [
    ["resources", "20 empty sessions from one VM cannot take every slot from another VM", "issue 21 probe 4"],
    [
      "resources",
      "3000 empty calls against a 64 KiB quota: evicted and alerted while they come",
      "issue 21 probe 5",
    ],
    [
      "resources",
      "a flood of bad hellos grows _logward/events by a bounded amount, and every refusal is counted",
      "issue 21 probe 5",
    ],
    [
      "resources",
      "a flood of refused objects raises one blob-refused alert a minute per origin, with the count",
      "issue 21 probe 5",
    ],
    [
      "resources",
      "_logward keeps a bounded retention: old and excess events and alerts go, deletions stay",
      "issue 21 probe 5",
    ],
  ]),
  ...inFile("hostile-store-faults.test.ts", [
    [
      "disk",
      "a fatal store error ends serve with a non-zero exit instead of leaving it up and refusing",
      "issue 21 probe 2",
    ],
    [
      "disk",
      "a full disk while a segment is sealed (index.json) is waited out, not fatal",
      "issue 21 probe 3",
    ],
    [
      "resources",
      "one origin opening stream after stream exhausts no file descriptors and no other origin",
      "issue 21 probe 1",
    ],
    [
      "resources",
      "an origin over max_streams_per_origin is refused a new stream, with an alert; others go on",
      "issue 21 probe 1",
    ],
  ]),
  ...inFile("store-fd-cap.test.ts", [
    [
      "resources",
      "a descriptor cap lowered by EMFILE rises again after a calm minute, up to max_open_streams",
      "issue 21 probe 1",
    ],
  ]),
  ...inFile("hostile-store-links.test.ts", [
    [
      "names",
      "serve does not write through a linked origin, stream or segment; it records why",
      "link following (CWE-59); issue 21 probe 11",
    ],
    [
      "names",
      "show, ls and search do not read through a link; they say so in one sentence",
      "link following (CWE-59); issue 21 probe 11",
    ],
  ]),
  ...inFile("hostile-store-links-every.test.ts", [
    [
      "names",
      "serve and the web UI neither write nor read through any planted link",
      "link following (CWE-59); issue 21",
    ],
    [
      "names",
      "show, search, ls, export, rm, verify and seal neither read nor change anything through a link",
      "link following (CWE-59); issue 21",
    ],
    [
      "names",
      "FORMAT planted as a link to a file outside: serve refuses to start, readers read nothing",
      "link following (CWE-59); issue 21",
    ],
    [
      "names",
      "run planted as a link to a dir outside: serve refuses to start, readers read nothing",
      "link following (CWE-59); issue 21",
    ],
    [
      "names",
      "origins planted as a link to a dir outside: serve refuses to start, readers read nothing",
      "link following (CWE-59); issue 21",
    ],
    [
      "names",
      "run/writer.lock planted as a link to a file outside: serve refuses to start, readers read nothing",
      "link following (CWE-59); issue 21",
    ],
    [
      "names",
      "run/writer.pid planted as a link to a file outside: serve refuses to start, readers read nothing",
      "link following (CWE-59); issue 21",
    ],
    [
      "names",
      "run/seal.key planted as a link to a file outside: serve refuses to start, readers read nothing",
      "link following (CWE-59); issue 21",
    ],
  ]),
  ...inFile("store-dir-swap.test.ts", [
    [
      "names",
      "the stream directory swapped for a link while its file is closed is not written through",
      "link following (CWE-59), time-of-check time-of-use (CWE-367); issue 21",
    ],
    [
      "names",
      "the origin directory swapped for a link while its file is closed is not written through",
      "link following (CWE-59), time-of-check time-of-use (CWE-367); issue 21",
    ],
  ]),
  ...inFile("hostile-ui-search.test.ts", [
    [
      "UI",
      "a search matching 1 MiB lines stops at the byte budget, says truncated, and the UI answers meanwhile",
      "issue 21 probe 6",
    ],
  ]),
  ...inFile("hostile-cve-2025-24889.test.ts", [
    [
      "names",
      "origin names and paths in a sender's content are data: records stay in the channel's origin",
      "CVE-2025-24889 (SecureDrop sd-log: VM name from log content, path traversal)",
    ],
    [
      "names",
      "a traversing origin or stream from the channel itself is refused, never a path",
      "CVE-2025-24889 (SecureDrop sd-log: VM name from log content, path traversal)",
    ],
  ]),
  ...inFile("hostile-ui.test.ts", [
    [
      "UI",
      "serve does not print the token when stdout is not a terminal; run/ui-url holds it",
      "issue 21 probe 10",
    ],
    [
      "UI",
      "200 idle TCP connections do not stop an authenticated request from being answered",
      "slowloris; issue 21 probe 10",
    ],
    [
      "UI",
      "another origin's ingest completes while the search runs; the budget cuts it",
      "ReDoS (CWE-1333); issue 21 probe 6",
    ],
  ]),
  ...inFile("kill9.test.ts", [
    ["crashes", "kill -9 at random moments: every acknowledged record is kept, none twice, in order"],
  ]),
  ...inFile("names.test.ts", [
    [
      "names",
      "hostile names are refused with LW_BAD_NAME, never turned into a path",
      "path traversal (CWE-22)",
    ],
    ["names", "the refusal message shows the name safely"],
    ["names", "any name that passes stays inside <store>/origins", "path traversal (CWE-22)"],
  ]),
  ...inFile("recovery.test.ts", [
    [
      "crashes",
      "truncating the active segment at every byte offset of its last record loses only that record",
    ],
    ["crashes", "garbage after the last line (zeros, a half line with an LF-less tail) is cut away"],
    ["crashes", "a broken chain inside the unsynced tail is cut at the first bad line"],
    ["crashes", "an empty or entirely torn active segment is removed and numbering continues"],
    ["crashes", "leftovers of an interrupted compression are resolved: the plain file wins"],
  ]),
  ...inFile("relp-intake.test.ts", [
    ["syslog/TLS", "open, syslog frames answered only once durable, close answered then serverclose"],
    ["syslog/TLS", "garbage ends the session as a protocol error; the frames before it are kept"],
    ["syslog/TLS", "a session must begin with open; unknown commands are answered 500"],
    ["syslog/TLS", "a resend after a collector restart is stored once, and the session continues its chain"],
    [
      "syslog/TLS",
      "a sender that reconnects twice before an answer gets through still has each message once",
    ],
    ["syslog/TLS", "two senders interleaved in one stream: each resend is matched with its own chain"],
    [
      "syslog/TLS",
      "a chain closed with `close` had nothing unanswered: the same bytes again are a new message",
    ],
    ["syslog/TLS", "first frames that match a chain's middle, not its end, are new messages"],
    ["syslog/TLS", "at most maxUnacked frames wait for an answer: then the intake is full (stop reading)"],
    ["syslog/TLS", "frames wait (held, the intake full) while the stream's chains are read"],
  ]),
  ...inFile("relp-rsyslog.test.ts", [
    [
      "syslog/TLS",
      "N messages, each stored exactly once, answered only when durable",
      "rsyslog omrelp as peer",
    ],
    [
      "crashes",
      "kill -9 of the collector mid-stream: rsyslog resends, every message stored exactly once",
      "rsyslog omrelp as peer",
    ],
    [
      "syslog/TLS",
      "answers lost in flight: omrelp resends its window, nothing is stored twice",
      "rsyslog omrelp as peer",
    ],
    [
      "syslog/TLS",
      "RELP over TLS with mutual authentication: the origin is the client certificate's CN",
      "rsyslog omrelp as peer",
    ],
  ]),
  ...inFile("seal-blocks.test.ts", [
    ["seals", "segment blocks: the same bytes at every chunk size, long lines and an unfinished tail"],
    ["seals", "segment blocks: a caller stopping early leaves no read behind"],
    ["seals", "nextSealLine finds the kind !seal only as a line's third field, at a block's edges too"],
  ]),
  ...inFile("seal-export.test.ts", [
    [
      "seals",
      "export keeps the !seal lines: the whole sealed stream verifies with --key",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "without --key verify-export says exactly what it said before",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "a byte changed inside the archive, the manifest rewritten to match: only the seals see it",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "a line removed or two swapped inside the archive: missing, reordered",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "a time window cuts coverage at both ends: the edges are counted, the seals inside verified",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "a wrong key: the seals are another key's",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "the member's bytes in chunks of any size give the same verdict",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
  ]),
  ...inFile("seal-serve.test.ts", [
    ["seals", "serve seals on its interval, at a segment seal and at shutdown; verify passes"],
    ["seals", "a segment seal seals the stream without waiting for the interval"],
    ["seals", "kill -9: verify reports only an unsealed tail; the restarted collector seals it"],
    ["seals", "quota eviction (drop-oldest) removes sealed segments on record: verify still passes"],
    [
      "seals",
      "kill -9 during sealing, the seal line torn: verify reports an unsealed tail; the restart seals it",
    ],
    [
      "seals",
      "kill -9 at any moment while serve seals every second: at most an unsealed tail, never tampering",
    ],
  ]),
  ...inFile("seal-verify.test.ts", [
    [
      "seals",
      "verify passes on the intact store, with and without its checkpoint, and on a copy",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "a wrong or mistyped verification key is refused",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "one byte changed in a plain segment: changed",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "one byte changed in a compressed segment (the .zst rewritten): changed",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    ["seals", "a line removed: missing", "journald FSS tampering (CVE-2023-31437/8/9 family)"],
    ["seals", "two lines swapped: reordered", "journald FSS tampering (CVE-2023-31437/8/9 family)"],
    [
      "seals",
      "a line moved to another stream: both streams fail",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "records appended after the last seal (a crash's tail): reported unsealed, not tampering",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "sealed records truncated with their seal: found only with a checkpoint",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "a whole stream deleted: found only with a checkpoint",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "a sealed segment deleted: the oldest without a record, or one in the middle",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "logward rm --before (a recorded removal) still verifies",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "key stolen at a later epoch, an earlier epoch's seal rewritten with it: forged (CVE-2023-31438 class)",
      "CVE-2023-31438",
    ],
    [
      "seals",
      "stolen key, resealed under its own epoch but the old time: forged",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "stolen key, every later seal made again at the stolen epoch's time: sealed late",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "a modified record hidden from the seal's coverage (CVE-2023-31437 class): changed or forged",
      "CVE-2023-31437",
    ],
    [
      "seals",
      "modifying the unsealed-looking parts of a sealed file (CVE-2023-31439 class): forged",
      "CVE-2023-31439",
    ],
    [
      "seals",
      "logward rm of a whole stream (recorded in _logward/deletions) verifies, with the checkpoint too",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "stolen key, records appended after the theft: verify cannot tell; a checkpoint made before counts them",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
    [
      "seals",
      "a seal naming an epoch far in the future: forged at once, no key chain of that length",
      "journald FSS tampering (CVE-2023-31437/8/9 family)",
    ],
  ]),
  ...inFile("syslog-config.test.ts", [
    ["syslog/TLS", "[[listen]]: every problem is one sentence naming the table and key"],
    [
      "syslog/TLS",
      "serve refuses an address in use, an unreadable key, a key of another certificate, a unix path in no directory",
    ],
  ]),
  ...inFile("syslog-peers-tls.test.ts", [
    [
      "syslog/TLS",
      "rsyslog (gtls, octet-counted; ossl, LF) and syslog-ng (RFC 5425): 1000 messages each, exactly once, origin the CN",
      "rsyslog and syslog-ng as peers (RFC 5425)",
    ],
  ]),
  ...inFile("syslog-tcp.test.ts", [
    ["syslog/TLS", "octet-counted and LF-framed, RFC 5424 and 3164: stored as sent, origin from the address"],
    ["syslog/TLS", "a fixed origin and stream; many messages on one connection all arrive once, in order"],
    ["syslog/TLS", "a rate limit slows the connection down (backpressure), nothing is dropped"],
    [
      "syslog/TLS",
      "max_connections: one more connection is refused and counted",
      "OpenBSD syslogd regress args-maxtcp.pl",
    ],
  ]),
  ...inFile("syslog-tls.test.ts", [
    [
      "syslog/TLS",
      "a client certificate of the CA: stored under its CN, never the claimed HOSTNAME",
      "RFC 5425 §5 (the certificate names the peer)",
    ],
    ["syslog/TLS", "another CA's certificate, or none: refused at the handshake, nothing stored, an event"],
    ["syslog/TLS", "a CN that is no origin name is refused; so is a handshake never finished"],
    ["syslog/TLS", "a flood of refused handshakes: one event and one stderr line per kind and minute"],
    [
      "syslog/TLS",
      "a client's renegotiation is refused: the connection ends, what came after is not stored",
      "CVE-2009-3555 (TLS renegotiation)",
    ],
    ["syslog/TLS", "SIGHUP: the listener reads its certificate and key again"],
  ]),
  ...inFile("listen-agent.test.ts", [
    [
      "framing",
      "no hello, a record first, a hello over 512 bytes, a bad stream name, a reset: refused, nothing stored, an event",
      "CWE-770 (a length read before buffering) and CWE-22 (a stream name as a path)",
    ],
  ]),
  ...inFile("output-logward-tls.test.ts", [
    ["framing", "a receiver that answers garbage: the delivery fails with a sentence, the socket is closed"],
    [
      "framing",
      "a receiver that closes at once, before any welcome: the delivery fails and says what to look at",
    ],
  ]),
  ...inFile("forward-tls.test.ts", [
    [
      "syslog/TLS",
      "a client certificate of another CA is refused: nothing stored, an event, the sender's last error",
    ],
    [
      "syslog/TLS",
      "the sender refuses a receiver certificate of another CA, or for another name",
      "CWE-297 (a certificate for another host accepted)",
    ],
    ["crashes", "20,000 records exactly once through kill -9 of each collector"],
  ]),
  ...inFile("drops.test.ts", [
    [
      "resources",
      "a tampered drops.json: wrong types, negatives, floats and __proto__ are left out, never thrown",
    ],
    ["resources", "forged origins cannot grow the counters without bound: past 4096, summed under *"],
  ]),
  ...inFile("syslog-udp.test.ts", [
    ["syslog/TLS", "logger --udp, RFC 5424 and 3164: one datagram one record, origin from the address"],
    [
      "syslog/TLS",
      "an origin over its refusing quota: datagrams dropped, counted in the stream and the events",
    ],
    ["syslog/TLS", "the kernel's drop count of the listener's own socket is found in /proc/net/udp"],
  ]),
  ...inFile("syslog-unix.test.ts", [
    [
      "resources",
      "a 300 KiB datagram is cut at max_record and counted (!trunc), and the listener goes on",
      "CVE-2022-24903 class (rsyslog imtcp octet-count overflow): a length bounded before buffering",
    ],
    ["escapes", "NUL and control bytes in a datagram are stored escaped; the payload is exact"],
    [
      "names",
      "a regular file, a symbolic link or a socket in use at the address: refused, nothing removed",
      "CWE-59 (link following) and the /dev/log unlink-before-bind of syslog daemons",
    ],
    ["crashes", "no python3: serve refuses with one sentence naming the table and key"],
    ["crashes", "the helper killed: serve goes on, records event=unix-helper, and binds the socket again"],
    [
      "framing",
      "the helper's frames: a length over the maximum is refused before buffering, any chunking gives the same frames",
    ],
    [
      "resources",
      "10,000 datagrams from a blocking sender under a rate limit: exactly once, in order, nothing dropped",
    ],
    [
      "resources",
      "an origin over its refusing quota: the sender waits, and goes on once SIGHUP raises the quota",
    ],
    [
      "resources",
      "serve stops while a refusing quota holds the sender: it ends, and what it had read is counted, not stored",
    ],
  ]),
  ...inFile("wire-relp.test.ts", [
    ["framing", "any chunking gives the same frames", "librelp relpframe.c grammar"],
    [
      "framing",
      "any chunking of arbitrary bytes gives the same frames and the same error",
      "librelp relpframe.c grammar",
    ],
    [
      "framing",
      "refused: a TXNR of ten digits",
      "CVE-2022-24903 class (a length field sized past its buffer)",
    ],
    ["framing", "refused: a frame that starts with a letter", "librelp relpframe.c grammar"],
    ["framing", "refused: no TXNR before the SP", "librelp relpframe.c grammar"],
    ["framing", "refused: a digit in the command", "librelp relpframe.c grammar"],
    ["framing", "refused: an empty command", "librelp relpframe.c grammar"],
    ["framing", "refused: a command of 33 letters", "librelp relpframe.c grammar"],
    [
      "framing",
      "refused: a DATALEN of ten digits",
      "CVE-2022-24903 class (a length field sized past its buffer)",
    ],
    ["framing", "refused: no DATALEN", "librelp relpframe.c grammar"],
    ["framing", "refused: DATALEN 0 followed by SP", "librelp relpframe.c grammar"],
    ["framing", "refused: a byte other than SP after DATALEN", "librelp relpframe.c grammar"],
    ["framing", "refused: data longer than DATALEN (no LF where it ends)", "librelp relpframe.c grammar"],
    ["framing", "refused: a stream that ends inside a frame", "librelp relpframe.c grammar"],
    ["framing", "refused: a stream that ends inside a TXNR", "librelp relpframe.c grammar"],
    [
      "framing",
      "a DATALEN over the limit is refused at its SP, before any data is held",
      "CVE-2022-24903 class (a length field sized past its buffer)",
    ],
    [
      "framing",
      "a frame that spans chunks is held up to its DATALEN, never more",
      "CVE-2022-24903 class (a length field sized past its buffer)",
    ],
    [
      "framing",
      "TXNR 999999999 (the largest) and TXNR 0 (hints) are accepted",
      "librelp relpframe.c grammar",
    ],
    [
      "framing",
      "rsp 200 OK, byte for byte as librelp's scsyslog.c answers a syslog frame",
      "librelp relpframe.c grammar",
    ],
    ["framing", "rsp 500 with a reason", "librelp relpframe.c grammar"],
    [
      "framing",
      "the open reply carries 200 OK and the offers in librelp's order",
      "librelp relpframe.c grammar",
    ],
    ["framing", "serverclose is the hint 0 serverclose 0", "librelp relpframe.c grammar"],
    ["framing", "a client's open offers parse into names and values", "librelp relpframe.c grammar"],
    ["framing", "the encoder refuses what the grammar does not allow", "librelp relpframe.c grammar"],
  ]),
  ...inFile("wire-syslog.test.ts", [
    ["framing", "args-client-tcp-octet", "OpenBSD syslogd regress args-client-tcp-octet.pl"],
    ["framing", "args-client-tcp-nontransp", "OpenBSD syslogd regress args-client-tcp-nontransp.pl"],
    [
      "framing",
      "args-client-tcp-octet-badframe",
      "OpenBSD syslogd regress args-client-tcp-octet-badframe.pl",
    ],
    [
      "framing",
      "args-client-tcp-octet-nontransp",
      "OpenBSD syslogd regress args-client-tcp-octet-nontransp.pl",
    ],
    ["framing", "args-client-tcp-octet-maxline", "OpenBSD syslogd regress args-client-tcp-octet-maxline.pl"],
    [
      "framing",
      "args-client-tcp-nontransp-maxline",
      "OpenBSD syslogd regress args-client-tcp-nontransp-maxline.pl",
    ],
    [
      "framing",
      "args-client-tcp-maxline (missing newline at close)",
      "OpenBSD syslogd regress args-client-tcp-maxline.pl",
    ],
    ["framing", "args-client-tcp-multichunks", "OpenBSD syslogd regress args-client-tcp-multichunks.pl"],
    ["framing", "args-client-tcp-multilines", "OpenBSD syslogd regress args-client-tcp-multilines.pl"],
    ["framing", "an octet count past the end of the stream: what arrived is kept, then a FramingError"],
    [
      "framing",
      "a digit run longer than the largest count needs is refused (CVE-2022-24903 class)",
      "CVE-2022-24903",
    ],
    [
      "framing",
      "a count over maxDeclared is refused at its SP, before any of its data is read",
      "CVE-2022-24903 (rsyslog octet-count overflow)",
    ],
    [
      "framing",
      "a declared 1 GiB message is never buffered beyond the limit, and the framing holds",
      "CVE-2022-24903 (rsyslog octet-count overflow)",
    ],
    ["framing", "CR LF: the CR stays in the record; LF inside an octet-counted message is data"],
    ["framing", "any chunking of any mixed sequence gives the same records, cut at the limit"],
    ["framing", "any chunking of arbitrary bytes gives the same records and the same error"],
    ["syslog/TLS", "rfc5424 example 1 (su, BOM) (RFC 5424 §6.5 example 1)", "RFC 5424 §6.5 example 1"],
    [
      "syslog/TLS",
      "rfc5424 example 2 (do-nuts, no MSGID) (RFC 5424 §6.5 example 2)",
      "RFC 5424 §6.5 example 2",
    ],
    ["syslog/TLS", "rfc5424 example 3 (SD and BOM) (RFC 5424 §6.5 example 3)", "RFC 5424 §6.5 example 3"],
    [
      "syslog/TLS",
      "rfc5424 example 4 (two SD elements, no MSG) (RFC 5424 §6.5 example 4)",
      "RFC 5424 §6.5 example 4",
    ],
    ["syslog/TLS", "rfc3164 example 1 (su) (RFC 3164 §5.4 example 1)", "RFC 3164 §5.4 example 1"],
    [
      "syslog/TLS",
      "rfc3164 example 2 (relayed, no hostname word before tag) (RFC 3164 §5.4 example 2)",
      "RFC 3164 §5.4 example 2",
    ],
    ["syslog/TLS", "rfc3164 example 3 (do-nuts) (RFC 3164 §5.4 example 3)", "RFC 3164 §5.4 example 3"],
    ["syslog/TLS", "rfc3164 example 4 (sched, PRI 0) (RFC 3164 §5.4 example 4)", "RFC 3164 §5.4 example 4"],
    [
      "syslog/TLS",
      "rsyslog parse1: PIX message after IP hostname (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: tag with parentheses and pid (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: sshd(pam_unix) session closed (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: example-gw with pid (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: upper-case month, tag without colon, 8-bit chars (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: space after PRI (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: year before time, colon after time (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: year before time (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: colon after time (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: hostname only after year (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: invalid IP as hostname, quote in tag (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: MARK message (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: no PRI (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: 40-character tag (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: space in message after tag (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: rfc3164 su (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: rfc5424 with literal BOM text (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: rfc5424 SD with space before quote (malformed) (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: year after time, two spaces (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: message without tag (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: hostname and trailing space (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: hostname at end (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: timestamp and trailing space only (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: timestamp only (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: ISO timestamp in 3164 (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse1: ISO timestamp, hostname at end (rsyslog/rsyslog tests/parsertest-parse1.sh)",
      "rsyslog/rsyslog tests/parsertest-parse1.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse2: SNARE tab-escaped payload (rsyslog/rsyslog tests/parsertest-parse2.sh)",
      "rsyslog/rsyslog tests/parsertest-parse2.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog parse3: tag[pid] without colon (rsyslog/rsyslog tests/parsertest-parse3.sh)",
      "rsyslog/rsyslog tests/parsertest-parse3.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog buggyday: space after PRI, one-digit day (rsyslog/rsyslog tests/parsertest-parse-3164-buggyday.sh)",
      "rsyslog/rsyslog tests/parsertest-parse-3164-buggyday.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog nodate: tag right after PRI (rsyslog/rsyslog tests/parsertest-parse-nodate.sh)",
      "rsyslog/rsyslog tests/parsertest-parse-nodate.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog nodate: no header at all (rsyslog/rsyslog tests/parsertest-parse-nodate.sh)",
      "rsyslog/rsyslog tests/parsertest-parse-nodate.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog tagEndingByColon: no space after tag colon (rsyslog/rsyslog tests/pmrfc3164-tagEndingByColon.sh)",
      "rsyslog/rsyslog tests/pmrfc3164-tagEndingByColon.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog tagEndingByColon: two spaces after tag (rsyslog/rsyslog tests/pmrfc3164-tagEndingByColon.sh)",
      "rsyslog/rsyslog tests/pmrfc3164-tagEndingByColon.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog tagEndingByColon: lone colon word (rsyslog/rsyslog tests/pmrfc3164-tagEndingByColon.sh)",
      "rsyslog/rsyslog tests/pmrfc3164-tagEndingByColon.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog msgFirstSpace: tag with empty message (rsyslog/rsyslog tests/pmrfc3164-msgFirstSpace.sh)",
      "rsyslog/rsyslog tests/pmrfc3164-msgFirstSpace.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog hostname with slash (rfc5424) (rsyslog/rsyslog tests/hostname-with-slash-pmrfc5424.sh)",
      "rsyslog/rsyslog tests/hostname-with-slash-pmrfc5424.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog pmciscoios truncated: sequence only (rsyslog/rsyslog tests/pmciscoios_truncated_input.sh)",
      "rsyslog/rsyslog tests/pmciscoios_truncated_input.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog pmciscoios truncated: sequence and clock mark (rsyslog/rsyslog tests/pmciscoios_truncated_input.sh)",
      "rsyslog/rsyslog tests/pmciscoios_truncated_input.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog pmlastmsg: last message repeated (rsyslog/rsyslog tests/pmlastmsg.sh)",
      "rsyslog/rsyslog tests/pmlastmsg.sh",
    ],
    [
      "syslog/TLS",
      "rsyslog fuzz corpus rfc3164-no-pri (rsyslog/rsyslog tests/fuzz/corpus/syslog-message/rfc3164-no-pri)",
      "rsyslog/rsyslog tests/fuzz/corpus/syslog-message/rfc3164-no-pri",
    ],
    [
      "syslog/TLS",
      "rsyslog fuzz corpus rfc3164-rfc3339 (rsyslog/rsyslog tests/fuzz/corpus/syslog-message/rfc3164-rfc3339)",
      "rsyslog/rsyslog tests/fuzz/corpus/syslog-message/rfc3164-rfc3339",
    ],
    [
      "syslog/TLS",
      "rsyslog fuzz corpus rfc3164-short (rsyslog/rsyslog tests/fuzz/corpus/syslog-message/rfc3164-short)",
      "rsyslog/rsyslog tests/fuzz/corpus/syslog-message/rfc3164-short",
    ],
    [
      "syslog/TLS",
      "rsyslog fuzz corpus rfc5424-escaped-sd (rsyslog/rsyslog tests/fuzz/corpus/syslog-message/rfc5424-escaped-sd)",
      "rsyslog/rsyslog tests/fuzz/corpus/syslog-message/rfc5424-escaped-sd",
    ],
    [
      "syslog/TLS",
      "rsyslog fuzz corpus rfc5424-nil (rsyslog/rsyslog tests/fuzz/corpus/syslog-message/rfc5424-nil)",
      "rsyslog/rsyslog tests/fuzz/corpus/syslog-message/rfc5424-nil",
    ],
    [
      "syslog/TLS",
      "go-syslog 3164: apache access line (influxdata/go-syslog rfc3164/machine_test.go)",
      "influxdata/go-syslog rfc3164/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 3164: sudo with pid (influxdata/go-syslog rfc3164/machine_test.go)",
      "influxdata/go-syslog rfc3164/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 3164: hostname then plain text (influxdata/go-syslog rfc3164/machine_test.go)",
      "influxdata/go-syslog rfc3164/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 3164: sched[0] (influxdata/go-syslog rfc3164/machine_test.go)",
      "influxdata/go-syslog rfc3164/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: minimal all nil (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: empty input (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: PRI over 191 (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: PRI with leading zeros (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: no PRI (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: version 0 (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: cut after VERSION (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: header words only (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: average message, two SD elements (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: SD not starting with bracket (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: empty SD element (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: SD-ID only (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: escaped ] (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: escaped backslash (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: escaped quote (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: all three escapes (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: unescaped ] in value (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: unescaped quote in value (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: backslash before other byte kept (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: empty param value (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: repeated SD-ID (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: UTF-8 SD values (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: BOM only (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: BOM then UTF-8 (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: BOM not at MSG start (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: LF inside MSG (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: double dash as hostname (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: extra spaces between fields (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "go-syslog 5424: latin-1 MSG (not UTF-8) (influxdata/go-syslog rfc5424/machine_test.go)",
      "influxdata/go-syslog rfc5424/machine_test.go",
    ],
    [
      "syslog/TLS",
      "syslog-ng: no timestamp, tag with pid after space (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: one-digit day with two spaces (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: ISO timestamp with offset (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: ISO timestamp, long fraction (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: ISO timestamp without zone (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: ISO timestamp with space instead of T (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: BSD timestamp with fraction (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: BSD timestamp with empty fraction (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: program with slash, nothing after tag (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: PIX with year and colon, no hostname (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: PIX with clock mark (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: Cisco ASA tag without hostname (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: linksys year after time (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: Dell switch (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: AIX forwarded message (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: Cisco sequence number and clock mark (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: IPv6 hostname ending in colons (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: program only after timestamp (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: SD then space then bracket text (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: space before SD-ID (malformed) (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: escaped chars in SD (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: unescaped ] in SD value (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: timestamp without zone in 5424 (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: SD element without params after one with (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: invalid UTF-8 in message (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "syslog-ng: plain text, no PRI (syslog-ng/syslog-ng lib/tests/test_msgparse.c)",
      "syslog-ng/syslog-ng lib/tests/test_msgparse.c",
    ],
    [
      "syslog/TLS",
      "cisco ios: sequence, clock mark, zone (rsyslog/rsyslog doc pmciscoios (IOS format))",
      "rsyslog/rsyslog doc pmciscoios (IOS format)",
    ],
    ["syslog/TLS", "never throws, and MSG starts within the record, for syslog-like and for arbitrary bytes"],
    ["syslog/TLS", "work is linear: 1 MiB records of escapes, parameters or brackets parse quickly"],
    ["syslog/TLS", "--octet-count --rfc5424 with structured data and an id", "util-linux logger as peer"],
    ["syslog/TLS", "LF-framed --rfc5424", "util-linux logger as peer"],
    ["syslog/TLS", "--rfc3164", "util-linux logger as peer"],
    ["syslog/TLS", "--rfc3164 --octet-count", "util-linux logger as peer"],
  ]),
];
