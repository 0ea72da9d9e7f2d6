#!/usr/bin/env bash
# Start-up time and peak memory of `mobilebert predict` on 10 lines, JIT (`dotnet MobileBert.Cli.dll`) vs NativeAOT
# (`-p:PublishAot=true`), each over RUNS fresh processes, on two models: the micro classifier that
# scripts/cli-smoke.sh fine-tunes (1M parameters) and a randomly initialised full-size `mobilebert` classifier (24.6M).
# Wall time: hyperfine (apt install hyperfine), mean ± σ over RUNS runs after 2 warm-ups, and the mean CPU time (user +
# system; less sensitive to a busy machine than wall time). Peak memory: max RSS from /usr/bin/time, median over RUNS
# runs. Prints a Markdown table.
# Usage: bash bench/aot-startup.sh [RUNS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
out=artifacts/bench-aot
for tool in hyperfine /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found (apt-get install hyperfine time)" >&2; exit 1; }
done
mkdir -p "$out"
jit_dll=src/MobileBert.Cli/bin/Release/net10.0/MobileBert.Cli.dll
aot_bin=$out/aot/MobileBert.Cli
dotnet build src/MobileBert.Cli -c Release -v quiet -nologo > "$out/build.log"
dotnet publish src/MobileBert.Cli -c Release -r linux-x64 -p:PublishAot=true -o "$out/aot" -v quiet -nologo > "$out/publish.log"
bash scripts/cli-smoke.sh "$out/micro" dotnet "$jit_dll" > "$out/smoke.log"
input=$out/micro/predict-in.jsonl
[ -d "$out/mobilebert" ] || dotnet "$jit_dll" init --preset mobilebert --heads classification \
  --vocab data/vocab/bert-base-uncased-vocab.txt --out "$out/mobilebert" 2> /dev/null

# peak_rss_mb CMD…: median over $runs runs of the maximum resident set size, in MB.
peak_rss_mb() {
  for _ in $(seq "$runs"); do /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -n 1; done \
    | sort -n | awk '{ v[NR] = $1 } END { printf "%.0f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1024 }'
}

echo "| model | build | wall time, start-up + 10 predictions (ms, mean ± σ) | CPU time, user + sys (ms, mean) | peak RSS (MB, median) |"
echo "|---|---|---|---|---|"
for model in micro/model mobilebert; do
  jit=(dotnet "$jit_dll" predict --model "$out/$model" --input "$input" --output /dev/null)
  aot=("$aot_bin" predict --model "$out/$model" --input "$input" --output /dev/null)
  hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/times.json" "${jit[*]}" "${aot[*]}" > "$out/hyperfine.log" 2>&1
  # Per command: mean, stddev, user, system (seconds) → milliseconds; CPU = user + system.
  read -r jm js jc am as ac < <(grep -E '"(mean|stddev|user|system)"' "$out/times.json" | sed -E 's/.*: ([0-9.e+-]+),?/\1/' \
    | awk '{ v[NR] = $1 * 1000 } END { printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", v[1], v[2], v[3] + v[4], v[5], v[6], v[7] + v[8] }')
  name=${model%%/*}
  echo "| $name | JIT | $jm ± $js | $jc | $(peak_rss_mb "${jit[@]}") |"
  echo "| $name | NativeAOT | $am ± $as | $ac | $(peak_rss_mb "${aot[@]}") |"
done
echo
echo "JIT:       $(dotnet "$jit_dll" info | sed -n 's/^simd: //p')"
echo "NativeAOT: $("$aot_bin" info | sed -n 's/^simd: //p')"
