#!/usr/bin/env bash
# Runs the whole WLCS suite against Zion's integration and writes the counts.
#
#   run-suite.sh LIBZION_WLCS.so RESULTS.txt [LOG_DIR [PASSING.txt]]
#
# PASSING.txt is the regression gate: the committed list of tests that pass.
# The run fails, naming them, when a listed test no longer passes; tests
# that pass and are not listed are counted (add them with WLCS_UPDATE=1,
# which rewrites the list from this run instead of checking it).
#
# The tests are dealt round-robin into $WLCS_JOBS lists, each run by its own
# runner process with an explicit gtest filter. A test that fails by timing
# out waits WLCS's 10 s, and most of those (layer-shell) sit next to each
# other, so the deal spreads them; the processes mostly wait, not compute.
# A crash takes down one process, not the run: the test that was running is
# recorded as crashed and the process is started again with the tests of its
# list not yet done. A process that hangs past $WLCS_PROCESS_TIMEOUT seconds
# is treated the same way ("hung"). Per-test results go to
# LOG_DIR/results.tsv, the runner's output to LOG_DIR/*.log.
set -u

usage="usage: run-suite.sh LIBZION_WLCS.so RESULTS.txt [LOG_DIR [PASSING.txt]]"
so=${1:?$usage}
out=${2:?$usage}
logs=${3:-$(dirname "$so")/wlcs-logs}
passing=${4:-}
runner=${WLCS_RUNNER:-/usr/lib/x86_64-linux-gnu/wlcs/wlcs}
process_timeout=${WLCS_PROCESS_TIMEOUT:-1200}
jobs=${WLCS_JOBS:-12}

if [ ! -x "$runner" ]; then
    echo "wlcs: the runner $runner is not installed (Debian package wlcs; run session-files/dev/install-deps.sh)" >&2
    exit 1
fi
if [ ! -f "$so" ]; then
    echo "wlcs: $so is missing: build it with cargo build -p zion-wlcs" >&2
    exit 1
fi
rm -rf "$logs"
mkdir -p "$logs"
start=$(date +%s)

# Full test names (`Suite.test`, parameters as `/N`), in the runner's order.
"$runner" "$so" --gtest_list_tests | awk '
    /^[^ ]/ { suite = $1 }
    /^  /   { print suite $1 }
' >"$logs/all.txt"
total=$(wc -l <"$logs/all.txt")
if [ "$total" -eq 0 ]; then
    echo "wlcs: the runner lists no tests for $so" >&2
    exit 1
fi
awk -v n="$jobs" -v dir="$logs" '{ print > (dir "/list." (NR - 1) % n) }' "$logs/all.txt"

