#!/usr/bin/env bash
# A one-minute tour of the lower-level commands on bundled data: build the CLI, create a CPU-scale MobileBERT model
# folder with random weights (`init`), tokenize and encode the bundled sentences, and benchmark the full-size
# MobileBERT forward pass at batch 1 and 32, seq 128. Training is `pretrain`, `distill` and `finetune` (README).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-out/quickstart}
mkdir -p "$out"
echo "== build"
dotnet build -c Release src/MobileBert.Cli -v quiet -nologo
cli=(dotnet src/MobileBert.Cli/bin/Release/net10.0/MobileBert.Cli.dll)
echo "== init: mobilebert-small with pre-training heads → $out/model"
"${cli[@]}" init --preset mobilebert-small --heads pretraining --vocab data/vocab/bert-base-uncased-vocab.txt --out "$out/model"
echo "== tokenize: data/examples/sentences.jsonl (first 3 lines)"
head -n 3 data/examples/sentences.jsonl | "${cli[@]}" tokenize --vocab data/vocab/bert-base-uncased-vocab.txt
echo "== encode: data/examples/sentences.jsonl → $out/encoded.safetensors"
"${cli[@]}" encode --model "$out/model" --input data/examples/sentences.jsonl --output "$out/encoded.safetensors" --hidden-states --attentions
echo "== bench: full mobilebert preset (24 layers, 512/128), seq 128, 2 threads"
"${cli[@]}" bench --preset mobilebert --batch 1,32 --seq 128 --threads 2 --iterations 5 --min-seconds 2
