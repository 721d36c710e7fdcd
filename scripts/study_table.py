#!/usr/bin/env python3
"""The depth-and-width table of one or more studies (scripts/study.py): final test accuracy with
networks as rows (ResNet-D, WRN-D-W) and what trains as columns (the stages' labels), mean ± std
over seeds, from the studies' finished runs (stage files, else the committed result records).

    scripts/study_table.py configs/study-paper-table-bn.ini configs/study-paper-table.ini \\
        --out docs/data/paper-table

writes OUT.md (the table, then one line per cell: seeds, share of |γ| < τ at the end, clamped −
final accuracy, wall minutes and the minutes of its epochs, commits), OUT.csv (the same per cell) and OUT.png (accuracy against
the number of BN parameters, γ and β: a solid line through the networks of width 1, a dashed one
through the widths of the shallowest widened depth). Without --out it prints the markdown.
Options: --pipeline P (the binary whose config keys the study files are checked against; default
./pipeline or $PIPELINE). Two variants that give the same network the same trainable set are
refused: the table would have to pick one.
"""
import os
import sys

import numpy as np

import study
from study_records import StudyError, report_args, write_tables
from study_report import final_stats, pyplot, result, save_figure

PROG = "study_table.py"


def network(resolved, defaults):
    """(sort key, label) of a run's network from its resolved config; a key the config leaves out
    has the pipeline's default."""
    depth, width = (int(resolved.get(k, defaults[k])) for k in ("model.depth", "model.width"))
    label = f"ResNet-{depth}" if width == 1 else f"WRN-{depth}-{width}"
    return (width != 1, depth, width), label


def cell_stats(runs):
    """What the table says about one cell: the study report's final statistics of its finished
    runs (accuracies in %), its BN parameter count and the revive commits that made it."""
    x = final_stats(runs)
    return {"acc": [a for a in x["vals"] if np.isfinite(a)], "mean": x["mean"], "std": x["std"], "n": x["n"],
            "below_tau": x["below_tau"][0], "clamp_delta": x["clamp_delta"][0], "wall_minutes": x["wall"],
            "epoch_minutes": x["minutes"], "bn_params": 2 * len(runs[0]["stages"][-1]["gamma"]),
            "commits": sorted({p["commit"] for r in runs for p in r.get("provenance", []) if p.get("commit")})}


def collect(files, pipeline):
    """rows {key: label}, cols [label], cells {(row key, col): stats}; runs not finished are
    counted in missing."""
    known = study.config_keys(pipeline)
    rows, cols, cells, owner, missing = {}, [], {}, {}, 0
    for path in files:
        s = study.load_study(path, known)
        by_variant = {}
        for r in study.grid(s):
            run = result(r)
            by_variant.setdefault(r["variant"], {"resolved": r["resolved"], "runs": []})
            if run:
                by_variant[r["variant"]]["runs"].append(run)
            else:
                missing += 1
        for variant, v in by_variant.items():
            key, label = network(v["resolved"], known)
            rows[key] = label
            if not v["runs"]:
                continue
            col = " → ".join(st["label"] for st in v["runs"][0]["stages"])
            where = f"{path} [variant {variant}]"
            if (key, col) in owner:
                raise StudyError(f"{where} and {owner[(key, col)]} both give {label} with {col}; "
                                 "tabulate them separately")
            owner[(key, col)] = where
            if col not in cols:
                cols.append(col)
            cells[(key, col)] = cell_stats(v["runs"])
    return dict(sorted(rows.items())), cols, cells, missing


def fmt_cell(c):
    if c is None or c["n"] == 0:
        return "—"
    if c["n"] == 1:
        return f"{c['mean']:.2f}"
    return f"{c['mean']:.2f} ± {c['std']:.2f} ({', '.join(f'{a:.2f}' for a in c['acc'])})"


