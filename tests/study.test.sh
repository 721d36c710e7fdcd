#!/bin/sh
# scripts/study.py end to end on a tiny grid (2 variants × 2 seeds of the tests' ResNet-8 staged
# run on synthetic data, a few seconds): the dry run lists the runs; runs stopped early continue
# from last.h5; a study killed mid-grid and restarted repeats no finished run and ends with the
# same bits as runs made straight through; the report has every variant; each finished run leaves
# a result record, --record archives finished runs into results_dir, and a study with the records
# but no checkpoints (a fresh clone) counts them done and reports the same numbers; a run that
# ended as the study was stopped (no done marker) is done, not resumed; bad study
# files, unknown variants, a directory or a record of another config are one-line errors.
set -u
. tests/lib.sh
STUDY=scripts/study.py
export PIPELINE="$PIPE"
tiny_staged_ini "$TMP/base.ini" base 1 "[data]" "synthetic_train = 128" "synthetic_test = 64"
cat > "$TMP/s.ini" <<INI
[study]
config = $TMP/base.ini
seeds = 1, 2
out_dir = $TMP/out
description = tiny test grid
[all]
pipeline.recalibrate_batches = 2
[variant control]
pipeline.reinit = false
[variant zero]
pipeline.reinit_gamma = zero
pipeline.reinit_beta = keep
INI
ERROR_STATUS=2  # the scripts' user errors
script_error() { _desc=$1 _pattern=$2; shift 2; one_line_error "$_desc" "$_pattern" "$PY" "$STUDY" "$@"; }

"$PY" "$STUDY" "$TMP/s.ini" --dry-run > "$TMP/dry" 2>&1 || not_ok "dry run: $(tail -1 "$TMP/dry")"
check "dry run: four new runs" "$([ "$(grep -c ' new ' "$TMP/dry")" = 4 ] || cat "$TMP/dry")"
[ ! -e "$TMP/out" ] && ok "dry run writes nothing" || not_ok "dry run writes nothing"

# every run stops after 3 steps: all partial; then the study continues them from last.h5
"$PY" "$STUDY" "$TMP/s.ini" --stop-after-steps 3 > "$TMP/p.log" 2>&1 || not_ok "stopped study: $(tail -1 "$TMP/p.log")"
"$PY" "$STUDY" "$TMP/s.ini" --dry-run > "$TMP/dry2" 2>&1
check "stopped early: four partial runs at step 3" \
    "$([ "$(grep -c ' partial  stage 0, epoch 0, step 3' "$TMP/dry2")" = 4 ] || cat "$TMP/dry2")"
grep -q "resume $TMP/out/control/seed-1/last.h5" "$TMP/dry2" && ok "dry run: partial runs resume from last.h5" ||
    not_ok "dry run: partial runs resume from last.h5"
check "stopped early: each run reported as stopped as asked" \
    "$([ "$(grep -c ': stopped as asked' "$TMP/p.log")" = 4 ] || cat "$TMP/p.log")"
# A requested stop is known by the exit status (EXIT_STOPPED), not by what the run printed: a
# pipeline whose runs print nothing is still "stopped as asked", and its run is not marked done.
printf '#!/bin/sh\ncase $1 in run|resume) "%s" "$@" >/dev/null 2>&1 ;; *) exec "%s" "$@" ;; esac\n' \
    "$(cd "$(dirname "$PIPE")" && pwd)/$(basename "$PIPE")" "$(cd "$(dirname "$PIPE")" && pwd)/$(basename "$PIPE")" > "$TMP/mute"
chmod +x "$TMP/mute"
PIPELINE="$TMP/mute" "$PY" "$STUDY" "$TMP/s.ini" --out "$TMP/mute-out" --only control --stop-after-steps 2 \
    > "$TMP/mute.log" 2>&1
check "a silent run stopped as asked is known by its exit status" \
    "$(grep -q '^control/seed-1: stopped as asked' "$TMP/mute.log" && [ ! -e "$TMP/mute-out/control/seed-1/done" ] ||
       cat "$TMP/mute.log")"

# kill the study once a run has finished, then restart it
"$PY" "$STUDY" "$TMP/s.ini" > "$TMP/k.log" 2>&1 &
pid=$!
i=0
while [ ! -e "$TMP/out/control/seed-1/done" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -TERM $pid
wait $pid
rc=$?
check "killed study exits non-zero" "$([ "$rc" -ne 0 ] || echo "exit 0: it finished before the kill")"
done_before=""
for d in "$TMP"/out/*/seed-*; do
    [ -e "$d/done" ] && done_before="$done_before $d:$(stat -c %i "$d/stage-02.h5")"
done
check "killed after at least one finished run" "$([ -n "$done_before" ] || echo none)"
"$PY" "$STUDY" "$TMP/s.ini" > "$TMP/r.log" 2>&1 || not_ok "restarted study: $(tail -1 "$TMP/r.log")"
r=""
for item in $done_before; do
    d=${item%%:*} inode=${item#*:}
    name=$(echo "$d" | sed "s#^$TMP/out/##")
    grep -q "^$name: done, skipped" "$TMP/r.log" || r="$r $name not skipped;"
    [ "$(stat -c %i "$d/stage-02.h5")" = "$inode" ] || r="$r $name rewritten;"
done
check "restart repeats no finished run" "$r"
check "restart finishes every run" "$([ "$(ls "$TMP"/out/*/seed-*/done | wc -l)" = 4 ] || ls "$TMP"/out/*/*)"
"$PY" "$STUDY" "$TMP/s.ini" > "$TMP/r2.log" 2>&1
check "a finished study runs nothing" "$([ "$(grep -c 'done, skipped' "$TMP/r2.log")" = 4 ] || cat "$TMP/r2.log")"

