"""The report of a study (scripts/study.py): per variant and stage, mean ± standard deviation
over the seeds of every finished run; the final accuracy with t- and Welch intervals, and each
variant's per-seed (paired) difference to the first variant with Bonferroni-corrected intervals,
at the end and at the end of every stage after a re-initializing transition; per layer, the filters
flagged at each transition, revived and died again; report.md, report-stages.csv,
report-final.csv, report-paired.csv, report-paired-stages.csv, report-layers.csv, report.png,
report-gamma.png and report-paired.png in the study's out_dir.

    report, missing = study_report.write_report(study, runs)
"""
import math
import os

import numpy as np

import revive_h5
from study_records import final_file, read_record, wall_minutes


# t(0.975, df) for df = 1 … 30; beyond, the normal 1.96 (within 1 % from df 30 on).
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df):
    """Two-sided 95 % quantile of Student's t; a fractional df (Welch) rounds down (wider)."""
    df = int(math.floor(df))
    if df < 1:
        return float("nan")
    return T975[df - 1] if df <= len(T975) else 1.96


def t_cdf(t, df):
    """Student's t distribution function, by Simpson's rule on the density (|error| < 1e-7 for the
    quantiles used here)."""
    if t < 0:
        return 1.0 - t_cdf(-t, df)
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    n = 4000  # even
    h = t / n
    f = [c * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(n + 1)]
    return 0.5 + h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))


def t_quantile(p, df):
    """The p quantile (p > 0.5) of Student's t with df degrees of freedom, by bisection."""
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, 2 * hi
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def paired(ref_runs, runs, comparisons, stage=-1):
    """Per-seed differences run − reference (seeds both finished) in the accuracy at the end of
    `stage` (the last by default) with a two-sided 95 % t-interval Bonferroni-corrected for
    `comparisons` comparisons (each at 0.05 / comparisons): a difference is a finding when the
    interval excludes 0."""
    acc = lambda x: 100 * x["stages"][stage]["acc_end"]
    has = lambda x: stage < len(x["stages"]) if stage >= 0 else True
    ref = {x.get("seed"): acc(x) for x in ref_runs if has(x)}
    runs = [x for x in runs if has(x) and x.get("seed") in ref]
    seeds = sorted(x.get("seed") for x in runs)
    d = [acc(x) - ref[x.get("seed")] for x in sorted(runs, key=lambda x: x.get("seed"))]
    out = {"seeds": seeds, "diffs": d, "n": len(d), "mean": float(np.mean(d)) if d else float("nan"),
           "std": float(np.std(d, ddof=1)) if len(d) > 1 else float("nan"),
           "lo": float("nan"), "hi": float("nan"), "finding": False}
    if len(d) > 1:
        half = t_quantile(1 - 0.05 / (2 * comparisons), len(d) - 1) * out["std"] / math.sqrt(len(d))
        out["lo"], out["hi"] = out["mean"] - half, out["mean"] + half
        out["finding"] = out["lo"] > 0 or out["hi"] < 0
    return out


def mean_std(values):
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan"), len(v)


def result(r):
    """A finished run as revive_h5.load gives it, plus wall_minutes: from its final stage file,
    else from its result record; None when it is not finished."""
    path = final_file(r)
    if path:
        run = revive_h5.load(path)
        run["wall_minutes"] = wall_minutes(r, path)
        return run
    return read_record(r)


def collect(runs):
    """Per variant (in order): every finished run (result)."""
    out = {}
    for r in runs:
        run = result(r)
        out.setdefault(r["variant"], [])
        if run:
            run["seed"] = r["seed"]
            out[r["variant"]].append(run)
    return out


