"""What a finished study run leaves behind (scripts/study.py): its `done` marker, which names the
run's final stage file (a run that ended just as the study was stopped has none, and is known by
its newest stage file), the wall-clock minutes its processes took, and its result record
RESULTS_DIR/VARIANT/seed-S.json (writing, reading and checking it). A run r is a dict of
study.py's grid: name, variant, seed, dir, record, fingerprint, resolved.

    path = study_records.final_file(r)         # the complete final stage file, or None
    study_records.mark_done(r)                 # the done marker, naming the newest stage file
    study_records.write_record(r, path)        # its record, from that file
    run = study_records.read_record(r)         # as revive_h5.load gives it, or None
"""
import calendar
import json
import os
import re
import subprocess
import time

import numpy as np

import revive_h5


class StudyError(Exception):
    """A user's mistake: one line on stderr, exit 2 (study.py's main reports it)."""


def config_diff(was, now):
    """The first three keys whose values differ, as "key: old -> new, ..."."""
    diff = [k for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)]
    return ", ".join(f"{k}: {was.get(k, '(unset)')} -> {now.get(k, '(unset)')}" for k in diff[:3])


# ---- a finished run's directory ---------------------------------------------------------------

def done_marker(r):
    return os.path.join(r["dir"], "done")


def complete_stage_file(path):
    """The run as revive_h5.load gives it when path is a complete stage-KK.h5 (its statistics
    hold stages 0 … KK), else None."""
    try:
        run = revive_h5.load(path)
    except (OSError, ValueError, KeyError, TypeError, revive_h5.FileError):
        return None
    m = re.fullmatch(r"stage-(\d+)\.h5", os.path.basename(path))
    return run if m and len(run["stages"]) == int(m.group(1)) + 1 else None


def marked_final(r):
    """The complete final stage file the run's done marker names (with the run's fingerprint),
    or None."""
    try:
        with open(done_marker(r), encoding="utf-8") as f:
            done = json.load(f)
        path = os.path.join(r["dir"], done["final"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if done.get("fingerprint") != r["fingerprint"] or not complete_stage_file(path):
        return None
    return path


def pipeline_binary():
    """The pipeline study.py runs: $PIPELINE (study.py sets it from --pipeline), else ./pipeline of
    this checkout."""
    return os.environ.get("PIPELINE") or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                      "pipeline")


def option_value(option, it):
    """The value after a command-line option (the next argument of the iterator it): the
    scripts' one way to read `--out DIR`, `--pipeline PATH`; a StudyError when it is missing."""
    v = next(it, "")
    if not v:
        raise StudyError(f"{option} needs a value")
    return v


def report_args(argv, doc, script):
    """The command line of a script that reads studies and writes a report (study_table.py,
    study_compare.py): its arguments, `--out PREFIX` (None: stdout) and `--pipeline PATH` (default
    pipeline_binary()); -h/--help prints doc. Returns (arguments, {"out", "pipeline"}), or None
    after --help; an unknown option is a StudyError naming `script --help`."""
    args, opts = [], {"out": None, "pipeline": pipeline_binary()}
    it = iter(argv[1:])
    for a in it:
        if a in ("--out", "--pipeline"):
            opts[a[2:]] = option_value(a, it)
        elif a in ("-h", "--help"):
            print(doc)
            return None
        elif a.startswith("-"):
            raise StudyError(f"unknown option {a}; see {script} --help")
        else:
            args.append(a)
    return args, opts


def write_tables(out, made_by, md, csv):
    """OUT.md (a "Made by: COMMAND" line, then md) and OUT.csv, OUT's directory made first."""
    if os.path.dirname(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".md", "w", encoding="utf-8") as f:
        f.write(f"Made by: {made_by}\n\n" + md)
    with open(out + ".csv", "w", encoding="utf-8") as f:
        f.write(csv)


def plan(path):
    """`pipeline plan PATH --format json`: the stages the config of PATH (an INI file or a
    checkpoint) makes, as the binary's schedule module computes them (src/pipeline/schedule.c)."""
    pipeline = pipeline_binary()
    try:
        p = subprocess.run([pipeline, "plan", path, "--format", "json"], capture_output=True, text=True)
    except OSError as e:
        raise StudyError(f"{pipeline}: cannot run `plan` ({e.strerror}); build it with make, or give "
                         "--pipeline PATH") from None
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines()
        raise StudyError(f"{pipeline} plan {path}: {lines[-1] if lines else f'exit {p.returncode}'}")
    return json.loads(p.stdout)


def schedule_ended(path, run):
    """True when the stage file at path (loaded as run) ends its schedule, so that `pipeline
    resume` would train nothing more: the pipeline's plan of the file (the schedule its resume
    follows, src/pipeline/pipeline.c schedule_for_run) has no stage beyond the finished ones.
    A pipeline older than the plan's "finished" count: the run must have as many stages as its
    config's schedule from the start and no stage of a larger fraction may follow (both, so that
    neither BN-only rounds, whose fractions are all 0, nor a branch's list that leaves out its
    branch point's stages ends a run early)."""
    p = plan(path)
    if not p["pipeline"]:
        return True
    if "finished" in p:
        return p["finished"] >= len(p["stages"])
    last = run["stages"][-1]["fraction"]
    return len(run["stages"]) >= len(p["stages"]) and all(s["fraction"] <= last for s in p["stages"])


def unmarked_final(r):
    """The final stage file of a run that ended without a done marker (the study was stopped just
    as the run ended, before it wrote the marker): its newest stage file when that is complete and
    ends the schedule; else None."""
    path = revive_h5.newest_stage_file(r["dir"])
    run = complete_stage_file(path) if path else None
    return path if run and schedule_ended(path, run) else None


def final_file(r):
    """The complete final stage file of a finished run (marked done or not), or None."""
    return marked_final(r) or unmarked_final(r)


def mark_done(r):
    """Writes the run's done marker, naming its newest stage file; returns that name."""
    path = revive_h5.newest_stage_file(r["dir"])
    final = os.path.basename(path) if path else None
    with open(done_marker(r) + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"final": final, "fingerprint": r["fingerprint"]}, f)
        f.write("\n")
    os.replace(done_marker(r) + ".tmp", done_marker(r))
    return final