# a run that ended just as the study was stopped (final stage file written, last.h5 still there,
# no done marker, no record) is done: the study writes its marker and record and starts nothing;
# a run whose newest stage file is not the schedule's last (stage-02.h5 moved away) stays partial
c1=$TMP/out/control/seed-1 z1=$TMP/out/zero/seed-1
cp "$TMP/out/control/seed-1.json" "$TMP/c1.json"
rm "$c1/done" "$TMP/out/control/seed-1.json"
mkdir "$TMP/aside" && mv "$z1/done" "$z1/stage-02.h5" "$TMP/out/zero/seed-1.json" "$TMP/aside/"
"$PY" "$STUDY" "$TMP/s.ini" --dry-run > "$TMP/ended.dry" 2>&1
mv "$TMP/aside/done" "$TMP/aside/stage-02.h5" "$z1/" && mv "$TMP/aside/seed-1.json" "$TMP/out/zero/"
check "dry run: a run ended without its done marker is done, one stopped after stage 1 partial" \
    "$(grep -q '^control/seed-1  *done ' "$TMP/ended.dry" && grep -q '^zero/seed-1  *partial  stage 2, epoch 1' "$TMP/ended.dry" &&
       [ ! -e "$c1/done" ] || cat "$TMP/ended.dry")"
printf '#!/bin/sh\necho "$*" >> "%s/calls"\nexec "%s" "$@"\n' "$TMP" "$(cd "$(dirname "$PIPE")" && pwd)/$(basename "$PIPE")" > "$TMP/logpipe"
chmod +x "$TMP/logpipe"
before=$(stat -c %i.%Y "$c1/stage-02.h5" "$c1/last.h5")
PIPELINE="$TMP/logpipe" "$PY" "$STUDY" "$TMP/s.ini" > "$TMP/ended.log" 2>&1 || not_ok "study after a lost done marker: $(tail -1 "$TMP/ended.log")"
r=""
grep -q '^control/seed-1: done, skipped (done marker and result record written)$' "$TMP/ended.log" || r="$r not skipped: $(head -c 300 "$TMP/ended.log");"
grep -v -e '^help-config' -e '^plan ' "$TMP/calls" > "$TMP/calls.run" && r="$r pipeline started: $(head -c 200 "$TMP/calls.run");"
[ "$(stat -c %i.%Y "$c1/stage-02.h5" "$c1/last.h5")" = "$before" ] || r="$r files rewritten;"
grep -q '"final": "stage-02.h5"' "$c1/done" || r="$r done marker: $(cat "$c1/done" 2>&1);"
cmp -s "$TMP/c1.json" "$TMP/out/control/seed-1.json" || r="$r record missing or different;"
check "a run ended without its done marker: marker and record written, nothing runs" "$r"

# every finished run has its result record (default results_dir: out_dir), with the run's
# fingerprint and its final stage file's numbers
r=$("$PY" - "$TMP/out" 2>&1 <<'PY'
import glob, json, sys
sys.path.insert(0, "scripts")
import revive_h5
out = sys.argv[1]
fp = json.load(open(out + "/study.json"))["runs"]
for name in ("control/seed-1", "control/seed-2", "zero/seed-1", "zero/seed-2"):
    try:
        rec = json.load(open(f"{out}/{name}.json"))
    except OSError as e:
        print(f"{name}: no record ({e.strerror});")
        continue
    run = revive_h5.load(f"{out}/{name}/stage-02.h5")
    if rec["fingerprint"] != fp[name]["fingerprint"] or rec["run"] != name:
        print(f"{name}: fingerprint or name;")
    if [s["acc_end"] for s in rec["stages"]] != [s["acc_end"] for s in run["stages"]]:
        print(f"{name}: acc_end differs;")
    if rec["stages"][2]["gamma"] != [float(str(g)) for g in run["stages"][2]["gamma"].astype("float32")]:
        print(f"{name}: gamma differs;")
    if rec["hist"]["gamma_below_tau"] != list(run["hist"]["gamma_below_tau"]) or not rec["wall_minutes"] > 0:
        print(f"{name}: history or wall minutes;")
    want = [p["commit"] for p in run["provenance"]]  # which revive made it, per process start
    if not want or not all(want) or [p.get("commit") for p in rec.get("provenance", [])] != want:
        print(f"{name}: provenance commits {rec.get('provenance')} (file: {want});")
PY
)
check "each finished run writes its result record" "$r"

# wall minutes: the sum of wall.txt when it has a line per process; unknown (None) when a
# process has none (killed with its study: counting the span would add the pause before the
# resume); the span from the first start without wall.txt (an older study.py)
r=$("$PY" - "$TMP/wall" 2>&1 <<'PY'
import os, sys
sys.path.insert(0, "scripts")
from study_records import wall_minutes
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
start = "revive 0.1 (commit x)  host vm  started 2026-12-01T14:51:41Z  command: pipeline run\n"
with open(d + "/log.txt", "w") as f:
    f.write("\n$ pipeline run c.ini\n" + start + "\n$ pipeline resume last.h5\n" + start)
final = d + "/stage-00.h5"
open(final, "w").close()
r = {"dir": d}
out = []
with open(d + "/wall.txt", "w") as f:
    f.write("60 0\n")
if wall_minutes(r, final) is not None:
    out.append(f"one line of two: {wall_minutes(r, final)}, not None")
with open(d + "/wall.txt", "a") as f:
    f.write("120 0\n")
if wall_minutes(r, final) != 3.0:
    out.append(f"two lines of two: {wall_minutes(r, final)}, not 3.0")
os.remove(d + "/wall.txt")
if not (wall_minutes(r, final) or 0) > 0:
    out.append(f"no wall.txt: {wall_minutes(r, final)}, not the span")
print("; ".join(out))
PY
)
check "wall minutes: a process without its line makes them unknown, not the span" "$r"

