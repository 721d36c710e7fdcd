#!/usr/bin/python3
"""Paper figures from revive checkpoints (docs/checkpoint-format.md).

    scripts/plot.py checkpoints/demo/stage-02.h5 checkpoints/scratch/stage-00.h5 --out fig

writes, each a separate file in --out (created if needed):
    accuracy   test (solid) and train (dashed) accuracy per epoch over all stages, one colour per
               run; stage boundaries as vertical lines labelled with the stage kind; at each
               boundary x = test accuracy right after the re-initialization, + = after BatchNorm
               recalibration (pipeline.recalibrate_batches)
    filters    per stage, every filter in one of five groups (stacked bars), and the share |γ| < τ
    gamma_hist log10|γ| per stage (step histograms), τ marked
    clamp      test accuracy at each stage end, as trained and with every |γ| < τ clamped to 0
    gamma_share  share of filters with |γ| < τ after every epoch (history column
               gamma_below_tau), one curve per run, with a step schedule's learning-rate drops
               marked; runs from checkpoints older than that column have no curve (the legend
               says so)

Several checkpoints give one line (accuracy) or one panel (the others) per run, named by the
run's `[run] name`. Only /history and /stats are read, so seed-only exports work too. A run still
in its first stage (a last.h5 with at least one epoch) is drawn in accuracy and gamma_share and
left out of the per-stage figures, which are not written when no run has finished a stage.
Uses /usr/bin/python3 with Debian's python3-h5py, python3-numpy and python3-matplotlib
(scripts/install-deps.sh installs them).
"""
import argparse
import math
import os
import sys

PROG = "plot.py"


try:
    import numpy as np
    import h5py
    # The checkpoint reader shared with compare_runs.py and study.py; its FileError is a user's
    # mistake (missing file, wrong checkpoint): one line on stderr, exit 1.
    from revive_h5 import FileError as PlotError, config_value, load
    import matplotlib
    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator
except ImportError as e:
    sys.stderr.write(f"{PROG}: {e.name} missing: install python3-{e.name} "
                     "(scripts/install-deps.sh installs python3-h5py, python3-numpy and "
                     "python3-matplotlib); run with /usr/bin/python3\n")
    sys.exit(1)

# Filter groups, bottom to top of a bar. The four of include/stats.h (alive = neither disabled
# nor re-initialized before this stage, newly_disabled, revived, died_again) partition the
# filters; "alive" is split by whether the filter was re-initialized at an earlier transition,
# so that the bottom group is exactly "never re-initialized".
GROUPS = [
    ("alive_never", "alive, never re-initialized", "#c9c9c9"),
    ("alive_earlier", "alive, revived at an earlier stage", "#9ecae1"),
    ("revived", "revived (re-initialized, alive now)", "#2ca02c"),
    ("died_again", "died again (re-initialized, disabled now)", "#d62728"),
    ("newly_disabled", "newly disabled (alive at stage start)", "#ff9f40"),
]
LOG_FLOOR = -6.0  # log10|γ| below this (and γ = 0) is drawn at the floor, as stats_histogram does
STYLE = {
    "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
    "axes.spines.right": False, "savefig.dpi": 200, "pdf.fonttype": 42,
}


def unique_names(runs):
    """Two files of one run (stage-01.h5 and stage-02.h5) get their file names added."""
    names = [r["name"] for r in runs]
    for r in runs:
        if names.count(r["name"]) > 1:
            r["name"] = f"{r['name']} ({os.path.basename(r['path'])})"


def run_colors(n):
    cmap = plt.get_cmap("tab10")
    return [cmap(i % 10) for i in range(n)]


def panels(n):
    """A grid of n panels, at most 3 a row, sharing the y axis; returns (fig, flat axes)."""
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    width = 6.4 if n == 1 else 3.3 * ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 3.2 * nrows), sharey=True,
                             squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def crowded(run, nruns):
    """Too many stages for upright two-line labels in a panel (6.4 in wide alone, 3.3 in a grid)."""
    return len(run["stages"]) > (7 if nruns == 1 else 4)


def stage_ticks(ax, run, many, extra=None):
    """Stage axis: "0\\nBN only" below each bar (one line, slanted, when stages are many)."""
    ks = range(len(run["stages"]))
    labels = []
    for k in ks:
        text = f"{k}: {run['stages'][k]['label']}" if many else f"{k}\n{run['stages'][k]['label']}"
        if extra:
            text += (f" ({extra(run['stages'][k])})" if many else "\n" + extra(run["stages"][k]))
        labels.append(text)
    ax.set_xticks(list(ks))
    ax.set_xticklabels(labels, rotation=35 if many else 0, ha="right" if many else "center")
    ax.set_xlabel("stage")


