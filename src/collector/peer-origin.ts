// A network listener's origin, from the channel only (`[[listen]] origin`): the client
// certificate's subject CN, the peer's address, or a name the admin fixed. A syslog message's
// own HOSTNAME is whatever the sender typed, so it is data, never the origin.
//
// Addresses become origin names (letters, digits, `_ . -`, at most 64) one to one:
//   192.168.1.5           -> 192.168.1.5
//   ::ffff:192.168.1.5    -> 192.168.1.5        (an IPv4 peer on a dual-stack socket)
//   ::1                   -> ip6-0000-0000-0000-0000-0000-0000-0000-0001
//   fe80::1%eth0          -> ip6-fe80-0000-0000-0000-0000-0000-0000-0001 (the zone is dropped)
// The IPv6 form is the full eight groups, so every address has exactly one name.

import { isIP } from "node:net";
import type { PeerCertificate } from "node:tls";
import { isValidName } from "../store/names.ts";

/** The origin name of a peer address; null when `address` is no IP address. */
export function addressOrigin(address: string | undefined): string | null {
  if (!address) return null;
  const bare = address.replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1]!;
  const family = isIP(bare);
  if (family === 4) return bare;
  if (family !== 6) return null;
  return `ip6-${expandIPv6(bare).join("-")}`;
}

/** The eight groups of an IPv6 address, four lowercase hex digits each. */
function expandIPv6(address: string): string[] {
  let text = address.toLowerCase();
  // a trailing dotted IPv4 part is two groups
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const middle = tail === undefined ? [] : Array(8 - left.length - right.length).fill("0");
  return [...left, ...middle, ...right].map((g) => g.padStart(4, "0"));
}

/**
 * The origin a verified client certificate names: its subject's one CN, when that is a valid
 * origin name; else why not (the handshake succeeded, but the connection is refused).
 */
export function certOrigin(cert: PeerCertificate | null | undefined): { origin: string } | { why: string } {
  const cn = cert?.subject?.CN as string | string[] | undefined;
  if (cn === undefined || cn === "") return { why: "the client certificate has no subject CN" };
  if (Array.isArray(cn)) return { why: "the client certificate has more than one subject CN" };
  if (!isValidName(cn))
    return {
      why: `the client certificate's CN ${JSON.stringify(cn.slice(0, 80))} is not a valid origin name`,
    };
  return { origin: cn };
}