# the stopped, killed and resumed runs end with the bits of runs made straight through
r=""
for v in control zero; do
    sets="--set pipeline.recalibrate_batches=2"
    [ $v = control ] && sets="$sets --set pipeline.reinit=false"
    [ $v = zero ] && sets="$sets --set pipeline.reinit_gamma=zero --set pipeline.reinit_beta=keep"
    # shellcheck disable=SC2086
    "$PIPE" run "$TMP/base.ini" $sets --set run.seed=2 --set run.threads=1 --out "$TMP/straight-$v" > /dev/null 2>&1 || r="$r $v straight run failed;"
    for g in /params /running /stats; do
        h5diff -q "$TMP/straight-$v/stage-02.h5" "$TMP/out/$v/seed-2/stage-02.h5" $g $g || r="$r $v $g differs;"
    done
done
check "study runs = straight runs, bit for bit" "$r"

# the report
for f in report.md report-stages.csv report-final.csv report.png report-gamma.png report-paired.png; do
    [ -s "$TMP/out/$f" ] || not_ok "report file $f"
done
r=$("$PY" - "$TMP/out" 2>&1 <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/report-final.csv")))
if [r["variant"] for r in rows] != ["control", "zero"] or any(r["n"] != "2" for r in rows):
    print("final rows: %r" % rows)
if any(not r.get("wall_minutes") or float(r["wall_minutes"]) <= 0 for r in rows):
    print("wall minutes missing: %r" % rows)
st = list(csv.DictReader(open(sys.argv[1] + "/report-stages.csv")))
if len(st) != 6:
    print("%d stage rows, expected 6" % len(st))
c1 = [r for r in st if r["variant"] == "control" and r["stage"] == "1"][0]
if c1["control"] != "1" or c1["recal_n"] != "2":
    print("control stage 1: %r" % c1)
PY
)
check "report: both variants, 2 seeds, 3 stages each, control marked" "$r"
# the clamped accuracy, its difference to the final one and the share below τ, from the files
r=$("$PY" - "$TMP/out" 2>&1 <<'PY'
import csv, sys
import h5py, numpy as np
out = sys.argv[1]
for row in csv.DictReader(open(out + "/report-final.csv")):
    clamped, acc, below = [], [], []
    for seed in (1, 2):
        with h5py.File(f"{out}/{row['variant']}/seed-{seed}/stage-02.h5", "r") as f:
            g = f["stats/stage-02"]
            clamped.append(100 * g.attrs["acc_clamped"])
            acc.append(100 * g.attrs["acc_end"])
            below.append(100 * (np.abs(g["gamma"][()]) < g.attrs["threshold"]).mean())
    want = {"clamped_mean": np.mean(clamped), "clamped_std": np.std(clamped, ddof=1),
            "clamp_delta_mean": np.mean(np.subtract(clamped, acc)),
            "below_tau_mean": np.mean(below), "below_tau_std": np.std(below, ddof=1)}
    for k, x in want.items():
        if k not in row or abs(float(row[k]) - x) > 1e-4 * max(1, abs(x)):
            print(f"{row['variant']} {k}: {row.get(k)} != {x:.6g};")
PY
)
check "report-final.csv: clamped accuracy, its difference and the share below tau per variant" "$r"
# the paired differences vs the first variant, per seed from the files, Bonferroni-corrected
r=$(cd "$(dirname "$STUDY")" && "$PY" - "$TMP/out" 2>&1 <<'PY'
import csv, math, sys
import h5py, numpy as np
import study_report
out = sys.argv[1]
bad = []
for df, want in ((1, 12.706), (2, 4.303), (9, 2.262), (30, 2.042)):
    if abs(study_report.t_quantile(0.975, df) - want) > 2e-3:
        bad.append(f"t quantile df {df}: {study_report.t_quantile(0.975, df)} != {want}")
if abs(study_report.t_quantile(1 - 0.05 / 8, 2) - 8.8602) > 1e-3:
    bad.append("t quantile 0.99375, df 2")
rows = list(csv.DictReader(open(out + "/report-paired.csv")))
if [r["variant"] for r in rows] != ["zero"]:
    bad.append(f"paired rows {rows}")
else:
    acc = {v: [100 * h5py.File(f"{out}/{v}/seed-{s}/stage-02.h5", "r")["stats/stage-02"].attrs["acc_end"]
               for s in (1, 2)] for v in ("control", "zero")}
    d = np.subtract(acc["zero"], acc["control"])
    half = 12.706 * np.std(d, ddof=1) / math.sqrt(2)
    r = rows[0]
    got = [float(x) for x in r["diffs"].split()]
    if r["seeds"] != "1 2" or r["comparisons"] != "1" or np.abs(np.subtract(got, d)).max() > 1e-3:
        bad.append(f"diffs {r}")
    if abs(float(r["ci_low"]) - (d.mean() - half)) > 1e-3 or abs(float(r["ci_high"]) - (d.mean() + half)) > 1e-3:
        bad.append(f"interval {r['ci_low']} {r['ci_high']} != {d.mean() - half} {d.mean() + half}")
    if r["finding"] != str(int(d.mean() - half > 0 or d.mean() + half < 0)):
        bad.append("finding")
print("; ".join(bad))
PY
)
check "report-paired.csv: per-seed differences vs the first variant, Bonferroni-corrected t-interval" "$r"
# per layer and per stage: the flagged filters of each transition split by layer, revived and died
# again; the paired differences at the end of every stage after a re-initializing transition
r=$(cd "$(dirname "$STUDY")" && "$PY" - "$TMP/out" 2>&1 <<'PY'
import csv, sys
import h5py, numpy as np
out = sys.argv[1]
bad = []
layers = list(csv.DictReader(open(out + "/report-layers.csv")))
stages = sorted({int(r["stage"]) for r in layers})
files = {(v, s): h5py.File(f"{out}/{v}/seed-{s}/stage-02.h5", "r") for v in ("control", "zero") for s in (1, 2)}
units = files["zero", 1]["stats/units"][()].decode().split()
want = [k for k in (1, 2) if any(files[v, s][f"stats/stage-{k:02d}"].attrs["reinit_applied"] > 0
                                 for v in ("control", "zero") for s in (1, 2))]
if stages != want or not want:
    bad.append(f"layer rows at stages {stages}, re-initializing transitions into {want}")
for k in want:
    for v in ("control", "zero"):
        rows = [r for r in layers if r["variant"] == v and int(r["stage"]) == k]
        if [r["unit"] for r in rows] != units:
            bad.append(f"{v} stage {k}: units {[r['unit'] for r in rows]}")
            continue
        g = [files[v, s][f"stats/stage-{k:02d}"] for s in (1, 2)]
        flagged = np.mean([x["reinit"][()].sum() for x in g])
        died = np.mean([(x["reinit"][()].astype(bool) & x["disabled"][()].astype(bool)).sum() for x in g])
        if abs(sum(float(r["flagged"]) for r in rows) - flagged) > 1e-9:
            bad.append(f"{v} stage {k}: flagged {sum(float(r['flagged']) for r in rows)} != {flagged}")
        if abs(sum(float(r["died_again"]) for r in rows) - died) > 1e-9:
            bad.append(f"{v} stage {k}: died again")
        if any(abs(float(r["revived"]) + float(r["died_again"]) - float(r["flagged"])) > 1e-9 for r in rows):
            bad.append(f"{v} stage {k}: revived + died again != flagged")
for r in csv.DictReader(open(out + "/report-stages.csv")):
    if r["revived_n"] != "0" and abs(float(r["revived_mean"]) + float(r["died_mean"]) - 100) > 1e-3:
        bad.append(f"stage {r['stage']} {r['variant']}: revived + died again != 100 %")
ps = list(csv.DictReader(open(out + "/report-paired-stages.csv")))
if [int(r["stage"]) for r in ps] != want or any(r["comparisons"] != str(len(want)) for r in ps):
    bad.append(f"paired stages {[(r['stage'], r['comparisons']) for r in ps]}")
last = list(csv.DictReader(open(out + "/report-paired.csv")))[0]
if ps and ps[-1]["stage"] == "2" and ps[-1]["diffs"] != last["diffs"]:
    bad.append("the last stage's paired differences are not the final ones")
print("; ".join(bad))
PY
)
check "report: per-layer transition counts, died again, paired differences per stage" "$r"
grep -q "^## Paired differences vs control" "$TMP/out/report.md" && grep -q "^| zero | 1, 2 | " "$TMP/out/report.md" &&
    ok "report.md: paired table" || not_ok "report.md: paired table"
