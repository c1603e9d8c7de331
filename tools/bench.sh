#!/bin/bash
# bench.sh - `make bench`: what tracing costs a process, and what
# leakscope costs itself.  Prints a table and writes build/bench.txt.
#
#  1. churn: malloc+free pairs of mixed sizes in THREADS threads, in ns
#     per pair: untraced, probes with empty programs (the floor), full
#     stacks, --sample-bytes 524288, and probes without placement.
#     RUNS interleaved runs per mode, median reported.
#  2. redis-server under redis-benchmark on loopback: requests/s
#     untraced, traced, traced with sampling.
#  3. scale: 1,000,000 outstanding blocks on 10,000 stacks: time to
#     produce one report, and leakscope's peak RSS.
#  4. python: Debian's python3.11 allocating 1 KiB bytes objects 12
#     Python frames deep, ns per allocation (+ its free): untraced,
#     traced with native stacks only, traced with Python frames.
#
#  5. deep: churn_deep (no frame pointers, -O2 as dpkg-buildflags gives)
#     allocating via libc's strndup 16 frames down, ns per pair:
#     untraced, floor, --unwind fp, --unwind dwarf (default), dwarf with
#     --sample-bytes.
#
#  6. detach: attach and detach times of one process (leaks fixture):
#     start to the "tracing" line, and Ctrl-C to exit, median of RUNS.
#
#   tools/bench.sh [churn] [redis] [scale] [python] [deep] [detach]   (default: all six)
set -euo pipefail
cd "$(dirname "$0")/.."

B=build
LS=$B/leakscope
ITER=${ITER:-300000}
THREADS=${THREADS:-2}
RUNS=${RUNS:-5}
OUT=$B/bench.txt
SAMPLE=524288

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
result() { sed -n 's/.*RESULT ns_per_pair=//p' | tail -1; }

churn() {	# mode -> ns per pair (one run)
	case $1 in
	untraced) $B/churn $((ITER * 10)) "$THREADS" 2>&1 | result ;;
	floor)    $LS --empty-probes -n 1 -- $B/churn "$ITER" "$THREADS" 2>&1 | result ;;
	full)     $LS -n 1 -- $B/churn "$ITER" "$THREADS" 2>&1 | result ;;
	sampled)  $LS --sample-bytes $SAMPLE -n 1 -- $B/churn "$ITER" "$THREADS" 2>&1 | result ;;
	noplace)  $LS --no-placement -n 1 -- $B/churn $((ITER / 10)) "$THREADS" 2>&1 | result ;;
	esac
}

declare -A NS RPS DEEP

deep() {	# mode -> ns per pair (one run)
	case $1 in
	untraced) $B/churn_deep $((ITER * 5)) "$THREADS" 2>&1 | result ;;
	floor)    $LS --empty-probes -n 1 -- $B/churn_deep "$ITER" "$THREADS" 2>&1 | result ;;
	fp)       $LS --unwind fp -n 1 -- $B/churn_deep "$ITER" "$THREADS" 2>&1 | result ;;
	dwarf)    $LS -n 1 -- $B/churn_deep "$ITER" "$THREADS" 2>&1 | result ;;
	sampled)  $LS --sample-bytes $SAMPLE -n 1 -- $B/churn_deep "$ITER" "$THREADS" 2>&1 | result ;;
	esac
}

bench_deep() {
	local mode r
	for mode in untraced floor fp dwarf sampled; do : > "$B/bench.deep.$mode"; done
	for ((r = 1; r <= RUNS; r++)); do
		for mode in untraced floor fp dwarf sampled; do
			deep $mode >> "$B/bench.deep.$mode"
		done
	done
	for mode in untraced floor fp dwarf sampled; do
		DEEP[$mode]=$(median < "$B/bench.deep.$mode")
	done
	# the tables: rows and build time of libc, libstdc++, python3.11
	TABLES=$($LS probes -v -- /usr/bin/python3.11 2>&1 | grep -E "^  table|^  no table" || true)
}

bench_churn() {
	local mode r
	for mode in untraced floor full sampled noplace; do : > "$B/bench.$mode"; done
	for ((r = 1; r <= RUNS; r++)); do
		for mode in untraced floor full sampled noplace; do
			churn $mode >> "$B/bench.$mode"
		done
	done
	for mode in untraced floor full sampled noplace; do
		NS[$mode]=$(median < "$B/bench.$mode")
	done
}

redis_rps() {	# port -> mean requests/s over SET, GET, LPUSH, LPOP
	redis-benchmark -p "$1" -q -n 100000 -c 20 -t set,get,lpush,lpop --csv 2>/dev/null |
		awk -F'"' 'NR > 1 {s += $4; n++} END {printf "%.0f", s / n}'
}

