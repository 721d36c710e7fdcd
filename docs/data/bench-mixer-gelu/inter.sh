#!/bin/sh
# inter.sh OUT REPS BIN... : interleaved runs of bench binaries (and torch), modes all and bn, 2 threads
out=$1; reps=$2; shift 2
: > $out
for r in $(seq $reps); do
  for m in all bn; do
    for b in "$@"; do
      if [ "$b" = torch ]; then
        v=$(/usr/bin/python3 /work/wt/gelu/bench/torch_resnet.py --arch mixer --mode $m --input 1x28x28 --steps 12 --warmup 3 --threads ${THREADS:-2} --patch 4 --hidden 64 --tokens-mlp 32 --channels-mlp 256 --blocks 6 2>&1 | grep -o 'img_s=[0-9.]*')
      else
        v=$($b --arch mixer --mode $m --steps 12 --warmup 3 --threads ${THREADS:-2} | grep -o 'img_s=[0-9.]*')
      fi
      echo "$r $m $b $v $(cut -d' ' -f1 /proc/loadavg)" >> $out
    done
  done
done