grep -q "^| control | 0.05 | .* (n=2) | .* (n=2) | .* (n=2) |$" "$TMP/out/report.md" &&
    ok "report.md: clamped table" || not_ok "report.md: clamped table"
grep -q "^| control | 2 | " "$TMP/out/report.md" && grep -q "95 % t-interval" "$TMP/out/report.md" &&
    ok "report.md: final table" || not_ok "report.md: final table"
grep -q "right: accuracy at each stage end" "$TMP/out/report.md" &&
    ok "report.png of a staged study: accuracy per stage" || not_ok "report.png of a staged study: accuracy per stage"
grep -q "^revive commits: [^ ;]* (4 runs)\.$" "$TMP/out/report.md" &&
    ok "report.md: the revive commit of the runs" || not_ok "report.md: the revive commit of the runs: $(grep "^revive commits" "$TMP/out/report.md")"

# --record writes the records of finished runs into a results_dir that lacks them, once
sed "s#^out_dir = .*#&\nresults_dir = $TMP/res#" "$TMP/s.ini" > "$TMP/arch.ini"
"$PY" "$STUDY" "$TMP/arch.ini" --record > "$TMP/rec.log" 2>&1 || not_ok "--record: $(tail -1 "$TMP/rec.log")"
"$PY" "$STUDY" "$TMP/arch.ini" --record > "$TMP/rec2.log" 2>&1
r=""
for v in control zero; do
    for s in 1 2; do
        cmp -s "$TMP/res/$v/seed-$s.json" "$TMP/out/$v/seed-$s.json" || r="$r $v/seed-$s record missing or different;"
    done
done
grep -q "^0 result record" "$TMP/rec2.log" || r="$r second --record: $(tail -1 "$TMP/rec2.log");"
check "--record archives every finished run once" "$r"
# a fresh clone: the records, no run directories: every run done, nothing run, the same report
sed "s#^out_dir = .*#out_dir = $TMP/fresh#" "$TMP/arch.ini" > "$TMP/fresh.ini"
"$PY" "$STUDY" "$TMP/fresh.ini" --dry-run > "$TMP/fresh.dry" 2>&1
check "records without checkpoints: every run done" \
    "$([ "$(grep -c ' done .*(result record ' "$TMP/fresh.dry")" = 4 ] || cat "$TMP/fresh.dry")"
"$PY" "$STUDY" "$TMP/fresh.ini" > "$TMP/fresh.log" 2>&1 || not_ok "fresh study: $(tail -1 "$TMP/fresh.log")"
check "records without checkpoints: nothing runs" \
    "$([ "$(grep -c 'done, skipped' "$TMP/fresh.log")" = 4 ] && [ ! -e "$TMP/fresh/control/seed-1" ] || cat "$TMP/fresh.log")"
