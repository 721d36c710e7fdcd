#!/bin/sh
# scripts/paired_cells.py on a hand-made runs.csv whose answers are known: differences 1, 2, 3
# (mean 2, sd 1, paired t = 2√3 on 2 degrees of freedom, p = 0.07418) and 0.5, 0.51, 0.51; the Holm
# correction over the comparisons printed; the seeds two cells share; every error exit.
set -u
. tests/lib.sh
S=scripts/paired_cells.py
cat >"$TMP/runs.csv" <<CSV
cell,seed,ssim,psnr
a,1,1.0,10
a,2,2.0,10.5
a,3,3.0,11
a,4,9.0,12
b,1,0.0,9.5
b,2,0.0,9.99
b,3,0.0,10.49
c,1,5.0,1
CSV
# the default metrics include accuracy_output, which this file lacks: the error names the column
ERROR_STATUS=1 one_line_error "a metric that is not a column is named" "no column 'accuracy_output'" \
    "$S" "$TMP/runs.csv" a:b
"$S" "$TMP/runs.csv" a:b --metrics ssim,psnr >"$TMP/out.json" 2>"$TMP/err" ||
    not_ok "--metrics ssim,psnr exited non-zero: $(head -c 300 "$TMP/err")"
r=$("$PY" - "$TMP/out.json" <<'PY'
import json, math, sys
c = json.load(open(sys.argv[1]))
bad = []
s, p = c[0], c[1]
if s["seeds"] != [1, 2, 3]: bad.append("seeds %s, not the shared 1-3" % s["seeds"])
if s["differences"] != [1.0, 2.0, 3.0]: bad.append("ssim differences %s" % s["differences"])
if abs(s["mean"] - 2) > 1e-12 or abs(s["std"] - 1) > 1e-12: bad.append("mean/std %s/%s" % (s["mean"], s["std"]))
if abs(s["p"] - 0.0741799) > 1e-6: bad.append("p %s, not 0.0741799" % s["p"])
if s["beyond_2x_spread"] is not False: bad.append("2 is not beyond 2 x sd 1")
# psnr differences 0.5, 0.51, 0.51: beyond 2x their spread, p tiny; Holm over 2
if not p["beyond_2x_spread"]: bad.append("psnr not beyond 2x spread")
if p["p"] >= s["p"]: bad.append("psnr p %s not below ssim p" % p["p"])
if abs(p["p_holm"] - 2 * p["p"]) > 1e-12: bad.append("smallest p's Holm %s, not 2 x %s" % (p["p_holm"], p["p"]))
if abs(s["p_holm"] - max(s["p"], p["p_holm"])) > 1e-12: bad.append("second Holm %s" % s["p_holm"])
if s["holm_over"] != 2: bad.append("holm_over %s" % s["holm_over"])
print("; ".join(bad))
PY
)
check "a:b: the paired differences, mean, sd, t-test p and Holm over 2 are the known values" "$r"
ERROR_STATUS=1 one_line_error "a cell not in the file is named with the cells there" "cells: a, b, c" \
    "$S" "$TMP/runs.csv" a:z --metrics ssim
ERROR_STATUS=1 one_line_error "a pair without ':'" "must be A:B" "$S" "$TMP/runs.csv" ab --metrics ssim
ERROR_STATUS=1 one_line_error "cells sharing one seed cannot be paired" "share 1 seeds" \
    "$S" "$TMP/runs.csv" a:c --metrics ssim
ERROR_STATUS=1 one_line_error "a missing file is named" "$TMP/none.csv" "$S" "$TMP/none.csv" a:b
ERROR_STATUS=1 one_line_error "no pair" "at least one pair" "$S" "$TMP/runs.csv"
finish paired_cells
