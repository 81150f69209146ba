#!/bin/sh
# run_fuzz.sh TARGET NAME SEEDS REGRESS SECONDS - a short libFuzzer run of one
# dissector: the regression inputs first (each must pass), then SECONDS of fuzzing
# from the seeds. Fails on any crash, leak, timeout or sanitizer report.
set -eu
target=$1 name=$2 seeds=$3 regress=$4 secs=$5
work=$(dirname "$target")/fuzz-work/$name
mkdir -p "$work/corpus"
if [ -d "$regress/$name" ] && [ -n "$(ls -A "$regress/$name" 2>/dev/null)" ]; then
  "$target" -runs=0 "$regress/$name"/* >/dev/null 2>"$work/regress.log" || { cat "$work/regress.log"; exit 1; }
fi
[ -d "$seeds/$name" ] && cp -n "$seeds/$name"/* "$work/corpus/" 2>/dev/null || true
exec "$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus"
