"""Reading revive checkpoints (docs/checkpoint-format.md) with h5py: shared by scripts/plot.py,
scripts/compare_runs.py and scripts/study.py (with study_records.py and study_report.py).

    import revive_h5
    run = revive_h5.load("checkpoints/demo/stage-02.h5")   # history + one dict per finished stage
    path = revive_h5.newest_stage_file("checkpoints/demo")  # the stage-KK.h5 with the largest KK

    kind = revive_h5.text(f["stats/stage-00"].attrs["kind"])  # any stored string, as str
    units = revive_h5.text(f["stats/units"][()])

Strings: format 3 (include/checkpoint.h) stores every string fixed-length, which h5py gives as
bytes (numpy.bytes_); formats 1 and 2 stored them variable-length (str for attributes, bytes for
datasets). `text` turns any of them into str: use it wherever a checkpoint's string is read.

Errors a user can cause (missing file, foreign file, unfinished run) raise FileError with a
one-line message naming the file. Needs /usr/bin/python3 with python3-h5py and python3-numpy.
"""
import os
import re
import zlib

import h5py
import numpy as np


# The root attributes `format` and `format_version` of the newest layout these scripts know: the
# values of CHECKPOINT_FORMAT and CHECKPOINT_VERSION in include/checkpoint.h (tests/interop.test.sh
# checks that they agree).
FORMAT = "revive-checkpoint"
FORMAT_VERSION = 3


def text(value, default=""):
    """A string read from a checkpoint (attribute value or dataset[()]) as str: bytes (fixed-length
    strings, format 3) are decoded as UTF-8, str (variable-length, formats 1 and 2) kept, None
    (an absent attribute's .get) gives default."""
    if value is None:
        return default
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def provenance_starts(f):
    """One dict per process start recorded in the open file f's /provenance (a resumed run has
    several), oldest first: strings as str, numbers as int; [] for files written before revive
    recorded provenance."""
    if "provenance" not in f:
        return []
    return [{k: (int(v) if isinstance(v, (int, np.integer)) else text(v)) for k, v in f["provenance"][g].attrs.items()}
            for g in sorted(f["provenance"])]


# [pipeline] threshold when a stored config leaves it out (src/config/config_table.c).
DEFAULT_THRESHOLD = 0.01


class FileError(Exception):
    """A file that cannot be read as a revive checkpoint: the message is one line."""


def stage_label(kind, fraction):
    """Short name of a stage kind (include/stages.h), e.g. "BN + 10% conv"."""
    if kind == "conv_fraction":
        return f"BN + {fraction * 100:g}% conv"
    # per_channel trains k conv weights per output channel and nothing else (stages/per_channel.c):
    # its BN γ and β stay frozen, so its label must not say BN.
    return {"bn": "BN only", "all": "all", "bn_output": "BN + output", "output": "output only",
            "per_channel": "per-channel conv"}.get(kind, kind)


def config_value(config_text, section, key):
    """`key` of `[section]` in the stored INI text, as a string ("" when absent); values may be
    quoted."""
    current = ""
    for line in config_text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
        elif current == section and "=" in line and line.split("=", 1)[0].strip() == key:
            value = line.split("=", 1)[1].strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
    return ""


def run_name(config_text):
    """`name` of the [run] section of the stored INI text."""
    return config_value(config_text, "run", "name")


def stage_file(run_dir, k):
    return os.path.join(run_dir, f"stage-{k:02d}.h5")


def stage_numbers(run_dir):
    """The KK of every stage-KK.h5 in run_dir, ascending (empty when there is none)."""
    try:
        names = os.listdir(run_dir)
    except OSError:
        return []
    return sorted(int(m.group(1)) for m in (re.fullmatch(r"stage-(\d+)\.h5", n) for n in names) if m)


def newest_stage_file(run_dir):
    """The stage file with the largest KK (it holds every earlier stage's statistics), or None."""
    ks = stage_numbers(run_dir)
    return stage_file(run_dir, ks[-1]) if ks else None