bench_redis() {
	local port=16379 pid obj="" ls
	if ! command -v redis-server >/dev/null; then
		echo "bench: redis-server missing (make bench installs it)" >&2
		return 1
	fi
	redis-server --port $port --bind 127.0.0.1 --save "" --appendonly no \
		--daemonize no >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
	# Debian's redis uses jemalloc: probe the allocator it really calls
	lib=$(awk '$6 ~ /libjemalloc/ {print $6; exit}' /proc/$pid/maps)
	[ -n "$lib" ] && obj="--obj $lib"
	RPS[untraced]=$(redis_rps $port)
	for mode in full sampled; do
		extra=""
		[ $mode = sampled ] && extra="--sample-bytes $SAMPLE"
		# shellcheck disable=SC2086
		$LS $obj $extra -p $pid 3600 >/dev/null 2>"$B/bench.redis.err" &
		ls=$!
		for _ in $(seq 100); do grep -q "tracing PID" "$B/bench.redis.err" && break; sleep 0.1; done
		RPS[$mode]=$(redis_rps $port)
		kill -INT $ls; wait $ls || true
	done
	RPS[again]=$(redis_rps $port)	# after detach: back to untraced speed
	kill $pid; wait $pid 2>/dev/null || true
	REDIS_ALLOC=${lib:-libc}
}

bench_scale() {	# the slowest report with all 1M blocks outstanding
	$LS -v -n 10 1 -- $B/scale 6 >/dev/null 2>"$B/bench.scale.err"
	SCALE=$(awk '/leakscope: report: / && $5 >= 1000000 {print $3, $5, $9}' \
		"$B/bench.scale.err" | sort -k3 -n | tail -1)
	# the timeline's once-a-second sample of every stack (the slowest)
	TL_SAMPLE_MS=$(awk '/leakscope: report: / && $5 >= 1000000 {print $16}' \
		"$B/bench.scale.err" | sort -n | tail -1)
	RSS=$(sed -n 's/.*peak RSS \([0-9.]*\) MiB.*/\1/p' "$B/bench.scale.err" | tail -1)
}

PY=${PY:-/usr/bin/python3.11}
pyalloc() {	# mode -> ns per allocation (one run)
	case $1 in
	untraced) $PY tools/bench/pyalloc.py 2000000 | result_py ;;
	native)   $LS --no-python -n 1 -- $PY tools/bench/pyalloc.py 300000 2>/dev/null | result_py ;;
	python)   $LS -n 1 -- $PY tools/bench/pyalloc.py 300000 2>/dev/null | result_py ;;
	esac
}
result_py() { sed -n 's/.*RESULT ns_per_op=//p' | tail -1; }

declare -A PYNS
bench_python() {
	local mode r
	[ -x "$PY" ] || { echo "bench: $PY missing" >&2; return 1; }
	for mode in untraced native python; do : > "$B/bench.py.$mode"; done
	for ((r = 1; r <= RUNS; r++)); do
		for mode in untraced native python; do
			pyalloc $mode >> "$B/bench.py.$mode"
		done
	done
	for mode in untraced native python; do
		PYNS[$mode]=$(median < "$B/bench.py.$mode")
	done
}

ms_now() { echo $(($(date +%s%N) / 1000000)); }

bench_detach() {	# one process: attach (to "tracing") and Ctrl-C to exit, in ms
	local r fifo=$B/bench.detach.fifo fx ls t0 t1 t2
	: > "$B/bench.attach"; : > "$B/bench.detach"
	for ((r = 1; r <= RUNS; r++)); do
		rm -f "$fifo"; mkfifo "$fifo"
		sleep 30 > "$fifo" &
		$B/fixtures/leaks wait < "$fifo" > /dev/null &
		fx=$!
		sleep 0.2
		t0=$(ms_now)
		$LS -p $fx 3600 > /dev/null 2> "$B/bench.detach.err" &
		ls=$!
		until grep -q "tracing PID" "$B/bench.detach.err"; do sleep 0.01; done
		t1=$(ms_now)
		sleep 1
		t2=$(ms_now)
		kill -INT $ls; wait $ls || true
		echo $((t1 - t0)) >> "$B/bench.attach"
		echo $(($(ms_now) - t2)) >> "$B/bench.detach"
		kill $fx 2>/dev/null; wait $fx 2>/dev/null || true
		rm -f "$fifo"
	done
	ATTACH_MS=$(median < "$B/bench.attach")
	DETACH_MS=$(median < "$B/bench.detach")
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

PARTS=${*:-churn redis scale python deep detach}
for part in $PARTS; do
	case $part in
	churn) bench_churn ;;
	redis) bench_redis || true ;;
	scale) bench_scale ;;
	python) bench_python || true ;;
	deep) bench_deep ;;
	detach) bench_detach ;;
	*) echo "bench: unknown part '$part' (churn, redis, scale, python, deep, detach)" >&2; exit 2 ;;
	esac
