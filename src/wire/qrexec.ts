// Qubes qrexec facts in code. A socket service (Qubes 4.1+) is a Unix socket under
// /etc/qubes-rpc/; qrexec connects and first writes "<service>[+<argument>] <source-domain>\0",
// then the caller's data. The source domain is set by dom0: it is the origin. The argument is
// the stream. Names are validated by the caller; nothing here trusts them.

import { FramingError } from "./framer.ts";
import type { Format } from "./relay.ts";

export const MAX_DESCRIPTOR_BYTES = 256;

/** The qrexec service names logward answers, and the format each one speaks. */
export const SERVICES: Readonly<Record<string, Format>> = Object.freeze({
  "logward.Lines": "lines",
  "logward.Octets": "octets",
  "logward.Journal": "journal",
  "logward.Agent": "agent",
  "logward.Blob": "blob",
});

export interface Descriptor {
  service: string;
  format: Format;
  argument: string | null;
  sourceDomain: string;
}

/** Parses the descriptor (the bytes before the NUL). */
export function parseDescriptor(bytes: Buffer): Descriptor {
  const text = bytes.toString("latin1");
  const space = text.indexOf(" ");
  if (space === -1 || text.indexOf(" ", space + 1) !== -1) {
    throw new FramingError("bad qrexec descriptor: expected '<service>[+<argument>] <source-domain>'");
  }
  const call = text.slice(0, space);
  const sourceDomain = text.slice(space + 1);
  const plus = call.indexOf("+");
  const service = plus === -1 ? call : call.slice(0, plus);
  const argument = plus === -1 ? null : call.slice(plus + 1);
  // own names only: "constructor" or "toString" must not find Object.prototype's functions
  const format = Object.hasOwn(SERVICES, service) ? SERVICES[service] : undefined;
  if (!format)
    throw new FramingError(
      `bad qrexec descriptor: unknown service '${service.replace(/[^\x21-\x7e]/g, "?")}'`,
    );
  return { service, format, argument: argument === "" ? null : argument, sourceDomain };
}