def num(x, digits, signed=False):
    if x is None or not np.isfinite(x):
        return "—"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def markdown(rows, cols, cells, missing):
    out = ["Final test accuracy (%): mean ± std over seeds (the seeds' values); one value is one seed.", "",
           "| network | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for key, label in rows.items():
        out.append(f"| {label} | " + " | ".join(fmt_cell(cells.get((key, c))) for c in cols) + " |")
    out += ["", "| network | trains | seeds | BN parameters | \\|γ\\| < τ at the end (%) | clamped − final "
            "(points) | wall min / run | epochs' min / run | commits |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for key, label in rows.items():
        for c in cols:
            x = cells.get((key, c))
            if x:
                out.append(f"| {label} | {c} | {x['n']} | {x['bn_params']:,} | {num(x['below_tau'], 1)} | "
                           f"{num(x['clamp_delta'], 2, True)} | {num(x['wall_minutes'], 1)} | {num(x['epoch_minutes'], 1)} | "
                           f"{', '.join(x['commits']) or '—'} |")
    if missing:
        out += ["", f"{missing} run(s) not finished: their cells leave them out."]
    return "\n".join(out) + "\n"


def csv_text(rows, cols, cells):
    lines = ["network,trains,n,mean_acc,std_acc,accs,bn_params,below_tau_pct,clamp_delta_pts,wall_minutes,epoch_minutes"]
    for key, label in rows.items():
        for c in cols:
            x = cells.get((key, c))
            if x:
                lines.append(",".join([label, c, str(x["n"]), num(x["mean"], 4), num(x["std"], 4),
                                       " ".join(f"{a:.4f}" for a in x["acc"]), str(x["bn_params"]),
                                       num(x["below_tau"], 3), num(x["clamp_delta"], 3),
                                       num(x["wall_minutes"], 2), num(x["epoch_minutes"], 2)]))
    return "\n".join(lines) + "\n"


def plot(path, rows, cols, cells):
    """Accuracy against BN parameters: per column a solid line through the width-1 networks and a
    dashed one from the shallowest widened depth's width 1 through its widths; dots are seeds."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, c in enumerate(cols):
        color = plt.get_cmap("tab10")(i % 10)
        widened = sorted({k[1] for k in rows if k[2] > 1 and (k, c) in cells})
        deep = [k for k in rows if k[2] == 1 and (k, c) in cells]
        wide = [k for k in rows if widened and k[1] == widened[0] and (k, c) in cells]
        for keys, style, what in ((deep, "o-", "depth"), (sorted(wide, key=lambda k: k[2]), "s--", "width")):
            if len(keys) < (2 if what == "width" else 1):
                continue
            xs = [cells[(k, c)]["bn_params"] for k in keys]
            ax.plot(xs, [cells[(k, c)]["mean"] for k in keys], style, color=color, label=f"{c}, {what}")
            for k, x in zip(keys, xs):
                ax.plot([x] * cells[(k, c)]["n"], cells[(k, c)]["acc"], ".", color=color, alpha=0.35)
    for key, label in rows.items():
        have = [cells[(key, c)] for c in cols if (key, c) in cells]
        if have:
            ax.annotate(label, (have[0]["bn_params"], min(h["mean"] for h in have)), fontsize=7,
                        textcoords="offset points", xytext=(3, -10))
    ax.set_xscale("log")
    # round ticks a factor 2 apart: the networks' own counts crowd each other (2,240 and 2,464)
    lo, hi = min(x["bn_params"] for x in cells.values()), max(x["bn_params"] for x in cells.values())
    ticks = [t for t in (125 * 2 ** k for k in range(20)) if lo / 1.5 <= t <= hi * 1.5] or [lo]
    ax.set_xticks(ticks, [f"{t:,}" for t in ticks], fontsize=8)
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("BN parameters (γ and β)")
    ax.set_ylabel("final test accuracy (%)")
    ax.set_title("depth (solid) and width (dashed); dots: seeds", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(plt, fig, path)


def main(argv):
    try:
        parsed = report_args(argv, __doc__, "scripts/study_table.py")
        if parsed is None:
            return 0
        files, opts = parsed
        if not files:
            raise StudyError("give one or more study files: scripts/study_table.py configs/study-paper-table-bn.ini …")
        out = opts["out"]
        rows, cols, cells, missing = collect(files, opts["pipeline"])
        if not cells:
            raise StudyError(f"no finished run in {', '.join(files)}; run the studies first (scripts/study.py FILE)")
        md = markdown(rows, cols, cells, missing)
        if not out:
            sys.stdout.write(md)
            return 0
        write_tables(out, f"scripts/study_table.py {' '.join(files)}",
                     md + f"\nFigure: {os.path.basename(out)}.png (accuracy against BN parameters).\n",
                     csv_text(rows, cols, cells))
        plot(out + ".png", rows, cols, cells)
        print(f"table: {out}.md (+ {out}.csv, {out}.png)" + (f"; {missing} run(s) not finished" if missing else ""))
        return 0
    except StudyError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