def stage_rows(variant, loaded):
    rows = []
    nst = max((len(x["stages"]) for x in loaded), default=0)
    for k in range(nst):
        have = [x["stages"][k] for x in loaded if len(x["stages"]) > k]
        first = have[0]
        acc = [100 * s["acc_end"] for s in have]
        start = [100 * s["acc_start"] if s["acc_start"] >= 0 else None for s in have]
        recal = [100 * s["acc_start_recal"] if s["acc_start_recal"] >= 0 else None for s in have]
        dis = [100 * s["disabled"].mean() for s in have]
        rev = [100 * s["revived"].sum() / s["reinit"].sum() if s["reinit"].sum() else None for s in have]
        died = [100 * (s["reinit"] & s["disabled"]).sum() / s["reinit"].sum() if s["reinit"].sum() else None
                for s in have]
        row = {"variant": variant, "stage": k, "kind": first["kind"], "fraction": first["fraction"],
               "label": first["label"],
               "control": all(s["reinit_applied"] == 0 for s in have) and k > 0}
        for key, vals in (("acc", acc), ("start", start), ("recal", recal), ("disabled", dis), ("revived", rev),
                          ("died", died)):
            row[key + "_mean"], row[key + "_std"], row[key + "_n"] = mean_std(vals)
        rows.append(row)
    return rows


def transition_stages(loaded):
    """The stages after a transition that re-initialized something in some run: where the variants
    can differ (a branch study's shared branch-point stages are not among them)."""
    nst = max((len(x["stages"]) for runs in loaded.values() for x in runs), default=0)
    return [k for k in range(1, nst)
            if any(len(x["stages"]) > k and x["stages"][k]["reinit_applied"] > 0
                   for runs in loaded.values() for x in runs)]


def layer_rows(variant, loaded, stages):
    """Per stage in `stages` and per unit (layer): the filters flagged at the transition into the
    stage (|γ| < τ; re-initialized unless the variant is a control), how many of those are alive
    and how many below τ again at the stage end, and all filters below τ at the end; means over
    the seeds whose files name their units."""
    have = [x for x in loaded if x.get("units")]
    rows = []
    if not have:
        return rows
    units, counts = have[0]["units"], have[0]["filters_per_unit"]
    have = [x for x in have if x["units"] == units]
    bounds = np.cumsum([0] + list(counts))
    for k in stages:
        at = [x["stages"][k] for x in have if len(x["stages"]) > k]
        if not at:
            continue
        for u, name in enumerate(units):
            lo, hi = bounds[u], bounds[u + 1]
            mean = lambda f: float(np.mean([f(s)[lo:hi].sum() for s in at]))
            rows.append({"variant": variant, "stage": k, "unit": name, "group": name.split(".")[0],
                         "filters": int(hi - lo), "n": len(at), "flagged": mean(lambda s: s["reinit"]),
                         "revived": mean(lambda s: s["reinit"] & ~s["disabled"]),
                         "died_again": mean(lambda s: s["reinit"] & s["disabled"]),
                         "disabled": mean(lambda s: s["disabled"])})
    return rows


def final_stats(loaded):
    vals = [100 * x["stages"][-1]["acc_end"] for x in loaded]
    mins = [float(x["hist"]["seconds"].sum()) / 60 for x in loaded]
    walls = [x.get("wall_minutes") for x in loaded]
    # clamped: the last stage's accuracy with every |γ| < τ set to 0 (−1: not measured)
    clamped = [100 * x["stages"][-1]["acc_clamped"] if x["stages"][-1]["acc_clamped"] >= 0 else None
               for x in loaded]
    m, s, n = mean_std(vals)
    half = t975(n - 1) * s / math.sqrt(n) if n > 1 else float("nan")
    return {"vals": vals, "mean": m, "std": s, "n": n, "lo": m - half, "hi": m + half,
            "minutes": mean_std(mins)[0], "wall": mean_std(walls)[0],
            "clamped": mean_std(clamped),
            "clamp_delta": mean_std([c - v if c is not None else None for c, v in zip(clamped, vals)]),
            "below_tau": mean_std([100 * x["stages"][-1]["disabled"].mean() for x in loaded]),
            "tau": sorted({x["stages"][-1]["threshold"] for x in loaded})}


def welch(a, b):
    """Difference of means b − a with a 95 % Welch interval (NaN when either has n < 2)."""
    if a["n"] < 2 or b["n"] < 2:
        return b["mean"] - a["mean"], float("nan"), float("nan")
    va, vb = a["std"] ** 2 / a["n"], b["std"] ** 2 / b["n"]
    d = b["mean"] - a["mean"]
    se = math.sqrt(va + vb)
    if se == 0:
        return d, d, d
    df = (va + vb) ** 2 / (va ** 2 / (a["n"] - 1) + vb ** 2 / (b["n"] - 1))
    h = t975(df) * se
    return d, d - h, d + h


