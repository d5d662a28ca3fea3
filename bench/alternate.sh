#!/usr/bin/env bash
# Compares full TLS handshakes with a static certificate and with
# strongroom's hook by running the two benchmarks alternately, ROUNDS
# rounds of BENCHTIME each, from one compiled binary, so that the drift of
# a shared machine falls on both alike. Prints every round's handshakes/s,
# then the medians and their ratio (hook / static), sequential and
# parallel.
#
#   ROUNDS=12 BENCHTIME=2s ./alternate.sh
set -euo pipefail
cd "$(dirname "$0")"
rounds=${ROUNDS:-12}
benchtime=${BENCHTIME:-2s}
bin=$(mktemp -d)/bench.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" .

# rate NAME prints the handshakes/s of one run of sub-benchmark NAME
# ("static", "hook", "static/Parallel", "hook/Parallel").
rate() {
  local pattern="^BenchmarkCertHandshake\$/^${1%%/*}\$"
  case $1 in
    */Parallel) pattern="$pattern/^Parallel\$" ;;
    *) ;; # runs the Parallel form too (a pattern cannot exclude it); awk drops it
  esac
  "$bin" -test.run='^$' -test.benchtime="$benchtime" -test.bench="$pattern" |
    awk -v name="BenchmarkCertHandshake/$1-" 'index($1, name) == 1 {
      for (i = 1; i < NF; i++) if ($(i+1) == "handshakes/s") print $i }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2 }'; }

for mode in sequential parallel; do
  suffix=""
  [ "$mode" = parallel ] && suffix=/Parallel
  : >"$bin.static" && : >"$bin.hook"
  for r in $(seq 1 "$rounds"); do
    s=$(rate "static$suffix")
    h=$(rate "hook$suffix")
    echo "$s" >>"$bin.static"
    echo "$h" >>"$bin.hook"
    printf '%s round %2d: static %8.1f  hook %8.1f  ratio %.3f\n' "$mode" "$r" "$s" "$h" "$(awk -v a="$h" -v b="$s" 'BEGIN { print a / b }')"
  done
  ms=$(median <"$bin.static")
  mh=$(median <"$bin.hook")
  printf '%s medians: static %.1f  hook %.1f handshakes/s  ratio %.3f\n' "$mode" "$ms" "$mh" "$(awk -v a="$mh" -v b="$ms" 'BEGIN { print a / b }')"
done