def load(path, need_stages=True):
    """The history and stage statistics of one checkpoint, as plain numpy arrays.

    A file without a finished stage (a last.h5 in stage 0) is refused, unless need_stages is
    False: then "stages" is empty and only the history (at least one epoch) is there. "threshold"
    is τ of the run's config ([pipeline] threshold), the value every stage's threshold has.

    "provenance": the process starts that wrote the file (provenance_starts).

    "units" and "filters_per_unit" (where the file has them): the filters' layers, the per-filter
    arrays being the units' filters in that order.

    History ("hist"): stage, epoch, test_acc, train_acc, seconds and gamma_below_tau (NaN in files
    older than that column), plus abs_gamma_p10, abs_gamma_p50, abs_gamma_p90 and lr where the file has them.

    Per stage: kind, label, fraction, threshold, acc_start (right after the transition; -1 for
    stage 0), acc_start_recal (the same after BatchNorm recalibration; -1 when not done or written
    before it existed), acc_end, acc_clamped, reinit_applied, and per filter gamma, disabled,
    reinit, plus the groups alive_never, alive_earlier, revived, died_again, newly_disabled."""
    if not os.path.exists(path):
        raise FileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise FileError(f"{path}: is a directory; give a checkpoint file such as {path}/stage-00.h5")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise FileError(f"{path}: not an HDF5 file ({str(e).split(';')[0].strip()})") from None
    with f:
        if text(f.attrs.get("format")) != FORMAT:
            raise FileError(f"{path}: not a revive checkpoint (root attribute format is not "
                            "\"revive-checkpoint\")")
        try:
            nstages = int(f["stats"].attrs["nstages"])
            if nstages <= 0 and need_stages:
                raise FileError(f"{path}: no stage statistics (/stats nstages = 0): the run has not "
                                "finished a stage yet; plot a stage-KK.h5 file")
            config = text(f["config"][()])
            run = {"path": path, "config": config,
                   "name": run_name(config) or os.path.splitext(os.path.basename(path))[0],
                   "threshold": float(config_value(config, "pipeline", "threshold") or DEFAULT_THRESHOLD),
                   "provenance": provenance_starts(f)}
            # the filters' layers: unit names and each unit's filter count, in the per-filter order
            if "stats/units" in f and "stats/filters_per_unit" in f:
                run["units"] = [u for u in text(f["stats/units"][()]).split("\n") if u]
                run["filters_per_unit"] = [int(x) for x in f["stats/filters_per_unit"][()]]
            run["hist"] = {c: np.asarray(f["history/" + c][()], dtype=float)
                           for c in ("stage", "epoch", "test_acc", "train_acc", "seconds")}
            # Per-epoch share of |γ| < τ; older checkpoints lack the column: NaN (unknown).
            n = len(run["hist"]["stage"])
            run["hist"]["gamma_below_tau"] = (
                np.asarray(f["history/gamma_below_tau"][()], dtype=float)
                if "history/gamma_below_tau" in f else np.full(n, np.nan))
            # The |γ| quantiles after each epoch and the epoch's learning rate, where the file has them.
            for c in ("abs_gamma_p10", "abs_gamma_p50", "abs_gamma_p90", "lr"):
                if "history/" + c in f:
                    run["hist"][c] = np.asarray(f["history/" + c][()], dtype=float)
            stages = []
            for k in range(nstages):
                g = f[f"stats/stage-{k:02d}"]
                s = {key: float(g.attrs[key]) for key in
                     ("fraction", "threshold", "acc_start", "acc_end", "acc_clamped")}
                s["acc_start_recal"] = float(g.attrs.get("acc_start_recal", -1.0))
                s["kind"] = text(g.attrs["kind"])
                s["gamma"] = np.asarray(g["gamma"][()], dtype=np.float64)
                s["disabled"] = np.asarray(g["disabled"][()]).astype(bool)
                s["reinit"] = np.asarray(g["reinit"][()]).astype(bool)
                # files from before pipeline.reinit existed re-initialized every flagged filter
                s["reinit_applied"] = int(g.attrs.get("reinit_applied", int(s["reinit"].sum())))
                stages.append(s)
        except KeyError as e:
            raise FileError(f"{path}: {e.args[0] if e.args else 'a path'} is missing: the "
                            "checkpoint is incomplete or from another version") from None
    run["stages"] = stages
    if not stages:
        if len(run["hist"]["stage"]) == 0:
            raise FileError(f"{path}: no finished epoch yet (empty /history): nothing to plot")
        return run
    ever = np.zeros_like(stages[0]["reinit"])
    for s in stages:
        d, r = s["disabled"], s["reinit"]
        s["alive_earlier"] = ever & ~r & ~d  # before updating: re-initialized before this stage
        ever = ever | r
        s["alive_never"] = ~ever & ~d
        s["revived"], s["died_again"], s["newly_disabled"] = r & ~d, r & d, ~r & d
        s["label"] = stage_label(s["kind"], s["fraction"])
    return run


# Every file revive writes (format 2 on) starts with a 512-byte user block holding a CRC-32 and the
# size of the rest of the file (src/h5io_internal.h); revive refuses a file whose bytes changed
# after it was written. A tool that edits a checkpoint on purpose (revive_torch.save) calls this
# afterwards. Files without the block (format 1, other tools) are left as they are. A string
# written with h5py into a format-3 file must be fixed-length (f.attrs["kind"] = np.bytes_("bn")):
# a str becomes a variable-length string, which revive refuses in format 3.
USERBLOCK = 512


def restamp(path):
    with open(path, "r+b") as f:
        data = f.read()
        if len(data) <= USERBLOCK or not data.startswith(b"revive-hdf5"):
            return
        crc = zlib.crc32(data[USERBLOCK:]) & 0xFFFFFFFF
        text = b"revive-hdf5 crc32 %08x size %d\n" % (crc, len(data))
        f.seek(0)
        f.write(text.ljust(USERBLOCK, b"\0"))