# run_list N: runs the tests of LOG_DIR/list.N and appends
# "name<TAB>passed|failed|skipped|crashed|hung" lines to LOG_DIR/list.N.tsv.
run_list() {
    local list=$logs/list.$1 attempt=0 rc last left
    : >"$list.tsv"
    while :; do
        attempt=$((attempt + 1))
        left=$(cut -f1 "$list.tsv" | grep -vxFf - "$list" | paste -sd: -)
        [ -z "$left" ] && break
        timeout --kill-after=10 "$process_timeout" "$runner" "$so" --gtest_filter="$left" \
            >"$list.$attempt.log" 2>&1
        rc=$?
        # gtest prints `[       OK ] Name (N ms)` and `[  FAILED  ] Name,
        # where GetParam() = ... (N ms)`; WLCS prints `[     SKIP ] Name (Nms)`.
        awk '
            /\([0-9]+ ?ms\)$/ {
                name = $4; sub(/,$/, "", name)
                if ($0 ~ /^\[       OK \] /) print name "\tpassed"
                else if ($0 ~ /^\[  FAILED  \] /) print name "\tfailed"
                else if ($0 ~ /^\[ *SKIP(PED)? *\] /) print name "\tskipped"
            }
        ' "$list.$attempt.log" >>"$list.tsv"
        # The test that started and never finished, if any.
        last=$(awk '
            /^\[ RUN      \] / { running = $4 }
            /^\[ *(OK|FAILED|SKIP|SKIPPED) *\] .* \([0-9]+ ?ms\)$/ { running = "" }
            END { print running }
        ' "$list.$attempt.log")
        if [ "$rc" -le 1 ] || [ -z "$last" ] || [ "$attempt" -gt 100 ]; then
            break
        fi
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            printf '%s\thung\n' "$last" >>"$list.tsv"
        else
            printf '%s\tcrashed (exit %s)\n' "$last" "$rc" >>"$list.tsv"
        fi
    done
}

for ((i = 0; i < jobs; i++)); do
    [ -f "$logs/list.$i" ] && run_list "$i" &
done
wait

cat "$logs"/list.*.tsv | sort -u >"$logs/results.tsv"
count() { awk -F'\t' -v r="$1" 'index($2, r) == 1' "$logs/results.tsv" | wc -l; }
passed=$(count passed)
failed=$(count failed)
skipped=$(count skipped)
crashed=$(count crashed)
hung=$(count hung)
seen=$(wc -l <"$logs/results.tsv")
# gtest never runs DISABLED_ tests, even when named in a filter.
disabled=$(grep -c 'DISABLED_' "$logs/all.txt")
elapsed=$(($(date +%s) - start))

{
    echo "# WLCS $(dpkg-query -W -f='${Version}' wlcs 2>/dev/null || echo '?') against zion-wlcs, $(date -u +%Y-%m-%d), $jobs runner processes"
    echo "total: $total"
    echo "passed: $passed"
    echo "failed: $((failed + crashed + hung))"
    echo "skipped: $skipped"
    echo "crashed: $crashed"
    echo "hung: $hung"
    echo "disabled by WLCS: $disabled"
    echo "not run: $((total - seen - disabled))"
    echo "seconds: $elapsed"
    echo
    echo "# per suite: passed failed skipped"
    awk -F'\t' '{
        n = split($1, parts, "."); s = parts[1]
        suites[s] = 1
        if ($2 == "passed") p[s]++
        else if ($2 == "skipped") k[s]++
        else f[s]++
    } END {
        for (s in suites) printf "%-56s %4d %4d %4d\n", s, p[s], f[s], k[s]
    }' "$logs/results.tsv" | sort
    if [ "$((crashed + hung))" -gt 0 ]; then
        echo
        echo "# crashed or hung"
        awk -F'\t' '$2 !~ /^(passed|failed|skipped)$/' "$logs/results.tsv"
    fi
} >"$out"
echo "wlcs: $passed passed, $((failed + crashed + hung)) failed ($crashed crashed, $hung hung), $skipped skipped of $total in ${elapsed}s; see $out and $logs/results.tsv"

# The regression gate.
[ -n "$passing" ] || exit 0
awk -F'\t' '$2 == "passed" { print $1 }' "$logs/results.tsv" | LC_ALL=C sort >"$logs/passed.txt"
if [ "${WLCS_UPDATE:-}" = 1 ]; then
    cp "$logs/passed.txt" "$passing"
    echo "wlcs: wrote the $(wc -l <"$passing") passing tests to $passing"
    exit 0
fi
if [ ! -f "$passing" ]; then
    echo "wlcs: $passing is missing: write it with WLCS_UPDATE=1 (make wlcs-update)" >&2
    exit 1
fi
# Listed tests without a pass, with what they did instead.
LC_ALL=C sort -u "$passing" | grep -v '^$' | awk -F'\t' '
    NR == FNR { result[$1] = $2; next }
    !($1 in result) || result[$1] != "passed" {
        print "  " $1 " (" ($1 in result ? result[$1] : "not run") ")"
    }
' "$logs/results.tsv" - >"$logs/regressed.txt"
new=$(LC_ALL=C comm -13 <(LC_ALL=C sort -u "$passing") "$logs/passed.txt" | wc -l)
if [ "$new" -gt 0 ]; then
    echo "wlcs: $new test(s) pass that $passing does not list; add them with make wlcs-update"
fi
if [ -s "$logs/regressed.txt" ]; then
    echo "wlcs: $(wc -l <"$logs/regressed.txt") test(s) listed in $passing no longer pass:" >&2
    cat "$logs/regressed.txt" >&2
    exit 1
fi
echo "wlcs: all $(grep -cv '^$' "$passing") listed tests pass"