rm -f "$TMP/fresh/report"*
"$PY" "$STUDY" "$TMP/fresh.ini" --report > "$TMP/fresh.rep" 2>&1 || not_ok "--report from records: $(tail -1 "$TMP/fresh.rep")"
r=""
for f in report-final.csv report-stages.csv report-layers.csv report-paired-stages.csv report.md; do  # report.md's title names the study file
    [ "$(sed '1s/^# Study .*/# Study/' "$TMP/fresh/$f" 2>&1)" = "$(sed '1s/^# Study .*/# Study/' "$TMP/out/$f")" ] ||
        r="$r $f differs: $(diff "$TMP/out/$f" "$TMP/fresh/$f" 2>&1 | head -c 300);"
done
check "--report from records alone = the report from the checkpoints" "$r"

# bad input
script_error "--only names an unknown variant" "no variant 'fresh'" "$TMP/s.ini" --only fresh
script_error "--seeds names a seed the study lacks" "--seeds: seed 3 is not in .*seeds (1, 2)" "$TMP/s.ini" --seeds 3 --dry-run
script_error "--seeds not a seed" "--seeds = '1,x': 'x' is not a seed" "$TMP/s.ini" --seeds 1,x --dry-run
"$PY" "$STUDY" "$TMP/s.ini" --out "$TMP/seeds-out" --seeds 2 --dry-run > "$TMP/seeds.log" 2>&1
check "--seeds 2: only seed 2's runs, of every variant" \
    "$([ "$(grep -c '^[a-z]*/seed-2 ' "$TMP/seeds.log")" = 2 ] && ! grep -q 'seed-1' "$TMP/seeds.log" || cat "$TMP/seeds.log")"
sed 's/^seeds = 1, 2/seeds = 1, 2\nseed = 3/' "$TMP/s.ini" > "$TMP/bad1.ini"
script_error "unknown key in [study]" "unknown key 'seed' (did you mean seeds?)" "$TMP/bad1.ini" --dry-run
sed 's/^pipeline.reinit = false/pipeline.reinit_gama = zero/' "$TMP/s.ini" > "$TMP/bad2.ini"
script_error "unknown config key in a variant" "\[variant control\]: unknown key 'pipeline.reinit_gama' (did you mean pipeline.reinit_gamma?)" "$TMP/bad2.ini" --dry-run
printf '[bogus]\nx = 1\n' >> "$TMP/s.ini.tmp"; cat "$TMP/s.ini" "$TMP/s.ini.tmp" > "$TMP/bad3.ini"
script_error "unknown section" "unknown section \[bogus\]" "$TMP/bad3.ini" --dry-run
sed 's/^pipeline.recalibrate_batches = 2/pipeline.recalibrate_batches = 3/' "$TMP/s.ini" > "$TMP/other.ini"
script_error "a directory holding runs of another config" \
    "run control/seed-1 was made with another config (pipeline.recalibrate_batches: 2 -> 3)" "$TMP/other.ini" --dry-run
sed 's/^pipeline.recalibrate_batches = 2/pipeline.recalibrate_batches = 3/' "$TMP/fresh.ini" > "$TMP/fresh3.ini"
script_error "a result record of another config" \
    "$TMP/res/control/seed-1.json: this result record is not of run control/seed-1 with the study's config (pipeline.recalibrate_batches: 2 -> 3)" \
    "$TMP/fresh3.ini" --dry-run
cp "$TMP/res/control/seed-2.json" "$TMP/res/control/seed-1.json"
script_error "a result record of another run" "$TMP/res/control/seed-1.json: .*record of run control/seed-2" "$TMP/fresh.ini" --report
mkdir -p "$TMP/foreign" && touch "$TMP/foreign/x"
script_error "a foreign directory" "holds files but no study.json" "$TMP/s.ini" --out "$TMP/foreign" --dry-run
script_error "too many jobs" "exceeds the" "$TMP/s.ini" --jobs 64 --ranks 64
script_error "too many threads" "--threads 4096 exceeds the" "$TMP/s.ini" --threads 4096
script_error "--threads 0" "--threads '0': give a whole number" "$TMP/s.ini" --threads 0
"$PY" "$STUDY" "$TMP/s.ini" --out "$TMP/thr" --only control --threads 1 --stop-after-steps 1 > "$TMP/thr.log" 2>&1
check "--threads 1: each run gets one thread" "$(grep -q 'control/seed-1: starting (1 thread)' "$TMP/thr.log" || cat "$TMP/thr.log")"
# a signal that arrives just after a run started (before the study recorded it) still stops that
# run: nothing is left going on unwatched holding the run's lock
sed "s#^out_dir = .*#out_dir = $TMP/race#" "$TMP/s.ini" > "$TMP/race.ini"
REVIVE_STUDY_TEST_SIGNAL_AT_START=1 "$PY" "$STUDY" "$TMP/race.ini" > "$TMP/race.log" 2>&1
rc=$?
sleep 0.5
left=$(pgrep -f -- "--set run.out_dir=$TMP/race/" || true)
[ -n "$left" ] && kill $left 2>/dev/null
"$PY" "$STUDY" "$TMP/race.ini" --dry-run > "$TMP/race.dry" 2>&1
check "a signal at a run's start stops that run too" \
    "$([ "$rc" = 143 ] && [ -z "$left" ] && ! grep -q running "$TMP/race.dry" || echo "exit $rc; left: $left; $(cat "$TMP/race.dry")")"