def stage_starts(run):
    """(stage, x of its first epoch) on the accuracy plot's x axis (epochs 1, 2, … over stages)."""
    st = run["hist"]["stage"]
    return [(int(st[i]), i + 1) for i in range(len(st)) if i == 0 or st[i] != st[i - 1]]


def plot_accuracy(runs, colors):
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    # Boundaries are labelled for the run with the most stages; another run whose stages start
    # elsewhere gets its own dotted boundaries in its colour.
    ref = max(range(len(runs)), key=lambda i: len(stage_starts(runs[i])))
    ref_starts = stage_starts(runs[ref])
    top = 0.0
    any_start = any_recal = False
    for i, run in enumerate(runs):
        h = run["hist"]
        x = np.arange(1, len(h["stage"]) + 1)
        ax.plot(x, 100 * h["test_acc"], "-", color=colors[i], marker="o", ms=3, lw=1.5, zorder=3)
        ax.plot(x, 100 * h["train_acc"], "--", color=colors[i], lw=1.1, alpha=0.85, zorder=3)
        top = max(top, float(np.max(h["test_acc"], initial=0)), float(np.max(h["train_acc"], initial=0)))
        starts = stage_starts(run)
        for k, x0 in starts[1:]:
            if i != ref and (k, x0) not in ref_starts:
                ax.axvline(x0 - 0.5, color=colors[i], ls=":", lw=1)
            if k < len(run["stages"]) and run["stages"][k]["acc_start"] >= 0:
                ax.plot([x0 - 0.5], [100 * run["stages"][k]["acc_start"]], "x", color=colors[i],
                        ms=6, mew=1.5, zorder=4)
                any_start = True
            if k < len(run["stages"]) and run["stages"][k]["acc_start_recal"] >= 0:
                ax.plot([x0 - 0.5], [100 * run["stages"][k]["acc_start_recal"]], "+", color=colors[i],
                        ms=7, mew=1.5, zorder=4)
                any_recal = True
    nstages_ref = len(runs[ref]["stages"])
    end = len(runs[max(range(len(runs)), key=lambda i: len(runs[i]["hist"]["stage"]))]["hist"]["stage"])
    bounds = [x0 - 0.5 for _, x0 in ref_starts] + [len(runs[ref]["hist"]["stage"]) + 0.5]
    trans = ax.get_xaxis_transform()  # x in data units, y in axes fraction
    many = len(ref_starts) > 5
    for j, (k, x0) in enumerate(ref_starts):
        if j > 0:
            ax.axvline(x0 - 0.5, color="0.45", ls="--", lw=0.9, zorder=1)
        text = f"{k}: {runs[ref]['stages'][k]['label']}" if k < nstages_ref else f"{k}: in progress"
        mid = 0.5 * (bounds[j] + bounds[j + 1])
        ax.text(mid, 1.02, text, transform=trans, ha="left" if many else "center", va="bottom",
                rotation=45 if many else 0, rotation_mode="anchor", fontsize=8, color="0.25")
    ax.set_xlim(0.5, end + 0.5)
    ax.set_ylim(0, min(100, 10 * math.ceil((100 * top + 5) / 10)))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch (counted over all stages)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(axis="y", color="0.9", lw=0.6)
    handles = [Line2D([], [], color=c, lw=2, label=r["name"]) for r, c in zip(runs, colors)]
    handles += [Line2D([], [], color="0.3", ls="-", marker="o", ms=3, label="test"),
                Line2D([], [], color="0.3", ls="--", label="train")]
    if any_start:
        handles.append(Line2D([], [], color="0.3", ls="", marker="x", ms=6, mew=1.5,
                              label="test, after re-init"))
    if any_recal:
        handles.append(Line2D([], [], color="0.3", ls="", marker="+", ms=7, mew=1.5,
                              label="… after BN recalibration"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def plot_filters(runs, colors):
    fig, axes = panels(len(runs))
    twins = []
    for ax, run in zip(axes, runs):
        ks = np.arange(len(run["stages"]))
        bottom = np.zeros(len(ks))
        for key, _, color in GROUPS:
            n = np.array([s[key].sum() for s in run["stages"]], dtype=float)
            ax.bar(ks, n, 0.6, bottom=bottom, color=color, edgecolor="white", lw=0.4)
            bottom += n
        share = [100 * np.mean(s["disabled"]) for s in run["stages"]]  # the run's own rule (threshold_mode)
        tw = ax.twinx()
        tw.plot(ks, share, "-o", color="black", ms=4, lw=1.3)
        for k, v in zip(ks, share):
            tw.annotate(f"{v:.1f}%", (k, v), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=7,
                        bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.8))
        tw.spines["top"].set_visible(False)
        twins.append((tw, max(share)))
        ax.set_xlim(-0.6, max(len(ks), 2) - 0.4)
        stage_ticks(ax, run, crowded(run, len(runs)))
        ax.set_title(run["name"])
    axes[0].set_ylabel("filters")
    # One scale for every share axis, so panels compare; headroom for the value labels.
    hi = max(1.0, max(m for _, m in twins)) * 1.35
    for j, (tw, _) in enumerate(twins):
        tw.set_ylim(0, hi)
        if j == len(twins) - 1 or (j + 1) % 3 == 0:  # the right-hand panel of each row
            tw.set_ylabel(r"share with $|\gamma| < \tau$ (%)")
        else:
            tw.tick_params(right=False, labelright=False)
            tw.spines["right"].set_visible(False)
    handles = [Patch(color=c, label=lab) for _, lab, c in GROUPS]
    handles.append(Line2D([], [], color="black", marker="o", ms=4, label=r"$|\gamma| < \tau$ (right axis)"))
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2,
               frameon=False)
    fig.tight_layout()
    return fig


