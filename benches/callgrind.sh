#!/usr/bin/env bash
# Instructions per operation of the hot paths, wirebook beside the baseline,
# counted by callgrind (repeatable on a noisy machine). Setup is included:
# building the delta stream's frames is about 130 to 180 of the delta's
# ~2,080 instructions, under 1% of the others. Needs valgrind (apt-get install valgrind).
#
#   bash benches/callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench instructions --no-run 2>/dev/null
bin=$(ls -t target/release/deps/instructions-* | grep -v '\.d$' | head -1)
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" 2>&1 \
        | awk '/refs:/ { gsub(",", "", $4); print $4 }'
}
printf '%-10s %14s %14s %8s\n' workload wirebook baseline ratio
frames=$("$bin" replay-frames)
for pair in "delta 102400" "snapshot 2000" "read 200000" "replay $frames"; do
    set -- $pair
    w=$(count "$1"); b=$(count "$1-baseline")
    awk -v n="$1" -v ops="$2" -v w="$w" -v b="$b" \
        'BEGIN { printf "%-10s %14.0f %14.0f %7.1fx\n", n, w / ops, b / ops, b / w }'
done
# Interleaved: 8 books round robin in the simulator's format; building the
# frames costs more than reading them, so that setup is counted and taken off.
s=$(count interleaved-setup); w=$(count interleaved); b=$(count interleaved-baseline)
awk -v s="$s" -v w="$w" -v b="$b" \
    'BEGIN { printf "%-12s %12.0f %14.0f %7.1fx\n", "interleaved", (w - s) / 100000, (b - s) / 100000, (b - s) / (w - s) }'
l=$(count delta-latency)
awk -v l="$l" 'BEGIN { printf "%-10s %14.0f  (a delta parsed, then applied, with stamps between, latency recorded)\n", "delta+lat", l / 102400 }'
s=$(count record-setup); r=$(count record)
awk -v s="$s" -v r="$r" 'BEGIN { printf "%-10s %14.0f  (the latency recorder alone: one frame'"'"'s four stages and two wire clocks)\n", "record", (r - s) / 102400 }'
echo "(instructions per operation: a 2-change delta, a 50-level snapshot, a depth-10 read,"
echo " a frame of the fixed capture tests/data/capture/sim.cap, $frames frames, read into memory first,"
echo " a delta of 8 books interleaved as the simulator's flood writes them)"