# the process a stopped study ended keeps its wall time (one line of wall.txt), so the run's wall
# minutes stay known once it is resumed (without the line they would be unknown)
check "a run stopped by the study's signal keeps its wall time" \
    "$(w=$(cat "$TMP"/race/*/seed-1/wall.txt 2>&1); [ "$(echo "$w" | wc -l)" = 1 ] && echo "$w" | grep -q '^[0-9.]* -15$' || echo "wall.txt: $w")"

# A second stop signal while the study waits for its runs to save (each step of this ResNet-20 on
# 3x32x32, batch 512, one thread, takes a second or more) is ignored: before, the handler ran again
# inside its own wait and hung (the watchdog kills it after 300 s: a step can take tens of seconds
# on a loaded machine, and the watchdog only has to catch a hang), or wrote the runs' time twice.
slow_step_ini "$TMP/slow-base.ini"
printf '[study]\nconfig = %s\nseeds = 1\nout_dir = %s\n[variant only]\n' "$TMP/slow-base.ini" "$TMP/twice" > "$TMP/twice.ini"
"$PY" "$STUDY" "$TMP/twice.ini" --threads 1 > "$TMP/twice.log" 2>&1 &
pid=$!
( sleep 300; kill -KILL $pid ) >/dev/null 2>&1 &
dog=$!
i=0
while ! grep -q "^stage 0:" "$TMP/twice/only/seed-1/log.txt" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.3
kill -TERM $pid
sleep 0.2
kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
kill $dog 2>/dev/null
check "a second stop signal while the runs save: one exit, one wall line" \
    "$([ "$rc" = 143 ] && [ "$(lines "$TMP/twice/only/seed-1/wall.txt")" = 1 ] || echo "exit $rc; wall.txt: $(cat "$TMP/twice/only/seed-1/wall.txt" 2>&1)")"

# Branches (issue 20's tracks start from BN-only branch points): a study with branch_from resumes
# every run from the same seed's finished run of another study, its overrides on top; before the
# branch point is finished the run fails naming it; after, the branch's first stage is the branch
# point's, and its results equal `pipeline resume` run by hand.
tiny_staged_ini "$TMP/bp.ini" bp 1 "[data]" "synthetic_train = 128" "synthetic_test = 64"
printf '[study]\nconfig = %s\nseeds = 1, 2\nout_dir = %s\n[all]\npipeline.enabled = false\ntrain.trainable = bn\n[variant bn]\n' \
    "$TMP/bp.ini" "$TMP/bpout" > "$TMP/bp-study.ini"
printf '[study]\nbranch_from = %s bn\nseeds = 1, 2\nout_dir = %s\n[all]\npipeline.enabled = true\npipeline.fractions = 0, 0\npipeline.recalibrate_batches = 2\n[variant control]\npipeline.reinit = false\n[variant redraw]\n' \
    "$TMP/bp-study.ini" "$TMP/brout" > "$TMP/br-study.ini"
"$PY" "$STUDY" "$TMP/br-study.ini" > "$TMP/br0.log" 2>&1
rc=$?
check "a branch whose branch point is not finished fails, naming it" \
    "$([ "$rc" = 1 ] && [ "$(grep -c 'FAILED: its branch point bn/seed-1 of .*bpout/bn/seed-1 is not finished' "$TMP/br0.log")" = 2 ] || echo "exit $rc: $(cat "$TMP/br0.log")")"
"$PY" "$STUDY" "$TMP/bp-study.ini" > "$TMP/bp.log" 2>&1 || not_ok "branch points: $(tail -1 "$TMP/bp.log")"
"$PY" "$STUDY" "$TMP/br-study.ini" > "$TMP/br.log" 2>&1 || not_ok "branches: $(tail -3 "$TMP/br.log")"
check "four branches done" "$([ "$(grep -c ': done (stage-01.h5)' "$TMP/br.log")" = 4 ] || cat "$TMP/br.log")"
"$PIPE" resume "$TMP/bpout/bn/seed-2/stage-00.h5" --set pipeline.enabled=true --set pipeline.fractions=0,0 \
    --set pipeline.recalibrate_batches=2 --out "$TMP/byhand" > "$TMP/byhand.log" 2>&1 || not_ok "by hand: $(tail -1 "$TMP/byhand.log")"
check "a branch equals pipeline resume by hand; control and re-draw differ" "$("$PY" - "$TMP" 2>&1 <<'PYEOF'
import sys, h5py, numpy as np
t = sys.argv[1]
def arr(path, name):
    with h5py.File(path, "r") as f:
        return np.concatenate([f[name][k][()].ravel() for k in sorted(f[name])])
a = arr(f"{t}/brout/redraw/seed-2/stage-01.h5", "params")
b = arr(f"{t}/byhand/stage-01.h5", "params")
e = arr(f"{t}/brout/control/seed-2/stage-01.h5", "params")
if not (np.array_equal(a, b) and not np.array_equal(a, e)):
    print("branch equals by hand:", np.array_equal(a, b), "variants differ:", not np.array_equal(a, e))
PYEOF
)"
script_error "branch_from naming a missing variant" "no variant 'nope' in .*bp-study.ini; variants: bn" \
    "$(sed 's/ bn$/ nope/' "$TMP/br-study.ini" > "$TMP/br-bad.ini"; echo "$TMP/br-bad.ini")" --dry-run
# a variant that inherits what another sets makes the same run: refused before anything runs (the
# track-A configs once gave `initial` no keys from a branch point made with pipeline.reinit = false,
# so it would have repeated the control)
printf '[study]\nbranch_from = %s bn\nseeds = 1, 2\nout_dir = %s\n[all]\npipeline.fractions = 0, 0\n[variant control]\npipeline.enabled = false\n[variant redraw]\n' \
    "$TMP/bp-study.ini" "$TMP/brsame" > "$TMP/br-same.ini"