def plot_gamma_hist(runs, colors):
    fig, axes = panels(len(runs))
    logs = []
    clipped = False
    for run in runs:
        for s in run["stages"]:
            a = np.abs(s["gamma"])
            clipped |= bool(np.any(a < 10 ** LOG_FLOOR))
            s["log"] = np.log10(np.maximum(a, 10 ** LOG_FLOOR))
            logs.append(s["log"])
    allv = np.concatenate(logs + [np.log10([s["threshold"] for r in runs for s in r["stages"]])])
    lo = math.floor(float(allv.min()) * 4) / 4
    hi = math.ceil(float(allv.max()) * 4) / 4 + 0.25
    edges = np.linspace(lo, hi, max(10, int(round((hi - lo) / 0.1))) + 1)
    for ax, run in zip(axes, runs):
        cmap = plt.get_cmap("viridis")
        n = len(run["stages"])
        for k, s in enumerate(run["stages"]):
            ax.hist(s["log"], bins=edges, histtype="step", lw=1.4,
                    color=cmap(0.85 * k / max(1, n - 1)), label=f"{k}: {s['label']}")
        for tau in sorted({s["threshold"] for s in run["stages"]}):
            ax.axvline(math.log10(tau), color="black", ls="--", lw=1)
            ax.text(math.log10(tau), 0.97, f" τ = {tau:g}", transform=ax.get_xaxis_transform(),
                    ha="left", va="top", fontsize=8)
        ax.set_xlim(lo, hi)
        ax.set_xlabel(r"$\log_{10}|\gamma|$" + (f"  (values < 1e{LOG_FLOOR:.0f} at {LOG_FLOOR:.0f})"
                                                 if clipped else ""))
        ax.set_title(run["name"])
        # A framed legend, so that a τ line running behind it stays readable.
        ax.legend(title="stage", loc="upper left", fontsize=7, title_fontsize=7,
                  bbox_to_anchor=(0.0, 0.9), frameon=True, framealpha=0.85, edgecolor="none")
    axes[0].set_ylabel("filters per bin")
    top = max(ax.get_ylim()[1] for ax in axes)
    for ax in axes:
        ax.set_ylim(0, top * 1.45)  # room for the legend above the bulk of the histogram
    fig.tight_layout()
    return fig


def plot_clamp(runs, colors):
    fig, axes = panels(len(runs))
    w = 0.38
    for ax, run in zip(axes, runs):
        ks = np.arange(len(run["stages"]))
        end = [100 * s["acc_end"] for s in run["stages"]]
        clamp = [100 * s["acc_clamped"] for s in run["stages"]]
        b1 = ax.bar(ks - w / 2, end, w, color="#4c72b0")
        b2 = ax.bar(ks + w / 2, clamp, w, color="#dd8452", hatch="///", edgecolor="white", lw=0)
        for bars in (b1, b2):  # upright labels would overlap on narrow bars
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1,
                         rotation=90 if crowded(run, len(runs)) else 0)
        ax.set_xlim(-0.6, max(len(ks), 2) - 0.4)
        stage_ticks(ax, run, crowded(run, len(runs)), extra=lambda s: f"{int(s['disabled'].sum())} clamped")
        ax.set_title(f"{run['name']}: at each stage end")
        ax.grid(axis="y", color="0.9", lw=0.6)
        ax.set_axisbelow(True)
    top = max(max(max(s["acc_end"], s["acc_clamped"]) for s in r["stages"]) for r in runs)
    axes[0].set_ylim(0, min(110, 10 * math.ceil((100 * top + 8) / 10)))
    axes[0].set_ylabel("test accuracy (%)")
    handles = [Patch(color="#4c72b0", label="as trained"),
               Patch(facecolor="#dd8452", hatch="///", edgecolor="white",
                     label=r"every $|\gamma| < \tau$ clamped to 0")]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2,
               frameon=False)
    fig.tight_layout()
    return fig