def wall_file(r):
    return os.path.join(r["dir"], "wall.txt")


def wall_minutes(r, final):
    """Wall-clock minutes the run's processes took: the sum of wall.txt (seconds per process, written
    as each ends) when it has a line for every command in the run's log. Without wall.txt
    (processes started by an older study.py): the span from the first start time in the log to
    the final file's modification time, pauses included. None when neither is known, and when
    wall.txt misses a process (the study was killed before that process ended): the span would
    count the pause until the run was resumed, hours perhaps, as the run's time."""
    try:
        with open(os.path.join(r["dir"], "log.txt"), encoding="utf-8", errors="replace") as f:
            log = f.read()
    except OSError:
        return None
    try:
        with open(wall_file(r), encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
        if len(lines) == log.count("\n$ "):
            return sum(float(line.split()[0]) for line in lines) / 60
        if lines:
            return None
    except (OSError, ValueError, IndexError):
        pass
    starts = re.findall(r"  started (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)  ", log)
    if not starts or not final:
        return None
    try:
        t0 = calendar.timegm(time.strptime(starts[0], "%Y-%m-%dT%H:%M:%SZ"))
        return (os.path.getmtime(final) - t0) / 60
    except (OSError, ValueError):
        return None


# ---- result records ---------------------------------------------------------------------------
# A finished run's results in a small text file (RESULTS_DIR/VARIANT/seed-S.json), so that a study
# spread over machines keeps them in git: what the report reads from the final stage file.

RECORD_VERSION = 1
STAGE_SCALARS = ("kind", "label", "fraction", "threshold", "acc_start", "acc_start_recal", "acc_end",
                 "acc_clamped", "reinit_applied")
STAGE_FLAGS = ("disabled", "reinit", "revived")
# What a record keeps of each process start that wrote the run: which revive, when, where, how.
PROVENANCE_KEYS = ("commit", "started", "host", "ranks", "threads")


def finite_or_none(x):
    return float(x) if np.isfinite(x) else None  # strict JSON has no NaN


def make_record(r, path):
    """The record of the finished run r whose final stage file is path. Float64 values are kept
    exactly (repr); γ (float32 in the file) as the shortest decimal that reads back to the same
    float32; NaN as null."""
    run = revive_h5.load(path)
    stages = []
    for s in run["stages"]:
        d = {k: s[k] if isinstance(s[k], str) else (int(s[k]) if k == "reinit_applied" else finite_or_none(s[k]))
             for k in STAGE_SCALARS}
        d["gamma"] = [float(str(g)) for g in s["gamma"].astype(np.float32)]
        for k in STAGE_FLAGS:
            d[k] = s[k].astype(int).tolist()
        stages.append(d)
    wall = wall_minutes(r, path)
    return {"version": RECORD_VERSION, "run": r["name"], "variant": r["variant"], "seed": r["seed"],
            "fingerprint": r["fingerprint"], "final": os.path.basename(path),
            "wall_minutes": None if wall is None else finite_or_none(wall),
            "provenance": [{k: p[k] for k in PROVENANCE_KEYS if k in p} for p in run["provenance"]],
            "stages": stages,
            "units": [{"name": u, "filters": n} for u, n in zip(run.get("units", []), run.get("filters_per_unit", []))],
            "hist": {c: [finite_or_none(x) for x in v] for c, v in run["hist"].items()},
            "resolved": r["resolved"]}


def record_text(x, indent=0):
    """JSON with one line per key of a dict (and per element of a list of dicts) and each list of
    numbers on one line: small, and a diff shows which field changed."""
    pad = " " * (indent + 1)
    if isinstance(x, dict) and x:
        return ("{\n" + ",\n".join(f"{pad}{json.dumps(k)}: {record_text(v, indent + 1)}" for k, v in x.items())
                + "\n" + " " * indent + "}")
    if isinstance(x, list) and x and isinstance(x[0], dict):
        return "[\n" + ",\n".join(pad + record_text(v, indent + 1) for v in x) + "\n" + " " * indent + "]"
    return json.dumps(x, allow_nan=False, separators=(",", ":"))


def write_record(r, path):
    os.makedirs(os.path.dirname(r["record"]) or ".", exist_ok=True)
    tmp = r["record"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(record_text(make_record(r, path)) + "\n")
    os.replace(tmp, r["record"])


def read_record(r):
    """The run r as revive_h5.load gives it (plus wall_minutes) from its record, or None when it
    has none. A record of another config or run, or a broken one, is refused."""
    path = r["record"]
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            rec = json.load(f)
        if not isinstance(rec, dict) or rec.get("version") != RECORD_VERSION:
            raise ValueError(f"version is not {RECORD_VERSION}")
    except (OSError, ValueError) as e:
        raise StudyError(f"{path}: not a study result record ({e}); remove it") from None
    if rec.get("fingerprint") != r["fingerprint"] or rec.get("run") != r["name"]:
        what = (config_diff(rec.get("resolved", {}), r["resolved"]) if rec.get("run") == r["name"]
                else f"it is the record of run {rec.get('run')}")
        raise StudyError(f"{path}: this result record is not of run {r['name']} with the study's config "
                         f"({what or 'fingerprint differs'}); remove the file or choose another [study] results_dir")
    try:
        stages = []
        for d in rec["stages"]:
            s = {k: float("nan") if d[k] is None else float(d[k]) for k in STAGE_SCALARS
                 if k not in ("kind", "label")}
            s["kind"], s["label"], s["reinit_applied"] = str(d["kind"]), str(d["label"]), int(d["reinit_applied"])
            s["gamma"] = np.asarray(d["gamma"], dtype=np.float32).astype(np.float64)
            for k in STAGE_FLAGS:
                s[k] = np.asarray(d[k], dtype=int).astype(bool)
            stages.append(s)
        hist = {c: np.asarray([np.nan if x is None else x for x in v], dtype=float) for c, v in rec["hist"].items()}
        if not stages or "seconds" not in hist:
            raise ValueError("no stages or no history")
    except (KeyError, TypeError, ValueError) as e:
        raise StudyError(f"{path}: not a complete study result record ({type(e).__name__}: {e}); remove it") from None
    out = {"path": path, "name": r["name"], "stages": stages, "hist": hist, "wall_minutes": rec.get("wall_minutes"),
           "provenance": rec.get("provenance", [])}
    if rec.get("units"):  # records written before the field existed have no layers
        try:
            out["units"] = [str(u["name"]) for u in rec["units"]]
            out["filters_per_unit"] = [int(u["filters"]) for u in rec["units"]]
            if sum(out["filters_per_unit"]) != len(stages[0]["gamma"]):
                raise ValueError(f"{sum(out['filters_per_unit'])} filters, the stages have {len(stages[0]['gamma'])}")
        except (KeyError, TypeError, ValueError) as e:
            raise StudyError(f"{path}: its units are not a list of {{name, filters}} ({type(e).__name__}: {e}); "
                             "remove the record") from None
    return out


def write_missing_records(runs, quiet=False):
    """A record for every finished run that has none. Returns how many were written."""
    n = 0
    for r in runs:
        path = final_file(r)
        if path and read_record(r) is None:
            write_record(r, path)
            if not quiet:
                print(f"{r['name']}: record {r['record']}", flush=True)
            n += 1
    return n