script_error "a variant that makes the same run as another (a branch's inherited key)" \
    "br-same.ini: \\[variant redraw\\] makes the same run as \\[variant control\\]: .*a branch keeps its branch point's keys" \
    "$TMP/br-same.ini" --dry-run
printf '[variant again]\npipeline.reinit = false\n' | cat "$TMP/s.ini" - > "$TMP/same.ini"
script_error "two variants with the same keys" "same.ini: \\[variant again\\] makes the same run as \\[variant control\\]" \
    "$TMP/same.ini" --dry-run
# branch_from = OTHER *: each variant from its namesake; branch_stage = K: from the branch point's
# stage-KK.h5, so the later stages run again with new overrides (issue 20's track B ran its last
# stage again at a lower lr this way). The result equals `pipeline resume stage-01.h5` by hand.
printf '[study]\nbranch_from = %s bn\nseeds = 1\nout_dir = %s\n[all]\npipeline.enabled = true\npipeline.fractions = 0, 0, 0\npipeline.recalibrate_batches = 2\n[variant control]\npipeline.reinit = false\n[variant redraw]\npipeline.reinit = true\n' \
    "$TMP/bp-study.ini" "$TMP/b3out" > "$TMP/b3-study.ini"
"$PY" "$STUDY" "$TMP/b3-study.ini" > "$TMP/b3.log" 2>&1 || not_ok "three-stage branches: $(tail -3 "$TMP/b3.log")"
printf '[study]\nbranch_from = %s *\nbranch_stage = 1\nseeds = 1\nout_dir = %s\n[all]\ntrain.lr = 0.01\n[variant redraw]\n[variant control]\n' \
    "$TMP/b3-study.ini" "$TMP/bsout" > "$TMP/bs-study.ini"
"$PY" "$STUDY" "$TMP/bs-study.ini" --dry-run > "$TMP/bs.dry" 2>&1
check "branch_stage: each variant resumes its namesake's stage-01.h5" \
    "$(grep -q "resume $TMP/b3out/redraw/seed-1/stage-01.h5 --set train.lr=0.01 .*--out $TMP/bsout/redraw/seed-1" "$TMP/bs.dry" &&
       grep -q "resume $TMP/b3out/control/seed-1/stage-01.h5 --set train.lr=0.01 .*--out $TMP/bsout/control/seed-1" "$TMP/bs.dry" || cat "$TMP/bs.dry")"
"$PY" "$STUDY" "$TMP/bs-study.ini" > "$TMP/bs.log" 2>&1 || not_ok "branch_stage study: $(tail -3 "$TMP/bs.log")"
"$PIPE" resume "$TMP/b3out/redraw/seed-1/stage-01.h5" --set train.lr=0.01 --set run.seed=1 --out "$TMP/byhand-bs" > "$TMP/byhand-bs.log" 2>&1 ||
    not_ok "branch_stage by hand: $(tail -1 "$TMP/byhand-bs.log")"
check "branch_stage: the run equals pipeline resume stage-01.h5 by hand; its last stage differs from the branch point's" "$("$PY" - "$TMP" 2>&1 <<'PYEOF'
import sys, h5py, numpy as np
t = sys.argv[1]
def arr(path, name):
    with h5py.File(path, "r") as f:
        return np.concatenate([f[name][k][()].ravel() for k in sorted(f[name])])
a = arr(f"{t}/bsout/redraw/seed-1/stage-02.h5", "params")
b = arr(f"{t}/byhand-bs/stage-02.h5", "params")
e = arr(f"{t}/b3out/redraw/seed-1/stage-02.h5", "params")
if not (np.array_equal(a, b) and not np.array_equal(a, e)):
    print("equals by hand:", np.array_equal(a, b), "differs from lr 0.05:", not np.array_equal(a, e))
PYEOF
)"
printf '[variant other]\n' | cat "$TMP/bs-study.ini" - > "$TMP/bs-missing.ini"
script_error "branch_from = OTHER * with a variant OTHER lacks" \
    "bs-missing.ini: \\[variant other\\]: branch_from = .*b3-study.ini \\* branches each variant from its namesake, and .* has no variant 'other'; its variants: control, redraw" \
    "$TMP/bs-missing.ini" --dry-run
sed "s/^branch_stage = 1/branch_stage = 7/; s|$TMP/bsout|$TMP/bsout7|" "$TMP/bs-study.ini" > "$TMP/bs7.ini"
"$PY" "$STUDY" "$TMP/bs7.ini" > "$TMP/bs7.log" 2>&1
rc=$?
check "branch_stage past the branch points' last stage fails, naming the file" \
    "$([ "$rc" = 1 ] && [ "$(grep -c 'FAILED: its branch point .* has no stage-07.h5 (branch_stage = 7 is past its last stage)' "$TMP/bs7.log")" = 2 ] || echo "exit $rc: $(cat "$TMP/bs7.log")")"
sed "s/^branch_stage = 1/branch_stage = two/" "$TMP/bs-study.ini" > "$TMP/bs-bad.ini"
script_error "branch_stage not a number" "bs-bad.ini: \\[study\\] branch_stage = 'two': give a stage number" "$TMP/bs-bad.ini" --dry-run
printf '[study]\nconfig = %s\nseeds = 1\nbranch_stage = 1\n[variant a]\n' "$TMP/bp.ini" > "$TMP/bs-nobranch.ini"
script_error "branch_stage without branch_from" "bs-nobranch.ini: \\[study\\] branch_stage needs branch_from" "$TMP/bs-nobranch.ini" --dry-run
# study_compare.py: each variant of one study against a reference variant of another, paired by
# seed (issue 20 compares track B's variants with the all-parameters-from-scratch runs this way)
COMPARE=scripts/study_compare.py
"$PY" "$COMPARE" "$TMP/b3-study.ini:control" "$TMP/bs-study.ini:*" --out "$TMP/cmp" > "$TMP/cmp.log" 2>&1 ||
    not_ok "study_compare: $(tail -1 "$TMP/cmp.log")"
