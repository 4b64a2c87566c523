#!/usr/bin/env bash
# run.sh — runs edgebench, the edge-cache comparison (examples/edge vs
# nginx, Varnish, Apache Traffic Server), from a checkout of edgekit.
#
#   bench/edgebench/run.sh [tiny|short|full|long] [more edgebench flags...]
#
# tiny: a smoke test (about 3 min); short: minutes; full: the run of record
# (10,000-request herd, 2,000 live viewers for 5 min, 5 min soak);
# long: full with a 30 min soak. Results go to $OUT (default
# bench/edgebench/out/<mode>): report.md, results.json, SVG plots; the
# servers' configs and logs stay in $WORK when it is set.
#
# Needs: Go, and the Debian packages named in README.md (nginx varnish
# trafficserver wrk); a target whose server is missing is reported as
# "not measured". Everything listens on 127.0.0.1 on free ports; every
# process started is killed (by its process group id) at the end.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
mode="${1:-short}"
[ $# -gt 0 ] && shift
out="${OUT:-$here/out/$mode}"
mkdir -p "$out"

# A 10,000-connection herd needs 10k descriptors in this process and as
# many in the server: raise the soft limit to the hard one.
hard="$(ulimit -Hn)"
if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then hard=65536; fi
ulimit -n "$hard" || true
echo "run.sh: ulimit -n $(ulimit -n); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$(ulimit -n)" -lt 20000 ] && [ "$mode" != tiny ] && [ "$mode" != short ]; then
	echo "run.sh: warning: ulimit -n $(ulimit -n) may be too low for a 10,000-request herd" >&2
fi

bin="$(mktemp -d /tmp/edgebench-bin.XXXXXX)"
trap 'rm -rf "$bin"' EXIT
(cd "$root/bench" && go build -o "$bin/edgebench" ./edgebench)
(cd "$root" && go build -o "$bin/edge" ./examples/edge) || echo "run.sh: examples/edge did not build; edgekit will be reported as not measured" >&2

args=(-mode "$mode" -out "$out")
[ -x "$bin/edge" ] && args+=(-edge-bin "$bin/edge")
[ -n "${WORK:-}" ] && args+=(-work "$WORK")
cd "$root"
"$bin/edgebench" "${args[@]}" "$@" 2>&1 | tee "$out/run.log"
echo "run.sh: results in $out/report.md"
