#!/usr/bin/env bash
# Smoke test of one build of the mobilebert CLI (JIT or NativeAOT) on bundled data: info, init, tokenize, encode,
# a torch.save test fixture encoded straight from its folder and after import --pytorch (the same bytes), finetune (a micro model, one epoch, ~10 s), predict on 10 lines, and a bad input line (one-line error, exit 1).
# Usage: scripts/cli-smoke.sh OUT_DIR CLI [ARGS…]
#   scripts/cli-smoke.sh out/smoke-jit dotnet src/MobileBert.Cli/bin/Release/net10.0/MobileBert.Cli.dll
#   scripts/cli-smoke.sh out/smoke-aot artifacts/aot/linux-x64/MobileBert.Cli
# Leaves OUT_DIR/model (the fine-tuned folder), OUT_DIR/predict-in.jsonl and OUT_DIR/predictions.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then echo "usage: scripts/cli-smoke.sh OUT_DIR CLI [ARGS…]" >&2; exit 2; fi
out=$1; shift
cli=("$@")
vocab=data/vocab/bert-base-uncased-vocab.txt
fail() { echo "error: cli smoke: $*" >&2; exit 1; }
rm -rf "$out"; mkdir -p "$out"

"${cli[@]}" info
"${cli[@]}" init --preset mobilebert-micro --heads pretraining --vocab "$vocab" --out "$out/init"
head -n 3 data/examples/sentences.jsonl | "${cli[@]}" tokenize --vocab "$vocab" > "$out/tokens.jsonl"
[ "$(grep -c '"input_ids":\[101,' "$out/tokens.jsonl")" -eq 3 ] || fail "tokenize: expected 3 lines starting with [CLS]"
"${cli[@]}" encode --model "$out/init" --input data/examples/sentences.jsonl --output "$out/encoded.safetensors"
[ -s "$out/encoded.safetensors" ] || fail "encode wrote nothing"
mkdir -p "$out/pt"
cp tests/MobileBert.Tests/golden/pytorch/bert_tiny_zip.bin "$out/pt/pytorch_model.bin"
cp tests/MobileBert.Tests/golden/model/bert_tiny/config.json "$out/pt/config.json"
head -n 1000 "$vocab" > "$out/pt/vocab.txt"   # the test model's 1000-token vocabulary: the first lines of the uncased one
"${cli[@]}" import --pytorch "$out/pt" --out "$out/pt-model"
"${cli[@]}" encode --model "$out/pt-model" --input data/examples/sentences.jsonl --output "$out/pt-encoded.safetensors"
[ -s "$out/pt-encoded.safetensors" ] || fail "encode on the imported PyTorch checkpoint wrote nothing"
"${cli[@]}" encode --model "$out/pt" --input data/examples/sentences.jsonl --output "$out/pt-direct.safetensors"
cmp -s "$out/pt-encoded.safetensors" "$out/pt-direct.safetensors" || fail "encode on pytorch_model.bin differs from encode on its import"
"${cli[@]}" finetune --init-config mobilebert-micro --vocab "$vocab" --task jsonl --train data/sentiment/yelp.json \
  --dev data/sentiment/amazon.json --label-column class --skip-bad-rows --epochs 1 --seq 32 --lr 2e-3 --seed 7 --threads 2 \
  --out "$out/model" > "$out/finetune.log"
{ cat data/examples/sentences.jsonl; echo '{"text": "The battery lasts all day."}'; } > "$out/predict-in.jsonl"
"${cli[@]}" predict --model "$out/model" --input "$out/predict-in.jsonl" --output "$out/predictions.jsonl"
[ "$(grep -c '"probabilities":{"0":' "$out/predictions.jsonl")" -eq 10 ] || fail "predict: expected 10 predictions"

printf 'fine\n\nalso fine\n' > "$out/bad.txt"
rc=0; "${cli[@]}" predict --model "$out/model" --input "$out/bad.txt" --output "$out/bad.jsonl" 2> "$out/bad.err" || rc=$?
[ "$rc" -eq 1 ] && [ "$(wc -l < "$out/bad.err")" -eq 1 ] && grep -q "^error: .*bad.txt:2" "$out/bad.err" \
  || fail "a blank input line should give one 'error: …bad.txt:2…' line and exit 1 (got exit $rc: $(head -c 300 "$out/bad.err"))"
echo "cli smoke passed: ${cli[*]}"