check "study_compare: each variant's per-seed difference to the reference, Bonferroni over 2" "$("$PY" - "$TMP" 2>&1 <<'PYEOF'
import sys, csv, h5py
t = sys.argv[1]
def acc(path):
    with h5py.File(path, "r") as f:
        return 100 * float(f["stats"][sorted(k for k in f["stats"] if k.startswith("stage-"))[-1]].attrs["acc_end"])
ref = acc(f"{t}/b3out/control/seed-1/stage-02.h5")
rows = list(csv.DictReader(open(f"{t}/cmp.csv")))
want = {f"bs-study:{v}": acc(f"{t}/bsout/{v}/seed-1/stage-02.h5") - ref for v in ("redraw", "control")}
got = {r["variant"]: float(r["diffs"]) for r in rows}
md = open(f"{t}/cmp.md").read()
if set(got) != set(want) or any(abs(got[k] - want[k]) > 1e-3 for k in want) or "Bonferroni-corrected for 2 comparisons" not in md:
    print("want", want, "got", got)
PYEOF
)"
one_line_error "study_compare: a reference without a variant" "study_compare.py: '.*b3-study.ini': give STUDY.ini:VARIANT" \
    "$PY" "$COMPARE" "$TMP/b3-study.ini" "$TMP/bs-study.ini:*"
one_line_error "study_compare: a variant the study lacks" "study_compare.py: '.*bs-study.ini:nope': no variant 'nope' in .*bs-study.ini; variants: redraw, control" \
    "$PY" "$COMPARE" "$TMP/b3-study.ini:control" "$TMP/bs-study.ini:nope"
# BN-only rounds (equal fractions): a run stopped after its first round is partial, not done (the
# test for a finished run once compared fractions, and every round's is 0: track A's controls
# were taken for done after one of their two rounds)
tiny_staged_ini "$TMP/rounds.ini" rounds 1 "[data]" "synthetic_train = 128" "synthetic_test = 64"
printf '[study]\nconfig = %s\nseeds = 1\nout_dir = %s\n[all]\npipeline.fractions = 0, 0, 0\n[variant rounds]\n' \
    "$TMP/rounds.ini" "$TMP/rout" > "$TMP/rounds-study.ini"
"$PY" "$STUDY" "$TMP/rounds-study.ini" --stop-after-steps 6 > "$TMP/rounds.log" 2>&1
"$PY" "$STUDY" "$TMP/rounds-study.ini" --dry-run > "$TMP/rounds.dry" 2>&1
check "BN-only rounds: a run stopped after its first round is partial, not done" \
    "$([ -f "$TMP/rout/rounds/seed-1/stage-00.h5" ] && grep -q '^rounds/seed-1 *partial  stage 1' "$TMP/rounds.dry" || cat "$TMP/rounds.log" "$TMP/rounds.dry")"
"$PY" "$STUDY" "$TMP/rounds-study.ini" > "$TMP/rounds2.log" 2>&1
check "BN-only rounds: resumed to the last round, then done" \
    "$([ -f "$TMP/rout/rounds/seed-1/stage-02.h5" ] && grep -q '"final": "stage-02.h5"' "$TMP/rout/rounds/seed-1/done" || cat "$TMP/rounds2.log")"

# Two study processes on one grid: B read the grid (seed-1, then seed-2) when it started; while its
# seed-1 waits (a wrapper holds it until $TMP/go exists), A runs seed-2 to the end. B must then skip
# seed-2: before, it took the lock A had released and "resumed" the finished run, rewriting its
# final stage file.
printf '[study]\nconfig = %s\nseeds = 1, 2\nout_dir = %s\n[variant only]\n' "$TMP/base.ini" "$TMP/two" > "$TMP/two.ini"
real="$(cd "$(dirname "$PIPE")" && pwd)/$(basename "$PIPE")"
printf '#!/bin/sh\ncase "$*" in *run.name=seed-1*) while [ ! -e "%s/go" ]; do sleep 0.05; done ;; esac\nexec "%s" "$@"\n' \
    "$TMP" "$real" > "$TMP/hold"
chmod +x "$TMP/hold"
PIPELINE="$TMP/hold" "$PY" "$STUDY" "$TMP/two.ini" --jobs 1 > "$TMP/twoB.log" 2>&1 &
pidB=$!
i=0
while ! grep -q "^only/seed-1: starting" "$TMP/twoB.log" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
"$PY" "$STUDY" "$TMP/two.ini" --seeds 2 > "$TMP/twoA.log" 2>&1
inode=$(stat -c %i "$TMP/two/only/seed-2/stage-02.h5" 2>&1)
touch "$TMP/go"
wait $pidB
check "a run another study process finished meanwhile is skipped, not resumed" \
    "$(grep -q '^only/seed-2: done by another study process, skipped$' "$TMP/twoB.log" &&
       ! grep -q 'seed-2: resuming' "$TMP/twoB.log" && [ "$(stat -c %i "$TMP/two/only/seed-2/stage-02.h5")" = "$inode" ] &&
       grep -q '^only/seed-2: done' "$TMP/twoA.log" && [ -e "$TMP/two/only/seed-1/done" ] || cat "$TMP/twoA.log" "$TMP/twoB.log")"

finish study.test.sh
