// stdin to stdout at most BYTES bytes every MS milliseconds (argv: BYTES MS): a slow channel,
// so that a test can kill a collector while what it forwards is still on its way.
const [bytes = 16384, ms = 40] = process.argv.slice(2).map(Number);
let pending: Buffer[] = [];
let ended = false;
process.stdin.on("data", (d: Buffer) => {
  pending.push(d);
  if (pending.length > 8) process.stdin.pause();
});
process.stdin.on("end", () => {
  ended = true;
});
const timer = setInterval(() => {
  const all = Buffer.concat(pending);
  const now = all.subarray(0, bytes);
  pending = all.length > bytes ? [all.subarray(bytes)] : [];
  if (now.length > 0) process.stdout.write(now);
  if (pending.length <= 8) process.stdin.resume();
  if (ended && pending.length === 0) {
    clearInterval(timer);
    process.stdout.end();
  }
}, ms);
