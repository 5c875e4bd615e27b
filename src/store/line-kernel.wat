;; The line kernel: frames plain-ASCII lines and writes them as stored data records
;; (docs/FORMAT.md), many lines per call, 16 bytes at a time with SIMD128.
;;
;; Why: the collector spent most of its CPU per received line in JavaScript byte loops (the SWAR
;; plain-byte scan, the per-byte prefix writes) and in many small Buffer.copy calls (issue 20).
;; In the common case a line is printable ASCII, so its record is the prefix followed by the
;; line as is: one vector loop can find the LF, check the line is plain and copy it at once.
;; Everything else (escapes, UTF-8 validation) stays in escape.ts: this kernel only decides
;; when a line is plain and otherwise stops so that the caller writes that line.
;;
;; Regenerate the bytes after editing: `npm run build:kernel` (src/store/line-kernel-wasm.ts).
;; The wrapper is line-kernel.ts; test/line-kernel.test.ts checks the bytes match this file.
;;
;; Record written per line:  TIME SP SEQ SP "." SP PAYLOAD LF
;;   TIME     27 bytes written by the caller at PREFIX_AT before each call
;;   SEQ      decimal, no leading zeros, +1 per record
;;   PAYLOAD  the line without its LF; only called plain if every byte b is 0x20 <= b <= 0x7e
;;            and b != 0x5c (backslash), i.e. exactly the bytes escapeInto copies as is
;;
;; Memory (fixed: max = min, so it never grows and the caller's views stay valid):
;;   [0, 64)          the record prefix: TIME, SP, SEQ digits, SP "." SP (at most 48 bytes)
;;   [64, 84)         results: i32 input position, i32 output position, i32 records, i32 LF,
;;                    i32 prefix length (the prefix then holds the stopped line's seq)
;;   [128, +256 KiB)  the input window
;;   [OUT_AT, +384 KiB) the output area, then slack
;; Loads may read up to 16 bytes past the input window's end and stores may write up to 48
;; bytes past the output area's logical end (whole vectors, the prefix's 3 vectors): those
;; bytes are ignored or overwritten by the next record, and the layout keeps them in memory.
;; The output area is larger than the input window plus a prefix, so any plain line of a window
;; fits an empty output area (a FULL on an empty area can only mean the caller's room).
(module
  (memory (export "memory") 11 11)

  (global (export "PREFIX_AT") i32 (i32.const 0))
  (global (export "RESULT_AT") i32 (i32.const 64))
  (global (export "IN_AT") i32 (i32.const 128))
  (global (export "IN_SIZE") i32 (i32.const 262144))
  (global (export "OUT_AT") i32 (i32.const 262400)) ;; IN_AT + IN_SIZE + 128 bytes of slack
  (global (export "OUT_SIZE") i32 (i32.const 393216)) ;; ends 65408 bytes before the memory's end

  ;; Stop reasons returned by encode.
  ;;   0 NOLF  the line at the input position has no LF before the window's end (plain or not)
  ;;   1 SLOW  the line at the input position has an LF (its address is at RESULT_AT + 12) but
  ;;           is not plain or is longer than the limit: the caller writes it (line-kernel.ts
  ;;           escapes one within the limit itself, after the prefix left at PREFIX_AT)
  ;;   2 FULL  the line at the input position is plain but its record does not fit the output

  ;; Writes the decimal digits of $seq and SP "." SP after TIME SP; returns the prefix length.
  ;; Called once per call and when the digit count grows (seq 9 -> 10, 99 -> 100, ...).
  (func $set_seq (param $seq i64) (result i32)
    (local $digits i32) (local $t i64) (local $p i32)
    (local.set $digits (i32.const 1))
    (local.set $t (local.get $seq))
    (block $counted
      (loop $count
        (br_if $counted (i64.lt_u (local.get $t) (i64.const 10)))
        (local.set $t (i64.div_u (local.get $t) (i64.const 10)))
        (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
        (br $count)))
    (i32.store8 (i32.const 27) (i32.const 0x20))
    (local.set $p (i32.add (i32.const 28) (local.get $digits)))
    (i32.store8 (local.get $p) (i32.const 0x20))
    (i32.store8 (i32.add (local.get $p) (i32.const 1)) (i32.const 0x2e))
    (i32.store8 (i32.add (local.get $p) (i32.const 2)) (i32.const 0x20))
    (local.set $t (local.get $seq))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 0x30) (i32.wrap_i64 (i64.rem_u (local.get $t) (i64.const 10)))))
      (local.set $t (i64.div_u (local.get $t) (i64.const 10)))
      (br_if $digit (i32.gt_u (local.get $p) (i32.const 28))))
    (i32.add (i32.const 31) (local.get $digits)))

  ;; Address of the first LF in [$q, $end), or 0 if there is none. $q may be anywhere in a line
  ;; whose bytes before $q are known not to be LF.
  (func $find_lf (param $q i32) (param $end i32) (result i32)
    (local $mask i32) (local $n i32) (local $c0a v128)
    (local.set $c0a (i8x16.splat (i32.const 0x0a)))
    (loop $chunk
      (if (i32.ge_u (local.get $q) (local.get $end)) (then (return (i32.const 0))))
      (local.set $mask
        (i8x16.bitmask (i8x16.eq (v128.load (local.get $q)) (local.get $c0a))))
      ;; bytes past the window's end are not input
      (local.set $n (i32.sub (local.get $end) (local.get $q)))
      (if (i32.lt_u (local.get $n) (i32.const 16))
        (then (local.set $mask (i32.and (local.get $mask)
          (i32.sub (i32.shl (i32.const 1) (local.get $n)) (i32.const 1))))))
      (if (local.get $mask)
        (then (return (i32.add (local.get $q) (i32.ctz (local.get $mask))))))
      (local.set $q (i32.add (local.get $q) (i32.const 16)))
      (br $chunk))
    (i32.const 0))

  ;; Encodes the lines of input [$in, $in_end) as records into output [$out, $out_end),
  ;; numbering them from $seq (an integer below 2^53, passed as f64 so that the JS caller
  ;; needs no BigInt), each payload at most $limit bytes (unsigned). Stops at the first line
  ;; it cannot write (see the stop reasons); the positions reached and the number of records
  ;; are stored at RESULT_AT.
  (func (export "encode")
    (param $in i32) (param $in_end i32) (param $out i32) (param $out_end i32)
    (param $seq f64) (param $limit i32) (result i32)
    (local $s i64)        ;; the current record's seq, for rebuilding the digits
    (local $plen i32)     ;; prefix length: 31 + digits
    (local $q i32)        ;; input address of the 16-byte chunk being checked
    (local $w i32)        ;; output address that chunk's bytes go to
    (local $v v128)
    (local $v2 v128)
    (local $c20 v128) (local $c7f v128) (local $c5c v128)
    (local $fast_end i32) ;; the fast loop runs while q <= fast_end
    (local $mask i32)     ;; one bit per byte of the chunk that is not plain (LF included)
    (local $n i32)
    (local $len i32)
    (local $d i32)
    (local $b i32)
    (local $records i32)
    (local $reason i32)
    (local $lf i32)

    ;; The caller's bounds are trusted only as far as this memory's layout: clamp them so that
    ;; a wrong call reads and writes nothing outside the window and the output area.
    (if (i32.gt_u (local.get $in_end) (i32.const 262272)) ;; IN_AT + IN_SIZE
      (then (local.set $in_end (i32.const 262272))))
    (if (i32.lt_u (local.get $in) (i32.const 128))
      (then (local.set $in (i32.const 128))))
    (if (i32.gt_u (local.get $in) (local.get $in_end))
      (then (local.set $in (local.get $in_end))))
    (if (i32.gt_u (local.get $out_end) (i32.const 655616)) ;; OUT_AT + OUT_SIZE
      (then (local.set $out_end (i32.const 655616))))
    (if (i32.lt_u (local.get $out) (i32.const 262400))
      (then (local.set $out (i32.const 262400))))
    (if (i32.gt_u (local.get $out) (local.get $out_end))
      (then (local.set $out (local.get $out_end))))

    ;; A line longer than the window never has its LF in it, so a larger limit means nothing
    ;; more here; this bound keeps the fast loop's arithmetic below 2^31.
    (if (i32.gt_u (local.get $limit) (i32.const 262144))
      (then (local.set $limit (i32.const 262144))))

    ;; The compare constants live in locals: V8 (Node 24) materialised each v128.const inside
    ;; the loops on every step; in locals they stay in registers (37 -> 29 ns a line).
    (local.set $c20 (i8x16.splat (i32.const 0x20)))
    (local.set $c7f (i8x16.splat (i32.const 0x7f)))
    (local.set $c5c (i8x16.splat (i32.const 0x5c)))
    (local.set $s (i64.trunc_sat_f64_u (local.get $seq)))
    (local.set $plen (call $set_seq (local.get $s)))

    (block $stop
      (loop $line
        ;; The prefix goes first, as three whole vectors: the payload chunks stored after it
        ;; overwrite its unused tail. If the line turns out not to be written, nothing counted
        ;; was touched (the output position does not move).
        (v128.store (local.get $out) (v128.load (i32.const 0)))
        (v128.store offset=16 (local.get $out) (v128.load (i32.const 16)))
        (v128.store offset=32 (local.get $out) (v128.load (i32.const 32)))
        (local.set $q (local.get $in))
        (local.set $w (i32.add (local.get $out) (local.get $plen)))
        ;; Fast loop (29 -> 25 ns a line), 32 bytes a step, while the careful loop below would only copy: both chunks
        ;; before the window's last 16 bytes (q + 32 < in_end), within the limit
        ;; (q + 32 - in <= limit) and with room for both stores (w + 32 <= out_end). It stops at
        ;; the first 32 bytes holding a byte that is not plain, which the careful loop redoes.
        (local.set $fast_end (i32.sub (local.get $in_end) (i32.const 1)))
        (local.set $n (i32.add (local.get $in) (local.get $limit)))
        (if (i32.lt_s (local.get $n) (local.get $fast_end)) (then (local.set $fast_end (local.get $n))))
        (local.set $n (i32.sub (local.get $out_end) (i32.sub (local.get $w) (local.get $in))))
        (if (i32.lt_s (local.get $n) (local.get $fast_end)) (then (local.set $fast_end (local.get $n))))
        (local.set $fast_end (i32.sub (local.get $fast_end) (i32.const 32)))
        (block $fast_done
          (loop $fast
            (br_if $fast_done (i32.gt_s (local.get $q) (local.get $fast_end)))
            (local.set $v (v128.load (local.get $q)))
            (local.set $v2 (v128.load offset=16 (local.get $q)))
            (br_if $fast_done (v128.any_true (v128.or
              (v128.or
                (v128.or
                  (i8x16.lt_s (local.get $v) (local.get $c20))
                  (i8x16.eq (local.get $v) (local.get $c7f)))
                (i8x16.eq (local.get $v) (local.get $c5c)))
              (v128.or
                (v128.or
                  (i8x16.lt_s (local.get $v2) (local.get $c20))
                  (i8x16.eq (local.get $v2) (local.get $c7f)))
                (i8x16.eq (local.get $v2) (local.get $c5c))))))
            (v128.store (local.get $w) (local.get $v))
            (v128.store offset=16 (local.get $w) (local.get $v2))
            (local.set $q (i32.add (local.get $q) (i32.const 32)))
            (local.set $w (i32.add (local.get $w) (i32.const 32)))
            (br $fast)))
        (loop $chunk
          (local.set $v (v128.load (local.get $q)))
          ;; not plain: b < 0x20 or b >= 0x80 (one signed compare), DEL, backslash. LF is
          ;; below 0x20, so the first set bit is either the line's end or a byte to escape.
          (local.set $mask (i8x16.bitmask (v128.or
            (v128.or
              (i8x16.lt_s (local.get $v) (local.get $c20))
              (i8x16.eq (local.get $v) (local.get $c7f)))
            (i8x16.eq (local.get $v) (local.get $c5c)))))
          (local.set $n (i32.sub (local.get $in_end) (local.get $q)))
          (if (i32.lt_u (local.get $n) (i32.const 16))
            (then (local.set $mask (i32.and (local.get $mask)
              (i32.sub (i32.shl (i32.const 1) (local.get $n)) (i32.const 1))))))
          (if (i32.eqz (local.get $mask))
            (then
              ;; all plain, no LF
              (if (i32.le_u (local.get $n) (i32.const 16))
                (then
                  ;; the window ends in this chunk without the line's LF (whether the line
                  ;; is over the limit or not, only the caller can look further)
                  (local.set $reason (i32.const 0))
                  (br $stop)))
              (if (i32.gt_u (i32.sub (i32.add (local.get $q) (i32.const 16)) (local.get $in)) (local.get $limit))
                (then
                  ;; already longer than the limit: the caller truncates or refuses it
                  (local.set $reason (i32.const 1))
                  (local.set $lf (call $find_lf (i32.add (local.get $q) (i32.const 16)) (local.get $in_end)))
                  (br $stop)))
              ;; copy while the record could still fit; past that it cannot (its LF comes
              ;; later), so only the scan goes on, to tell FULL from SLOW
              (if (i32.lt_u (local.get $w) (local.get $out_end))
                (then (v128.store (local.get $w) (local.get $v))))
              (local.set $q (i32.add (local.get $q) (i32.const 16)))
              (local.set $w (i32.add (local.get $w) (i32.const 16)))
              (br $chunk)))
          ;; the first byte that is not plain
          (local.set $d (i32.ctz (local.get $mask)))
          (local.set $len (i32.sub (i32.add (local.get $q) (local.get $d)) (local.get $in)))
          (if (i32.ne (i32.load8_u (i32.add (local.get $q) (local.get $d))) (i32.const 0x0a))
            (then
              (local.set $reason (i32.const 1))
              (local.set $lf (call $find_lf (i32.add (local.get $q) (local.get $d)) (local.get $in_end)))
              (br $stop)))
          (if (i32.gt_u (local.get $len) (local.get $limit))
            (then
              (local.set $reason (i32.const 1))
              (local.set $lf (i32.add (local.get $q) (local.get $d)))
              (br $stop)))
          ;; a plain line of $len bytes: its record is $plen + $len + 1 bytes
          (if (i32.gt_u (i32.add (i32.add (local.get $plen) (local.get $len)) (i32.const 1))
                        (i32.sub (local.get $out_end) (local.get $out)))
            (then (local.set $reason (i32.const 2)) (br $stop)))
          ;; the record fits, so $w < $out_end: the last chunk carries the LF to its place
          (v128.store (local.get $w) (local.get $v)))

        (local.set $out (i32.add (i32.add (local.get $out) (local.get $plen))
                                 (i32.add (local.get $len) (i32.const 1))))
        (local.set $in (i32.add (i32.add (local.get $q) (local.get $d)) (i32.const 1)))
        (local.set $records (i32.add (local.get $records) (i32.const 1)))
        (local.set $s (i64.add (local.get $s) (i64.const 1)))

        ;; seq + 1 on the digits in place: the last digit is at $plen - 4
        (local.set $d (i32.sub (local.get $plen) (i32.const 4)))
        (block $incremented
          (loop $carry
            (local.set $b (i32.load8_u (local.get $d)))
            (if (i32.ne (local.get $b) (i32.const 0x39))
              (then
                (i32.store8 (local.get $d) (i32.add (local.get $b) (i32.const 1)))
                (br $incremented)))
            (i32.store8 (local.get $d) (i32.const 0x30))
            (if (i32.eq (local.get $d) (i32.const 28))
              (then
                ;; all nines: one more digit
                (local.set $plen (call $set_seq (local.get $s)))
                (br $incremented)))
            (local.set $d (i32.sub (local.get $d) (i32.const 1)))
            (br $carry)))
        (br $line)))

    ;; SLOW is only said of a line whose LF is in the window: otherwise the caller looks
    ;; further (a line longer than the window) and the answer is NOLF
    (if (i32.and (i32.eq (local.get $reason) (i32.const 1)) (i32.eqz (local.get $lf)))
      (then (local.set $reason (i32.const 0))))
    (i32.store (i32.const 64) (local.get $in))
    (i32.store (i32.const 68) (local.get $out))
    (i32.store (i32.const 72) (local.get $records))
    (i32.store (i32.const 76) (local.get $lf))
    (i32.store (i32.const 80) (local.get $plen))
    (local.get $reason))
)
