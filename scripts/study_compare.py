#!/usr/bin/env python3
"""Paired comparison across studies (scripts/study.py): each named variant's final test accuracy
against a reference variant of another (or the same) study, per seed, with two-sided 95 %
t-intervals Bonferroni-corrected for the number of comparisons; a difference is a finding only
where its interval excludes 0. Runs are read from the studies' finished runs (stage files, else
the committed result records), exactly as their own reports read them.

    scripts/study_compare.py configs/study-trackB-scratch.ini:scratch \\
        configs/study-trackB-finetune.ini:* --out docs/data/study-trackB-finetune/vs-scratch

REF and each OTHER are STUDY.ini:VARIANT; OTHER may be STUDY.ini:* (every variant of it). Pairs
are the seeds both sides finished (a run and the reference of the same seed). Writes OUT.md and
OUT.csv, or prints the markdown without --out. Options: --pipeline P (the binary whose config keys
the study files are checked against; default ./pipeline or $PIPELINE).
"""
import os
import sys

import numpy as np

import study
from study_records import StudyError, report_args, write_tables
from study_report import collect, fmt, mean_std, paired

PROG = "study_compare.py"


def runs_of(spec, known):
    """[(label, [finished runs])] for STUDY.ini:VARIANT or STUDY.ini:*."""
    path, sep, variant = spec.rpartition(":")
    if not sep or not path or not variant:
        raise StudyError(f"'{spec}': give STUDY.ini:VARIANT (or STUDY.ini:* for every variant)")
    s = study.load_study(path, known)
    names = [v["name"] for v in s["variants"]]
    if variant != "*" and variant not in names:
        raise StudyError(f"'{spec}': no variant '{variant}' in {path}; variants: {', '.join(names)}")
    loaded = collect(study.grid(s))
    stem = os.path.splitext(os.path.basename(path))[0]
    return [(f"{stem}:{name}", loaded[name]) for name in names if variant in ("*", name)]


def accs(runs):
    return [100 * x["stages"][-1]["acc_end"] for x in runs]


def compare(ref_spec, other_specs, known):
    """The reference (label, runs) and one row per compared variant."""
    (ref_label, ref_runs), = runs_of(ref_spec, known)
    if not ref_runs:
        raise StudyError(f"{ref_spec}: no finished run; run that study first")
    others = [x for spec in other_specs for x in runs_of(spec, known)]
    others = [(label, runs) for label, runs in others if label != ref_label]
    if not others:
        raise StudyError("nothing to compare: name at least one variant besides the reference")
    rows = []
    for label, runs in others:
        p = paired(ref_runs, runs, len(others))
        rows.append({"label": label, "stats": mean_std(accs(runs)), "paired": p})
    return (ref_label, mean_std(accs(ref_runs))), rows


def markdown(ref, rows):
    (ref_label, (m, s, n)) = ref
    out = [f"Final test accuracy (%) against {ref_label} ({fmt(m, s, n)}), paired by seed; 95 % "
           f"t-intervals Bonferroni-corrected for {len(rows)} comparisons (each at {0.05 / len(rows):.4g}, "
           "two-sided). A finding only where the interval excludes 0.", "",
           "| variant | mean ± std | seeds | Δ per seed | mean Δ ± std | corrected 95 % interval | finding |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        p = r["paired"]
        diffs = ", ".join(f"{d:+.2f}" for d in p["diffs"])
        interval = f"[{p['lo']:+.2f}, {p['hi']:+.2f}]" if np.isfinite(p["lo"]) else "-"
        out.append(f"| {r['label']} | {fmt(*r['stats'])} | {', '.join(str(x) for x in p['seeds'])} | {diffs} | "
                   f"{fmt(p['mean'], p['std'], p['n'])} | {interval} | {'yes' if p['finding'] else 'no'} |")
    return "\n".join(out) + "\n"


def csv_text(ref, rows):
    lines = ["variant,reference,n,mean,std,seeds,diffs,mean_diff,std_diff,lo,hi,finding"]
    for r in rows:
        p, (m, s, n) = r["paired"], r["stats"]
        lines.append(",".join([r["label"], ref[0], str(n), f"{m:.4f}", f"{s:.4f}",
                               " ".join(str(x) for x in p["seeds"]), " ".join(f"{d:.4f}" for d in p["diffs"]),
                               f"{p['mean']:.4f}", f"{p['std']:.4f}", f"{p['lo']:.4f}", f"{p['hi']:.4f}",
                               str(p["finding"]).lower()]))
    return "\n".join(lines) + "\n"


def main(argv):
    try:
        parsed = report_args(argv, __doc__, "scripts/study_compare.py")
        if parsed is None:
            return 0
        specs, opts = parsed
        if len(specs) < 2:
            raise StudyError("give a reference and what to compare with it: scripts/study_compare.py "
                             "REF.ini:VARIANT OTHER.ini:VARIANT|* …")
        ref, rows = compare(specs[0], specs[1:], study.config_keys(opts["pipeline"]))
        md = markdown(ref, rows)
        if not opts["out"]:
            sys.stdout.write(md)
            return 0
        out = opts["out"]
        write_tables(out, f"scripts/study_compare.py {' '.join(specs)}", md, csv_text(ref, rows))
        print(f"comparison: {out}.md (+ {out}.csv)")
        return 0
    except StudyError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