done

{
	echo "leakscope benchmark ($(date -u +%F), $(uname -r), $(nproc) CPUs)"
	echo
	if [ -n "${NS[floor]:-}" ]; then
	echo "churn: malloc+free pairs, mixed sizes, $THREADS threads, median of $RUNS runs"
	printf "  %-34s %10s %10s\n" "mode" "ns/pair" "x floor"
	printf "  %-34s %10s %10s\n" "untraced" "${NS[untraced]}" "-"
	printf "  %-34s %10s %10s\n" "probes, empty programs (floor)" "${NS[floor]}" "1.00"
	printf "  %-34s %10s %10s\n" "leakscope, full stacks" "${NS[full]}" "$(ratio "${NS[full]}" "${NS[floor]}")"
	printf "  %-34s %10s %10s\n" "leakscope --sample-bytes $SAMPLE" "${NS[sampled]}" "$(ratio "${NS[sampled]}" "${NS[floor]}")"
	printf "  %-34s %10s %10s\n" "leakscope, no probe placement" "${NS[noplace]}" "$(ratio "${NS[noplace]}" "${NS[floor]}")"
	echo
	fi
	if [ -n "${DEEP[floor]:-}" ]; then
	echo "deep: pairs 16 frames down through libc's strndup, no frame pointers, $THREADS threads, median of $RUNS runs"
	printf "  %-34s %10s %10s\n" "mode" "ns/pair" "x floor"
	printf "  %-34s %10s %10s\n" "untraced" "${DEEP[untraced]}" "-"
	printf "  %-34s %10s %10s\n" "probes, empty programs (floor)" "${DEEP[floor]}" "1.00"
	printf "  %-34s %10s %10s\n" "leakscope --unwind fp" "${DEEP[fp]}" "$(ratio "${DEEP[fp]}" "${DEEP[floor]}")"
	printf "  %-34s %10s %10s\n" "leakscope --unwind dwarf" "${DEEP[dwarf]}" "$(ratio "${DEEP[dwarf]}" "${DEEP[floor]}")"
	printf "  %-34s %10s %10s\n" "leakscope dwarf --sample-bytes $SAMPLE" "${DEEP[sampled]}" "$(ratio "${DEEP[sampled]}" "${DEEP[floor]}")"
	[ -n "${TABLES:-}" ] && { echo "  unwind tables (leakscope -v probes -- python3.11):"; echo "$TABLES"; }
	echo
	fi
	if [ -n "${RPS[untraced]:-}" ]; then
		echo "redis-server ($REDIS_ALLOC) under redis-benchmark, mean of SET/GET/LPUSH/LPOP"
		printf "  %-34s %10s %10s\n" "mode" "req/s" "x untraced"
		printf "  %-34s %10s %10s\n" "untraced" "${RPS[untraced]}" "1.00"
		printf "  %-34s %10s %10s\n" "traced, full stacks" "${RPS[full]}" "$(ratio "${RPS[full]}" "${RPS[untraced]}")"
		printf "  %-34s %10s %10s\n" "traced, --sample-bytes $SAMPLE" "${RPS[sampled]}" "$(ratio "${RPS[sampled]}" "${RPS[untraced]}")"
		printf "  %-34s %10s %10s\n" "after detach" "${RPS[again]}" "$(ratio "${RPS[again]}" "${RPS[untraced]}")"
		echo
	fi
	if [ -n "${PYNS[untraced]:-}" ]; then
		echo "python: $PY, 1 KiB bytes objects 12 Python frames deep, median of $RUNS runs"
		printf "  %-34s %10s\n" "mode" "ns/alloc"
		printf "  %-34s %10s\n" "untraced" "${PYNS[untraced]}"
		printf "  %-34s %10s\n" "traced, --no-python" "${PYNS[native]}"
		printf "  %-34s %10s\n" "traced, Python frames" "${PYNS[python]}"
		echo
	fi
	if [ -n "${DETACH_MS:-}" ]; then
		echo "one process: attach ${ATTACH_MS} ms (start to tracing), Ctrl-C to exit ${DETACH_MS} ms" \
			"(final report and detach), median of $RUNS"
		echo
	fi
	if [ -n "${SCALE:-}" ]; then
		set -- $SCALE
		echo "scale: one report of $2 outstanding blocks on $1 stacks: $3 ms (slowest);" \
			"the timeline's sample of every stack ${TL_SAMPLE_MS:-?} ms (slowest);" \
			"leakscope peak RSS $RSS MiB"
	fi
} | tee "$OUT"