def fmt(m, s, n, digits=2):
    if n == 0 or not np.isfinite(m):
        return "-"
    if n == 1 or not np.isfinite(s):
        return f"{m:.{digits}f} (n=1)"
    return f"{m:.{digits}f} ± {s:.{digits}f} (n={n})"


def num(x, digits):
    return f"{x:.{digits}f}" if x is not None and np.isfinite(x) else "-"


def csv_num(x):
    return "" if x is None or not np.isfinite(x) else f"{x:.6g}"


def commits_line(loaded):
    """Which revive commits made the finished runs (every process start of a resumed run counts)."""
    runs_of = {}
    for runs in loaded.values():
        for x in runs:
            commits = sorted({p["commit"] for p in x.get("provenance", []) if p.get("commit")}) or ["not recorded"]
            runs_of.setdefault(", ".join(commits), []).append(x["name"])
    parts = [f"{c} ({len(n)} run{'s' if len(n) > 1 else ''})" for c, n in sorted(runs_of.items())]
    return "revive commits: " + ("; ".join(parts) if parts else "-") + "."


def write_report(study, runs):
    loaded = collect(runs)
    variants = [v["name"] for v in study["variants"] if v["name"] in loaded]
    out = study["out"]
    os.makedirs(out, exist_ok=True)
    finals = {v: final_stats(loaded[v]) for v in variants}
    all_rows = {v: stage_rows(v, loaded[v]) for v in variants}
    missing = len(runs) - sum(len(x) for x in loaded.values())
    ref = variants[0] if variants else None

    md = [f"# Study {os.path.basename(study['path'])}", ""]
    if study["description"]:
        md += [study["description"], ""]
    md += [f"Runs: {len(runs)} ({len(study['variants'])} variants × seeds {', '.join(map(str, study['seeds']))}); "
           f"finished: {len(runs) - missing}" + (f"; **{missing} not finished, left out**" if missing else "") + ".",
           "Accuracies in %, mean ± standard deviation over seeds (n = finished seeds).", "",
           "## Final test accuracy", "",
           f"| variant | n | mean ± std | 95 % t-interval | seeds | Δ vs {ref} (95 % Welch) | wall min / run | epochs' min / run |",
           "|---|---|---|---|---|---|---|---|"]
    for v in variants:
        f = finals[v]
        ci = f"[{f['lo']:.2f}, {f['hi']:.2f}]" if np.isfinite(f["lo"]) else "-"
        if v == ref:
            delta = "-"
        else:
            d, lo, hi = welch(finals[ref], f)
            delta = f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]" if np.isfinite(lo) else (f"{d:+.2f}" if np.isfinite(d) else "-")
        seeds = ", ".join(f"{x:.2f}" for x in f["vals"])
        md.append(f"| {v} | {f['n']} | {fmt(f['mean'], f['std'], f['n'])} | {ci} | {seeds} | {delta} | {num(f['wall'], 1)} | {num(f['minutes'], 1)} |")
    comparisons = len(variants) - 1
    pairs = {v: paired(loaded[ref], loaded[v], comparisons) for v in variants[1:]}
    if pairs:
        md += ["", f"## Paired differences vs {ref}", "",
               f"Per seed: the variant's final accuracy minus {ref}'s for the same seed (the same data "
               f"order and, in a branch study, the same branch point); mean and a 95 % t-interval "
               f"Bonferroni-corrected for {comparisons} comparison{'s' if comparisons > 1 else ''} "
               f"(each at {0.05 / comparisons:.4g}, two-sided). A finding only where the interval "
               f"excludes 0.", "",
               "| variant | seeds | Δ per seed | mean Δ ± std | corrected 95 % interval | finding |",
               "|---|---|---|---|---|---|"]
        for v, p in pairs.items():
            ci = f"[{p['lo']:+.2f}, {p['hi']:+.2f}]" if np.isfinite(p["lo"]) else "-"
            verdict = ("yes, " + ("better" if p["mean"] > 0 else "worse")) if p["finding"] else "no"
            md.append(f"| {v} | {', '.join(map(str, p['seeds']))} | {', '.join(f'{x:+.2f}' for x in p['diffs'])} | "
                      f"{fmt(p['mean'], p['std'], p['n'])} | {ci} | {verdict if p['n'] > 1 else '-'} |")
    # the same per stage, where the variants can differ: a round or stage at a time
    tstages = transition_stages({v: loaded[v] for v in variants})
    stage_comparisons = (len(variants) - 1) * len(tstages)
    stage_pairs = {(v, k): paired(loaded[ref], loaded[v], stage_comparisons, k)
                   for k in tstages for v in variants[1:]}
    if len(tstages) > 1 and stage_pairs:
        md += ["", f"## Paired differences vs {ref}, stage by stage", "",
               f"As above, at the end of every stage after a re-initializing transition ({', '.join(map(str, tstages))}): "
               f"Bonferroni-corrected for all {stage_comparisons} comparisons of this table (each at "
               f"{0.05 / stage_comparisons:.4g}, two-sided). The last stage's row repeats the table above "
               "with the wider correction.", "",
               "| stage | variant | seeds | Δ per seed | mean Δ ± std | corrected 95 % interval | finding |",
               "|---|---|---|---|---|---|---|"]
        for (v, k), p in stage_pairs.items():
            ci = f"[{p['lo']:+.2f}, {p['hi']:+.2f}]" if np.isfinite(p["lo"]) else "-"
            verdict = ("yes, " + ("better" if p["mean"] > 0 else "worse")) if p["finding"] else "no"
            md.append(f"| {k} | {v} | {', '.join(map(str, p['seeds']))} | {', '.join(f'{x:+.2f}' for x in p['diffs'])} | "
                      f"{fmt(p['mean'], p['std'], p['n'])} | {ci} | {verdict if p['n'] > 1 else '-'} |")
    md += ["", "Minutes: wall clock per run, and the part spent in epochs (training and each epoch's test "
           "evaluation; the rest is transitions: re-initialization, recalibration, their evaluations, "
           "clamping, checkpoints).", "", commits_line(loaded), "", "## Clamped accuracy and filters below τ at the end", "",
           "clamped: final test accuracy with every |γ| < τ set to 0 (those filters switched off); "
           "Δ: clamped − final accuracy; below τ: share of all filters with |γ| < τ at the end.", "",
           "| variant | τ | clamped | Δ clamped − final | below τ % |", "|---|---|---|---|---|"]
    for v in variants:
        f = finals[v]
        md.append(f"| {v} | {', '.join(f'{t:g}' for t in f['tau'])} | {fmt(*f['clamped'])} | "
                  f"{fmt(*f['clamp_delta'])} | {fmt(*f['below_tau'], 1)} |")
    md += ["", "## Per stage", "",
           "acc: at the stage end; after re-init: right after the transition into the stage (eval mode, "
           "raw) and after BatchNorm recalibration; disabled: share of filters with |γ| < τ; revived: "
           "share of the filters flagged at the transition that are alive at the stage end, died again: "
           "the share below τ again (in a control variant, marked *, the flagged filters were not "
           "re-initialized: recovered on their own, or stayed off).", ""]
    for v in variants:
        md += [f"### {v}", "", "| stage | kind | acc | after re-init | after recal | disabled % | revived % | died again % |",
               "|---|---|---|---|---|---|---|---|"]
        for row in all_rows[v]:
            rev = fmt(row["revived_mean"], row["revived_std"], row["revived_n"], 1)
            md.append(f"| {row['stage']} | {row['label']} | {fmt(row['acc_mean'], row['acc_std'], row['acc_n'])} | "
                      f"{fmt(row['start_mean'], row['start_std'], row['start_n'])} | "
                      f"{fmt(row['recal_mean'], row['recal_std'], row['recal_n'])} | "
                      f"{fmt(row['disabled_mean'], row['disabled_std'], row['disabled_n'], 1)} | "
                      f"{rev}{' *' if row['control'] and rev != '-' else ''} | "
                      f"{fmt(row['died_mean'], row['died_std'], row['died_n'], 1)} |")
        md.append("")
    layers = [row for v in variants for row in layer_rows(v, loaded[v], tstages)]
    if layers:
        md += ["## Per layer group, at each transition", "",
               "Filters flagged at the transition into the stage (|γ| < τ; re-initialized unless the variant "
               "is a control), of those alive (revived) and below τ again (died again) at the stage end, and "
               "all filters below τ at the end, summed over a group's layers (the part of a unit's name "
               "before the first dot), means over seeds. Per layer: report-layers.csv.", "",
               "| variant | stage | group | filters | flagged | revived | died again | below τ at the end |",
               "|---|---|---|---|---|---|---|---|"]
        groups = {}
        for row in layers:
            g = groups.setdefault((row["variant"], row["stage"], row["group"]), dict(row, filters=0, flagged=0.0,
                                  revived=0.0, died_again=0.0, disabled=0.0))
            for key in ("filters", "flagged", "revived", "died_again", "disabled"):
                g[key] += row[key]
        for (v, k, grp), g in groups.items():
            md.append(f"| {v} | {k} | {grp} | {g['filters']} | {g['flagged']:.1f} | {g['revived']:.1f} | "
                      f"{g['died_again']:.1f} | {g['disabled']:.1f} |")
        md.append("")
    md += ["Figure: report.png (left: final accuracy, 95 % t-interval; right: "
           + ("test accuracy after each epoch" if one_stage(variants, finals, all_rows) else "accuracy at each stage end")
           + ", shaded ± 1 std over seeds).", ""]
    if plot_gamma(os.path.join(out, "report-gamma.png"), variants, loaded):
        md += ["Figure: report-gamma.png (share of filters with |γ| < τ after each epoch of the run, "
               "mean over seeds; thin lines: seeds).", ""]
    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md))

    cols = ["variant", "stage", "kind", "fraction", "control"]
    stats = ["acc", "start", "recal", "disabled", "revived", "died"]
    with open(os.path.join(out, "report-stages.csv"), "w", encoding="utf-8") as f:
        f.write(",".join(cols + [f"{s}_{x}" for s in stats for x in ("mean", "std", "n")]) + "\n")
        for v in variants:
            for row in all_rows[v]:
                cells = [v, str(row["stage"]), row["kind"], csv_num(row["fraction"]), str(int(row["control"]))]
                for s in stats:
                    cells += [csv_num(row[s + "_mean"]), csv_num(row[s + "_std"]), str(row[s + "_n"])]
                f.write(",".join(cells) + "\n")
    with open(os.path.join(out, "report-final.csv"), "w", encoding="utf-8") as f:
        f.write("variant,n,mean,std,ci95_low,ci95_high,diff_vs_first,diff_low,diff_high,epoch_minutes,wall_minutes,values,"
                "clamped_mean,clamped_std,clamped_n,clamp_delta_mean,clamp_delta_std,below_tau_mean,below_tau_std\n")
        for v in variants:
            fs = finals[v]
            d, lo, hi = welch(finals[ref], fs) if v != ref else (float("nan"),) * 3
            f.write(",".join([v, str(fs["n"]), csv_num(fs["mean"]), csv_num(fs["std"]), csv_num(fs["lo"]),
                              csv_num(fs["hi"]), csv_num(d), csv_num(lo), csv_num(hi), csv_num(fs["minutes"]), csv_num(fs["wall"]),
                              " ".join(f"{x:.4f}" for x in fs["vals"]),
                              csv_num(fs["clamped"][0]), csv_num(fs["clamped"][1]), str(fs["clamped"][2]),
                              csv_num(fs["clamp_delta"][0]), csv_num(fs["clamp_delta"][1]),
                              csv_num(fs["below_tau"][0]), csv_num(fs["below_tau"][1])]) + "\n")
    with open(os.path.join(out, "report-paired.csv"), "w", encoding="utf-8") as f:
        f.write("variant,reference,comparisons,n,seeds,diffs,mean,std,ci_low,ci_high,finding\n")
        for v, p in pairs.items():
            f.write(",".join([v, ref, str(comparisons), str(p["n"]), " ".join(map(str, p["seeds"])),
                              " ".join(f"{x:.4f}" for x in p["diffs"]), csv_num(p["mean"]), csv_num(p["std"]),
                              csv_num(p["lo"]), csv_num(p["hi"]), str(int(p["finding"]))]) + "\n")
    with open(os.path.join(out, "report-layers.csv"), "w", encoding="utf-8") as f:
        keys = ["variant", "stage", "unit", "filters", "n", "flagged", "revived", "died_again", "disabled"]
        f.write(",".join(keys) + "\n")
        for row in layers:
            f.write(",".join(csv_num(row[k]) if isinstance(row[k], float) else str(row[k]) for k in keys) + "\n")
    with open(os.path.join(out, "report-paired-stages.csv"), "w", encoding="utf-8") as f:
        f.write("stage,variant,reference,comparisons,n,seeds,diffs,mean,std,ci_low,ci_high,finding\n")
        for (v, k), p in stage_pairs.items():
            f.write(",".join([str(k), v, ref, str(stage_comparisons), str(p["n"]), " ".join(map(str, p["seeds"])),
                              " ".join(f"{x:.4f}" for x in p["diffs"]), csv_num(p["mean"]), csv_num(p["std"]),
                              csv_num(p["lo"]), csv_num(p["hi"]), str(int(p["finding"]))]) + "\n")
    plot(os.path.join(out, "report.png"), variants, finals, all_rows, loaded)
    if plot_paired(os.path.join(out, "report-paired.png"), ref, stage_pairs, tstages):
        with open(os.path.join(out, "report.md"), "a", encoding="utf-8") as f:
            f.write(f"\nFigure: report-paired.png (each variant's paired difference to {ref} at the end of every "
                    "stage after a re-initializing transition: seeds as dots, the mean with its corrected "
                    "interval).\n")
    return os.path.join(out, "report.md"), missing


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(plt, fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def one_stage(variants, finals, all_rows):
    """Whether every variant with a finished run has one stage: the figure then shows epochs."""
    have = [v for v in variants if finals[v]["n"] > 0]
    return bool(have) and all(len(all_rows[v]) == 1 for v in have)


def plot(path, variants, finals, all_rows, loaded):
    plt = pyplot()
    have = [v for v in variants if finals[v]["n"] > 0]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1, 1.5]})
    colors = [plt.get_cmap("tab10")(i % 10) for i in range(len(have))]
    for i, v in enumerate(have):
        f = finals[v]
        err = f["hi"] - f["mean"] if np.isfinite(f["hi"]) else 0.0
        a.errorbar([i], [f["mean"]], yerr=[err], fmt="o", color=colors[i], capsize=4)
        a.plot([i] * len(f["vals"]), f["vals"], ".", color=colors[i], alpha=0.4)
    a.set_xticks(range(len(have)))
    a.set_xticklabels(have, rotation=30, ha="right")
    a.set_ylabel("final test accuracy (%)")
    a.set_title("final accuracy, mean and 95 % t-interval (dots: seeds)", fontsize=9)
    nmax = max((len(all_rows[v]) for v in have), default=1)
    if one_stage(variants, finals, all_rows):  # a single point each says nothing; the epochs do
        plot_epochs(b, have, loaded, colors)
        save_figure(plt, fig, path)
        return
    for i, v in enumerate(have):
        rows = all_rows[v]
        m = np.array([r["acc_mean"] for r in rows])
        s = np.nan_to_num(np.array([r["acc_std"] for r in rows]))
        if len(rows) == 1 and nmax > 1:  # a one-stage run (e.g. from scratch): a level across stages
            xs = np.array([0, nmax - 1])
            b.plot(xs, [m[0]] * 2, "--", color=colors[i], label=f"{v} (one stage)")
            b.fill_between(xs, m[0] - s[0], m[0] + s[0], color=colors[i], alpha=0.15)
            continue
        xs = np.arange(len(rows))
        b.plot(xs, m, "o-", color=colors[i], label=v)
        b.fill_between(xs, m - s, m + s, color=colors[i], alpha=0.2)
    longest = max(have, key=lambda v: len(all_rows[v]), default=None)
    if longest:
        b.set_xticks(range(nmax))
        b.set_xticklabels([f"{r['stage']}\n{r['label']}" for r in all_rows[longest]], fontsize=7)
    b.set_ylabel("test accuracy at stage end (%)")
    b.set_title("across stages: mean ± 1 std over seeds", fontsize=9)
    b.legend(fontsize=7)
    save_figure(plt, fig, path)