def lr_steps(run):
    """(x of the first epoch at the new rate, factor) where a step schedule (train.lr_schedule =
    step, the default) dropped the learning rate within a stage; nothing for cosine schedules,
    whose rate changes every epoch, or for files without the lr column."""
    h = run["hist"]
    if "lr" not in h or (config_value(run["config"], "train", "lr_schedule") or "step") != "step":
        return []
    lr, st = h["lr"], h["stage"]
    return [(i + 1, float(f"{lr[i] / lr[i - 1]:.3g}")) for i in range(1, len(lr))
            if st[i] == st[i - 1] and 0 < lr[i] < lr[i - 1]]


def plot_gamma_share(runs, colors):
    """Share of |γ| < τ after every epoch, epochs counted over all stages, one curve per run."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    top = 0.0
    for i, run in enumerate(runs):
        h = run["hist"]
        y = 100 * h["gamma_below_tau"]
        x = np.arange(1, len(y) + 1)
        known = np.isfinite(y)
        label = run["name"] if known.any() else f"{run['name']} (no per-epoch |γ| history)"
        ax.plot(x[known], y[known], "-", color=colors[i], marker="o", ms=3, lw=1.5, label=label)
        if known.any():
            top = max(top, float(np.max(y[known])))
        for _, x0 in stage_starts(run)[1:]:
            ax.axvline(x0 - 0.5, color=colors[i], ls=":", lw=0.9)
        for x0, factor in lr_steps(run):
            ax.axvline(x0 - 0.5, color=colors[i], ls="-.", lw=0.9, alpha=0.7)
            ax.text(x0 - 0.5, 0.98, f" lr ×{factor:g}", transform=ax.get_xaxis_transform(),
                    ha="left", va="top", fontsize=7, color=colors[i])
    taus = sorted({r["threshold"] for r in runs})
    tau = f"{taus[0]:g}" if len(taus) == 1 else "τ"
    ax.set_xlabel("epoch (counted over all stages; dotted: stage starts)")
    ax.set_ylabel(rf"share with $|\gamma| < {tau}$ (%)")
    ax.set_ylim(0, max(1.0, top) * 1.15)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", color="0.9", lw=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def main(argv):
    ap = argparse.ArgumentParser(prog=PROG, description="Figures from revive checkpoints: "
                                 "accuracy, filters, gamma_hist, clamp, gamma_share.")
    ap.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT")
    ap.add_argument("--out", required=True, metavar="DIR", help="directory for the figures")
    ap.add_argument("--format", choices=("png", "pdf"), default="png")
    args = ap.parse_args(argv)
    try:
        # A last.h5 still in its first stage has a history but no stage statistics: it gets the
        # per-epoch figures (accuracy, gamma_share) and is left out of the per-stage ones.
        runs = [load(p, need_stages=False) for p in args.checkpoints]
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as e:
            raise PlotError(f"{args.out}: cannot create the output directory ({e.strerror})") from None
        if not os.access(args.out, os.W_OK):
            raise PlotError(f"{args.out}: output directory is not writable")
    except PlotError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 1
    unique_names(runs)
    colors = run_colors(len(runs))
    # A PDF without a creation date is the same bytes for the same checkpoints.
    meta = {"CreationDate": None} if args.format == "pdf" else {}
    staged = [i for i, r in enumerate(runs) if r["stages"]]
    for r in runs:
        if not r["stages"]:
            sys.stderr.write(f"{PROG}: {r['path']}: no finished stage yet: in accuracy and "
                             "gamma_share only\n")
    with plt.rc_context(STYLE):
        for name, fn, per_stage in (("accuracy", plot_accuracy, False), ("filters", plot_filters, True),
                                    ("gamma_hist", plot_gamma_hist, True), ("clamp", plot_clamp, True),
                                    ("gamma_share", plot_gamma_share, False)):
            if per_stage and not staged:
                continue
            fig = (fn([runs[i] for i in staged], [colors[i] for i in staged]) if per_stage
                   else fn(runs, colors))
            path = os.path.join(args.out, f"{name}.{args.format}")
            try:
                fig.savefig(path, bbox_inches="tight", metadata=meta)
            except OSError as e:
                sys.stderr.write(f"{PROG}: {path}: cannot write ({e.strerror})\n")
                return 1
            finally:
                plt.close(fig)
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
