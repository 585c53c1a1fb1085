#!/bin/sh
# bench/peers.sh - the engine against its peers, measured in one run (make bench-peers):
#   1. yolox_nano.onnx: Aviary (XNNPACK backend) vs ONNX Runtime 1.30 (npm onnxruntime-node,
#      CPU provider), 1 and 2 threads;
#   2. CenterNet and NanoDet (TF.js graph models): Aviary vs TF.js 4.22 wasm+SIMD, 1 thread
#      (and Aviary on 2 threads); Aviary runs each as its manifest says (models/NAME.json
#      "precision": "int8": quantised with its table, bench_models -i) and, for an int8 one,
#      in float too, labelled;
#   3. the per-op profile of Aviary on the three models (bench_models -p).
# Peers and Aviary alternate, ROUNDS times, so a busy machine slows both alike; each figure is
# the median over the rounds of per-round medians, and ratios are peer / Aviary (> 1: Aviary is
# faster). The peers are installed once into a scratch folder from the npm registry with
# install scripts off (ONNX Runtime's post-install step fetches GPU parts; the CPU library is
# in the package). Benchmarks print; nothing here asserts a time.
#
# Environment: BUILD (build), AV_SHARED (../shared), AV_PEERS_DIR (scratch, default
# $TMPDIR/aviary-peers), AV_PEERS_ROUNDS (3), AV_PEERS_RUNS (20 timed runs per figure).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
SHARED=${AV_SHARED:-$ROOT/../shared}
SCRATCH=${AV_PEERS_DIR:-${TMPDIR:-/tmp}/aviary-peers}
ROUNDS=${AV_PEERS_ROUNDS:-3}
RUNS=${AV_PEERS_RUNS:-20}
BENCH="$ROOT/$BUILD/bench/bench_models"
YOLOX="$SHARED/models/perf/yolox_nano.onnx"
HUMAN="$ROOT/models/human"

fail() { echo "bench-peers: $*" >&2; exit 1; }
[ -x "$BENCH" ] || fail "$BENCH not built (make bench)"
[ -f "$YOLOX" ] || fail "$YOLOX not found (set AV_SHARED)"
[ -f "$HUMAN/centernet.json" ] || fail "$HUMAN/centernet.json not found (scripts/fetch-models)"
command -v node >/dev/null && command -v npm >/dev/null || fail "node and npm are needed for the peers"

# Copy a peer's folder from ../shared/reference and install its npm packages, scripts off.
install_peer() { # name npm-command
    if [ ! -d "$SCRATCH/$1/node_modules" ]; then
        echo "installing the $1 peer into $SCRATCH/$1 ($2 --ignore-scripts)"
        mkdir -p "$SCRATCH/$1"
        cp -r "$SHARED/reference/$1/." "$SCRATCH/$1/"
        (cd "$SCRATCH/$1" && npm $2 --ignore-scripts --no-audit --no-fund >/dev/null) ||
            fail "npm $2 failed in $SCRATCH/$1"
    fi
}
install_peer ort install
install_peer tfjs ci

# "median" figure of bench_models' line for a model, backend xnnpack, THREADS threads.
aviary_median() { # model threads [bench_models options] (sh has no locals: names of its own)
    am_model=$1 am_threads=$2
    shift 2
    "$BENCH" -x -n "$RUNS" "$@" "$am_model" |
        awk -v t="$am_threads" '$2 == "xnnpack" && $3 == t { for (i = 1; i < NF; i++) if ($i == "median") print $(i + 1) }'
}
# The int8 table a detector's manifest models/NAME.json runs with ("precision": "int8"), else
# nothing: Aviary is timed as the manifest runs it (bench_models -i), and in float too.
int8_table() { # name
    node -e "const m = require('$ROOT/models/$1.json');
             if (m.precision === 'int8') console.log('$ROOT/models/' + (m.calibration || m.name + '.int8.calib'))"
}
# Field of a JSON line on stdin by a JavaScript path, e.g. threads["1"].median_ms.
json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).$1))"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "bench-peers $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$ROUNDS rounds of $RUNS timed runs, peers and Aviary alternating"
for r in $(seq 1 "$ROUNDS"); do
    ort=$(node "$SCRATCH/ort/bench.js" "$YOLOX" 1,2 "$RUNS")
    echo "$ort" | json 'threads["1"].median_ms' >>"$T/ort1"
    echo "$ort" | json 'threads["2"].median_ms' >>"$T/ort2"
    for t in 1 2; do aviary_median "$YOLOX" $t >>"$T/yolox$t"; done
    tfjs=$(cd "$SCRATCH/tfjs" && HM_MODEL_DIR="$HUMAN" node bench.js --worker wasm 1 2>/dev/null)
    for m in centernet nanodet; do
        echo "$tfjs" | json "models.$m.inference_ms.median" >>"$T/tfjs_$m"
        q=$(int8_table $m)
        for t in 1 2; do
            aviary_median "$HUMAN/$m.json" $t >>"$T/${m}$t"
            [ -z "$q" ] || aviary_median "$HUMAN/$m.json" $t -i "$q" >>"$T/${m}_int8_$t"
        done
    done
    echo "round $r: ORT $(tail -n1 "$T/ort1")/$(tail -n1 "$T/ort2") ms, Aviary yolox $(tail -n1 "$T/yolox1")/$(tail -n1 "$T/yolox2") ms (1/2 threads)"
done

row() { # label peer-file aviary-file
    p=$(median <"$1"); a=$(median <"$2")
    awk -v l="$3" -v p="$p" -v a="$a" 'BEGIN { printf "| %s | %.2f ms | %.2f ms | %.2f |\n", l, p, a, p / a }'
}
echo
echo "| model, threads | peer median | Aviary median | peer / Aviary |"
echo "|---|---|---|---|"
row "$T/ort1" "$T/yolox1" "yolox_nano.onnx vs ONNX Runtime $(node -p "require('$SCRATCH/ort/node_modules/onnxruntime-node/package.json').version"), 1 thread"
row "$T/ort2" "$T/yolox2" "yolox_nano.onnx vs ONNX Runtime, 2 threads"
# each detector as its manifest runs it; an int8 one also in float, labelled
for m in centernet nanodet; do
    label=$([ $m = centernet ] && echo CenterNet || echo NanoDet)
    if [ -f "$T/${m}_int8_1" ]; then
        row "$T/tfjs_$m" "$T/${m}_int8_1" "$label (int8, its manifest's default) vs TF.js wasm SIMD (float), 1 thread"
        echo "| $label (int8, its manifest's default), Aviary 2 threads | - | $(median <"$T/${m}_int8_2") ms | - |"
        row "$T/tfjs_$m" "$T/${m}1" "$label float vs TF.js wasm SIMD, 1 thread"
        echo "| $label float, Aviary 2 threads | - | $(median <"$T/${m}2") ms | - |"
    else
        row "$T/tfjs_$m" "$T/${m}1" "$label vs TF.js wasm SIMD, 1 thread"
        echo "| $label, Aviary 2 threads | - | $(median <"$T/${m}2") ms | - |"
    fi
done
echo
echo "per-op profile (Aviary, XNNPACK backend; float):"
"$BENCH" -x -p -n "$RUNS" "$YOLOX" "$HUMAN/centernet.json" "$HUMAN/nanodet.json"
for m in centernet nanodet; do
    q=$(int8_table $m)
    [ -z "$q" ] || { echo "per-op profile of $m in int8 (its manifest's default, table $q):"
                     "$BENCH" -x -p -n "$RUNS" -i "$q" "$HUMAN/$m.json"; }
done