def plot_paired(path, ref, stage_pairs, tstages):
    """The paired differences to the reference: per stage after a re-initializing transition and
    per variant, each seed's difference (dots), their mean and its corrected interval (bar)."""
    if not stage_pairs:
        return False
    plt = pyplot()
    variants = list(dict.fromkeys(v for v, _ in stage_pairs))
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(variants) * len(tstages), 3.4))
    colors = {v: plt.get_cmap("tab10")((i + 1) % 10) for i, v in enumerate(variants)}
    ticks, labels = [], []
    for j, k in enumerate(tstages):
        for i, v in enumerate(variants):
            p = stage_pairs.get((v, k))
            x = j * (len(variants) + 1) + i
            ticks.append(x)
            labels.append(f"{v}\nstage {k}")
            if not p or not p["n"]:
                continue
            ax.plot([x] * p["n"], p["diffs"], ".", color=colors[v], alpha=0.5)
            if np.isfinite(p["lo"]):
                ax.errorbar([x], [p["mean"]], yerr=[[p["mean"] - p["lo"]], [p["hi"] - p["mean"]]], fmt="o",
                            color=colors[v], capsize=4)
            else:
                ax.plot([x], [p["mean"]], "o", color=colors[v])
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel(f"test accuracy − {ref}'s (points)")
    ax.set_title(f"paired by seed (dots), mean and 95 % interval Bonferroni-corrected for "
                 f"{len(stage_pairs)} comparisons", fontsize=9)
    save_figure(plt, fig, path)
    return True


def seed_table(ys):
    """Curves of unequal length as rows of a NaN-padded table."""
    table = np.full((len(ys), max(len(y) for y in ys)), np.nan)
    for j, y in enumerate(ys):
        table[j, :len(y)] = y
    return table


def plot_epochs(ax, variants, loaded, colors):
    """Test accuracy after each epoch of the run: mean over seeds, shaded ± 1 std."""
    for i, v in enumerate(variants):
        table = seed_table([100 * x["hist"]["test_acc"] for x in loaded[v]])
        xs = np.arange(1, table.shape[1] + 1)
        counts = np.isfinite(table).sum(axis=0)
        m = np.array([np.nanmean(c) if k else np.nan for c, k in zip(table.T, counts)])
        s = np.array([np.nanstd(c, ddof=1) if k > 1 else 0.0 for c, k in zip(table.T, counts)])
        ax.plot(xs, m, "-", color=colors[i], label=v)
        ax.fill_between(xs, m - s, m + s, color=colors[i], alpha=0.2)
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("per epoch: mean ± 1 std over seeds", fontsize=9)
    ax.legend(fontsize=7)


def plot_gamma(path, variants, loaded):
    """Share of filters with |γ| < τ (history gamma_below_tau, %) against the run's epoch: per
    variant the mean over its seeds (where at least one has the epoch) and each seed thin. Writes
    nothing and returns False when no run has the column (checkpoints older than it)."""
    curves = {v: [100 * x["hist"]["gamma_below_tau"] for x in loaded[v]] for v in variants}
    curves = {v: [y for y in ys if np.isfinite(y).any()] for v, ys in curves.items()}
    curves = {v: ys for v, ys in curves.items() if ys}
    if not curves:
        return False
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (v, ys) in enumerate(curves.items()):
        color = plt.get_cmap("tab10")(i % 10)
        table = seed_table(ys)
        for y in ys:
            ax.plot(np.arange(1, len(y) + 1), y, "-", color=color, lw=0.6, alpha=0.4)
        seen = np.isfinite(table).any(axis=0)
        mean = np.full(table.shape[1], np.nan)
        mean[seen] = np.nanmean(table[:, seen], axis=0)
        ax.plot(np.arange(1, table.shape[1] + 1), mean, "-", color=color, lw=1.8, label=f"{v} (n={len(ys)})")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("epoch (of the whole run)")
    ax.set_ylabel("filters with |γ| < τ (%)")
    ax.set_title("share below τ: mean over seeds (thin: seeds)", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(plt, fig, path)
    return True
