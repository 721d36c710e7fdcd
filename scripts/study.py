#!/usr/bin/python3
"""A study in one command: a grid of config variants × seeds, each a separate revive run under one
directory, and a report that aggregates over the seeds.

    scripts/study.py STUDY.ini                  run what is missing, then write the report
    scripts/study.py STUDY.ini --dry-run        list the runs, their state and their commands
    scripts/study.py STUDY.ini --report         only (re)write the report from the finished runs
    scripts/study.py STUDY.ini --record         only write the result record of every finished run
                                                that has none, and nothing else (a study run
                                                also writes those of the runs it skips as done)
    options: --jobs N (runs at once, default 1)  --ranks R (MPI ranks a run, default 1)
             --only NAME[,NAME...] (these variants)  --out DIR (instead of [study] out_dir)
             --stop-after-steps N (each run stops after N steps this time; for time-limited jobs)
             --pipeline PATH (default: ./pipeline next to scripts/, or $PIPELINE)

The study file (paths relative to the directory you run from, like a config's run.out_dir):

    [study]
    config = configs/resnet20-fmnist-pipeline.ini   ; the base config of every run
    seeds = 1, 2, 3
    out_dir = checkpoints/study-reinit              ; default checkpoints/<study file name>
    results_dir = docs/data/my-study                ; result records (optional); default out_dir
    description = one line for the report          ; optional

    [all]                                           ; --set overrides for every run
    data.train_limit = 10000

    [variant control]                               ; one section per variant, in order:
    pipeline.reinit = false                         ; its --set overrides (may be none)
    [variant scratch]
    config = configs/other.ini                      ; optional: another base config
    pipeline.enabled = false

Every run is OUT/VARIANT/seed-S (run.out_dir and run.name are set so). A run is *done* when its
`done` marker names a complete final stage file; a run with last.h5 is *partial* and continues with
`pipeline resume last.h5`; otherwise it is *new*. So the study can be killed and restarted at any
time: finished runs are never repeated (a run in progress holds RUN/.lock, so a second study
process leaves it alone). OUT/study.json stores each run's resolved config (base config keys with
the overrides applied; run.out_dir, run.name and run.threads left out) and a study refuses a
directory whose runs were made with another config.

Result records: when a run finishes, the study also writes RESULTS/VARIANT/seed-S.json (RESULTS
= [study] results_dir, else the out_dir in force, --out included): a small JSON text with all the
report reads from the run's final stage file: the run's fingerprint and resolved config, variant,
seed, wall minutes; per stage kind, label, fraction, threshold, acc_start, acc_start_recal,
acc_end, acc_clamped, reinit_applied and per filter gamma, disabled, reinit, revived; and the
history columns (stage, epoch, test_acc, train_acc, seconds, gamma_below_tau, abs_gamma_p10/50/90
where the file has them; NaN as null). Float64 values are exact, γ the shortest decimal of its
float32. With results_dir inside the repository, commit the records: checkpoints/ is not, and a
run whose record matches its fingerprint is *done* without its run directory (a fresh clone), so
the study skips it and the report (made from the stage file when there is one, else from the
record) still counts it. A record of another config or run is refused, naming the file.

Threads: ranks × threads × jobs ≤ cores; a run gets OMP_NUM_THREADS = cores // (jobs × ranks)
(at least 1) and run.threads = 0. With --ranks R > 1 runs go through
`mpirun -np R --bind-to none` (plus --allow-run-as-root as root). Thread and rank counts change
the speed, not the results (README, MPI); the rank count changes float32 rounding only.

The report (OUT/report.md, OUT/report-stages.csv, OUT/report-final.csv, OUT/report.png,
OUT/report-gamma.png) has, per
variant and stage, mean ± standard deviation over the seeds (and n) of the test accuracy at the
stage end, the accuracy right after the transition into the stage (raw and after BatchNorm
recalibration), the disabled share (|γ| < τ among all filters) and the revived share (alive at
the stage end among the filters flagged at the transition); per variant the final accuracy with a
95 % t-interval (mean ± t(0.975, n−1)·s/√n) and its difference to the first variant with a 95 %
Welch interval; per variant the final clamped accuracy (the last stage's acc_clamped: every
|γ| < τ set to 0), its difference to the final accuracy and the share of filters with |γ| < τ at
the end (mean ± sd over the seeds; columns clamped_*, clamp_delta_*, below_tau_* at the end of
report-final.csv); and figures: report.png, final accuracy per variant with those error bars,
and accuracy across stages per variant shaded by ± one standard deviation over the seeds;
report-gamma.png (when the runs' history has gamma_below_tau), the share of filters with
|γ| < τ after each epoch of the run, per variant the mean over the seeds and each seed thin.
"""
import calendar
import configparser
import difflib
import fcntl
import hashlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time

PROG = "study.py"


class StudyError(Exception):
    """A user's mistake: one line on stderr, exit 2."""


try:
    import numpy as np
    import revive_h5
except ImportError as e:
    sys.stderr.write(f"{PROG}: {e.name} missing: install python3-{e.name} (scripts/install-deps.sh); "
                     "run with /usr/bin/python3\n")
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
STUDY_KEYS = ("config", "seeds", "out_dir", "results_dir", "description")
# left out of the fingerprint: where a run lives and how many threads it uses change no result
NOT_FINGERPRINTED = ("run.out_dir", "run.name", "run.threads")

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


# ---- the study file ------------------------------------------------------------------------

def read_ini(path, what, strict=True):
    # A revive config is read like libinih reads it: a section may appear twice, a later key wins.
    p = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"),
                                  strict=strict, empty_lines_in_values=False)
    p.optionxform = str  # config keys are case-sensitive
    try:
        with open(path, encoding="utf-8") as f:
            p.read_file(f)
    except OSError as e:
        raise StudyError(f"{path}: cannot read {what}: {e.strerror}") from None
    except configparser.Error as e:
        msg = " ".join(str(e).split())
        raise StudyError(f"{path}: not a valid {what}: {msg}") from None
    return p


def config_keys(pipeline):
    """Every `section.key` the pipeline knows, from `pipeline help-config`."""
    try:
        out = subprocess.run([pipeline, "help-config"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise StudyError(f"{pipeline}: cannot run `help-config` ({e}); build it with make, or "
                         "give --pipeline PATH") from None
    keys, section = set(), None
    for line in out.splitlines():
        m = re.fullmatch(r"\[(\w+)\]", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"  (\w+)\s", line)
        if section and m:
            keys.add(f"{section}.{m.group(1)}")
    if not keys:
        raise StudyError(f"{pipeline}: `help-config` listed no keys; is it a revive pipeline?")
    return keys


def check_key(path, where, key, known):
    if key in known:
        return
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise StudyError(f"{path}: [{where}]: unknown key '{key}'{hint}; overrides are config keys "
                     "section.key (pipeline help-config, docs/config.md)")


def parse_seeds(path, text):
    seeds = []
    for part in text.split(","):
        part = part.strip()
        if not re.fullmatch(r"\d+", part) or int(part) > 2147483647:
            raise StudyError(f"{path}: [study] seeds = '{text}': '{part}' is not a seed (0 … 2147483647); "
                             "write e.g. seeds = 1, 2, 3")
        if int(part) in seeds:
            raise StudyError(f"{path}: [study] seeds = '{text}' names seed {part} twice")
        seeds.append(int(part))
    return seeds


def load_study(path, known, out_override=None):
    p = read_ini(path, "study file")
    if "study" not in p:
        raise StudyError(f"{path}: no [study] section; it needs config = BASE.ini and seeds = 1, 2, 3")
    study = {"path": path, "variants": [], "all": []}
    for key in p["study"]:
        if key not in STUDY_KEYS:
            close = difflib.get_close_matches(key, STUDY_KEYS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise StudyError(f"{path}: [study]: unknown key '{key}'{hint}; keys there: {', '.join(STUDY_KEYS)}")
    for need in ("config", "seeds"):
        if not p["study"].get(need, "").strip():
            raise StudyError(f"{path}: [study] needs {need} = … (see the top of scripts/study.py)")
    study["config"] = p["study"]["config"].strip()
    study["seeds"] = parse_seeds(path, p["study"]["seeds"])
    stem = os.path.splitext(os.path.basename(path))[0]
    study["out"] = out_override or p["study"].get("out_dir", "").strip() or os.path.join("checkpoints", stem)
    study["results"] = p["study"].get("results_dir", "").strip() or study["out"]
    study["description"] = p["study"].get("description", "").strip()
    for section in p.sections():
        if section == "study":
            continue
        if section == "all":
            for key, value in p[section].items():
                check_key(path, section, key, known)
                study["all"].append((key, value.strip()))
            continue
        m = re.fullmatch(r"variant\s+(.+)", section)
        if not m:
            raise StudyError(f"{path}: unknown section [{section}]; sections: [study], [all], [variant NAME]")
        name = m.group(1).strip()
        if not VARIANT_NAME.fullmatch(name):
            raise StudyError(f"{path}: [{section}]: a variant name is letters, digits, '_', '-', '.' "
                             "(it names a directory)")
        if any(v["name"] == name for v in study["variants"]):
            raise StudyError(f"{path}: [{section}] appears twice")
        v = {"name": name, "config": study["config"], "sets": []}
        for key, value in p[section].items():
            if key == "config":
                v["config"] = value.strip()
                continue
            check_key(path, section, key, known)
            v["sets"].append((key, value.strip()))
        study["variants"].append(v)
    if not study["variants"]:
        raise StudyError(f"{path}: no [variant NAME] section; add at least one (it may be empty)")
    for v in study["variants"]:
        if not os.path.isfile(v["config"]):
            raise StudyError(f"{path}: variant {v['name']}: config '{v['config']}' is not a file "
                             "(paths are relative to the directory you run from)")
    return study


def resolved_config(base, sets, path):
    """The base config's keys with the overrides applied: {section.key: value text}."""
    p = read_ini(base, "config", strict=False)
    out = {}
    for section in p.sections():
        for key, value in p[section].items():
            out[f"{section}.{key}"] = value.strip()
    for key, value in sets:
        out[key] = value
    return {k: out[k] for k in sorted(out) if k not in NOT_FINGERPRINTED}


def grid(study):
    runs = []
    for v in study["variants"]:
        for seed in study["seeds"]:
            sets = study["all"] + v["sets"] + [("run.seed", str(seed))]
            name = f"{v['name']}/seed-{seed}"
            resolved = resolved_config(v["config"], sets, study["path"])
            runs.append({
                "variant": v["name"], "seed": seed, "name": name, "config": v["config"],
                "sets": sets, "dir": os.path.join(study["out"], v["name"], f"seed-{seed}"),
                "record": os.path.join(study["results"], v["name"], f"seed-{seed}.json"),
                "resolved": resolved,
                "fingerprint": hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest(),
            })
    return runs


# ---- the study directory ----------------------------------------------------------------------

def load_manifest(study):
    out = study["out"]
    path = os.path.join(out, "study.json")
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                manifest = json.load(f)
            if not isinstance(manifest.get("runs"), dict):
                raise ValueError("no runs")
        except (OSError, ValueError) as e:
            raise StudyError(f"{path}: not a study manifest ({e}); choose another out_dir") from None
        return manifest
    if os.path.isdir(out) and os.listdir(out):
        raise StudyError(f"{out}: the directory holds files but no study.json, so not a study made by "
                         "study.py; choose another [study] out_dir (or --out)")
    return {"version": 1, "runs": {}}


def has_files(d):
    return os.path.isdir(d) and any(n != ".lock" for n in os.listdir(d))


def config_diff(was, now):
    """The first three keys whose values differ, as "key: old -> new, ..."."""
    diff = [k for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)]
    return ", ".join(f"{k}: {was.get(k, '(unset)')} -> {now.get(k, '(unset)')}" for k in diff[:3])


def check_manifest(study, runs, manifest):
    """Refuses a run directory made with another config; records the fingerprints of the rest."""
    for r in runs:
        old = manifest["runs"].get(r["name"])
        if old and old.get("fingerprint") != r["fingerprint"] and has_files(r["dir"]):
            shown = config_diff(old.get("resolved", {}), r["resolved"])
            raise StudyError(f"{study['out']}: run {r['name']} was made with another config ({shown}); "
                             "remove that run directory or choose another [study] out_dir")
        manifest["runs"][r["name"]] = {"fingerprint": r["fingerprint"], "resolved": r["resolved"]}


def save_manifest(study, manifest):
    os.makedirs(study["out"], exist_ok=True)
    path = os.path.join(study["out"], "study.json")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def done_marker(r):
    return os.path.join(r["dir"], "done")


def final_file(r):
    """The complete final stage file of a finished run, or None."""
    try:
        with open(done_marker(r), encoding="utf-8") as f:
            done = json.load(f)
        path = os.path.join(r["dir"], done["final"])
        run = revive_h5.load(path)
    except (OSError, ValueError, KeyError, TypeError, revive_h5.FileError):
        return None
    m = re.fullmatch(r"stage-(\d+)\.h5", os.path.basename(path))
    if not m or len(run["stages"]) != int(m.group(1)) + 1 or done.get("fingerprint") != r["fingerprint"]:
        return None
    return path


def locked_elsewhere(r):
    path = os.path.join(r["dir"], ".lock")
    if not os.path.exists(path):
        return False
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def position(path):
    try:
        import h5py
        with h5py.File(path, "r") as f:
            return f"stage {int(f.attrs['stage'])}, epoch {int(f.attrs['epoch'])}, step {int(f.attrs['step'])}"
    except (OSError, KeyError):
        return "unreadable last.h5"


def state(r):
    if final_file(r):
        return "done", "" if read_record(r) else "(no result record yet: --record writes it)"
    if read_record(r):
        return "done", f"(result record {r['record']})"
    if locked_elsewhere(r):
        return "running", "(another study process)"
    last = os.path.join(r["dir"], "last.h5")
    if os.path.exists(last):
        return "partial", position(last)
    return "new", ""


# ---- result records ---------------------------------------------------------------------------
# A finished run's results in a small text file (RESULTS_DIR/VARIANT/seed-S.json), so that a study
# spread over machines keeps them in git: what the report reads from the final stage file.

RECORD_VERSION = 1
STAGE_SCALARS = ("kind", "label", "fraction", "threshold", "acc_start", "acc_start_recal", "acc_end",
                 "acc_clamped", "reinit_applied")
STAGE_FLAGS = ("disabled", "reinit", "revived")


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
            "wall_minutes": None if wall is None else finite_or_none(wall), "stages": stages,
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
    return {"path": path, "name": r["name"], "stages": stages, "hist": hist, "wall_minutes": rec.get("wall_minutes")}


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


# ---- running ------------------------------------------------------------------------------------

def cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def command(r, opts):
    last = os.path.join(r["dir"], "last.h5")
    if os.path.exists(last):
        cmd = [opts["pipeline"], "resume", last]
    else:
        cmd = [opts["pipeline"], "run", r["config"]]
        for key, value in r["sets"] + [("run.out_dir", os.path.dirname(r["dir"])),
                                       ("run.name", os.path.basename(r["dir"])), ("run.threads", "0")]:
            cmd += ["--set", f"{key}={value}"]
    if opts["stop"]:
        cmd += ["--stop-after-steps", str(opts["stop"])]
    if opts["ranks"] > 1:
        mpi = ["mpirun", "-np", str(opts["ranks"]), "--bind-to", "none", "-x", "OMP_NUM_THREADS"]
        if os.geteuid() == 0:
            mpi.append("--allow-run-as-root")
        cmd = mpi + cmd
    return cmd


def wall_file(r):
    return os.path.join(r["dir"], "wall.txt")


def wall_minutes(r, final):
    """Wall-clock minutes the run's processes took: the sum of wall.txt (seconds per process, written
    as each ends) when it has a line for every command in the run's log; otherwise (processes
    started by an older study.py) the span from the first start time in the log to the final
    file's modification time, pauses included; None when neither is known."""
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


def newest_stage(r):
    path = revive_h5.newest_stage_file(r["dir"])
    return os.path.basename(path) if path else None


def run_grid(study, runs, opts):
    """Runs every run not done, `jobs` at a time. Returns the number that failed."""
    todo = []
    for r in runs:
        s, _ = state(r)
        if s == "done":
            # finished but killed before its record was written (or by an older study.py)
            wrote = write_missing_records([r], quiet=True)
            print(f"{r['name']}: done, skipped{' (result record written)' if wrote else ''}", flush=True)
        elif s == "running":
            print(f"{r['name']}: running in another study process, skipped", flush=True)
        else:
            todo.append(r)
    threads = max(1, cores() // (opts["jobs"] * opts["ranks"]))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    active, failed = [], 0
    # A signal between starting a run and recording it in `active` would leave that run going
    # on unwatched (it is in its own session) and still holding its lock: defer it to just after.
    starting, deferred = [False], []

    def stop(signum, frame):
        if starting[0]:
            deferred.append(signum)
            return
        for r, p, *_ in active:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for r, p, *_ in active:
            p.wait()
        sys.stderr.write(f"{PROG}: stopped by signal {signum}; run it again to continue\n")
        sys.exit(128 + signum)

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while todo or active:
            while todo and len(active) < opts["jobs"]:
                r = todo.pop(0)
                starting[0] = True
                os.makedirs(r["dir"], exist_ok=True)
                lock = open(os.path.join(r["dir"], ".lock"), "a")
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    lock.close()
                    print(f"{r['name']}: running in another study process, skipped", flush=True)
                    starting[0] = False
                    if deferred:
                        stop(deferred[0], None)
                    continue
                cmd = command(r, opts)
                verb = "resuming" if cmd.count("resume") else "starting"
                print(f"{r['name']}: {verb} ({threads} thread{'s' if threads > 1 else ''}"
                      f"{', %d ranks' % opts['ranks'] if opts['ranks'] > 1 else ''}); log {r['dir']}/log.txt",
                      flush=True)
                log = open(os.path.join(r["dir"], "log.txt"), "a")
                log.write(f"\n$ {' '.join(cmd)}\n")
                log.flush()
                # The lock travels with the child: if this process is killed, the run still holds it.
                p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True, pass_fds=(lock.fileno(),))
                if os.environ.get("REVIVE_STUDY_TEST_SIGNAL_AT_START"):  # tests: the race window
                    os.kill(os.getpid(), signal.SIGTERM)
                active.append((r, p, log, lock, time.time()))
                starting[0] = False
                if deferred:
                    stop(deferred[0], None)
            time.sleep(0.2)
            for item in list(active):
                r, p, log, lock, started = item
                if p.poll() is None:
                    continue
                active.remove(item)
                log.close()
                with open(wall_file(r), "a", encoding="utf-8") as f:  # one line per process
                    f.write(f"{time.time() - started:.1f} {p.returncode}\n")
                with open(os.path.join(r["dir"], "log.txt"), encoding="utf-8", errors="replace") as f:
                    text = f.read()
                tail = text[text.rfind("\n$ "):]
                if p.returncode != 0:
                    failed += 1
                    lines = [l for l in tail.splitlines() if l.strip()]
                    print(f"{r['name']}: FAILED (exit {p.returncode}): {lines[-1] if lines else ''}", flush=True)
                elif "stopped after" in tail:
                    print(f"{r['name']}: stopped as asked (--stop-after-steps); run again to continue", flush=True)
                else:
                    final = newest_stage(r)
                    with open(done_marker(r) + ".tmp", "w", encoding="utf-8") as f:
                        json.dump({"final": final, "fingerprint": r["fingerprint"]}, f)
                        f.write("\n")
                    os.replace(done_marker(r) + ".tmp", done_marker(r))
                    path = final_file(r)
                    ok = path is not None
                    if ok:
                        write_record(r, path)
                    print(f"{r['name']}: {'done' if ok else 'FAILED: no complete stage file'} ({final})", flush=True)
                    failed += not ok
                lock.close()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return failed


# ---- the report -----------------------------------------------------------------------------------

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
        row = {"variant": variant, "stage": k, "kind": first["kind"], "fraction": first["fraction"],
               "label": first["label"],
               "control": all(s["reinit_applied"] == 0 for s in have) and k > 0}
        for key, vals in (("acc", acc), ("start", start), ("recal", recal), ("disabled", dis), ("revived", rev)):
            row[key + "_mean"], row[key + "_std"], row[key + "_n"] = mean_std(vals)
        rows.append(row)
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
    md += ["", "Minutes: wall clock per run, and the part spent in epochs (training and each epoch's test "
           "evaluation; the rest is transitions: re-initialization, recalibration, their evaluations, "
           "clamping, checkpoints).", "", "## Clamped accuracy and filters below τ at the end", "",
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
           "share of the filters flagged at the transition that are alive at the stage end (in a control "
           "variant, marked *, the flagged filters were not re-initialized: recovered on their own).", ""]
    for v in variants:
        md += [f"### {v}", "", "| stage | kind | acc | after re-init | after recal | disabled % | revived % |",
               "|---|---|---|---|---|---|---|"]
        for row in all_rows[v]:
            rev = fmt(row["revived_mean"], row["revived_std"], row["revived_n"], 1)
            md.append(f"| {row['stage']} | {row['label']} | {fmt(row['acc_mean'], row['acc_std'], row['acc_n'])} | "
                      f"{fmt(row['start_mean'], row['start_std'], row['start_n'])} | "
                      f"{fmt(row['recal_mean'], row['recal_std'], row['recal_n'])} | "
                      f"{fmt(row['disabled_mean'], row['disabled_std'], row['disabled_n'], 1)} | "
                      f"{rev}{' *' if row['control'] and rev != '-' else ''} |")
        md.append("")
    md += ["Figure: report.png (left: final accuracy, 95 % t-interval; right: accuracy at each stage end, "
           "shaded ± 1 std over seeds).", ""]
    if plot_gamma(os.path.join(out, "report-gamma.png"), variants, loaded):
        md += ["Figure: report-gamma.png (share of filters with |γ| < τ after each epoch of the run, "
               "mean over seeds; thin lines: seeds).", ""]
    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(md))

    cols = ["variant", "stage", "kind", "fraction", "control"]
    stats = ["acc", "start", "recal", "disabled", "revived"]
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
    plot(os.path.join(out, "report.png"), variants, finals, all_rows)
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


def plot(path, variants, finals, all_rows):
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
        table = np.full((len(ys), max(len(y) for y in ys)), np.nan)
        for j, y in enumerate(ys):
            table[j, :len(y)] = y
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


# ---- command line -------------------------------------------------------------------------------

def parse_args(argv):
    opts = {"jobs": 1, "ranks": 1, "dry": False, "report": False, "record": False, "only": None, "out": None, "stop": 0,
            "pipeline": os.environ.get("PIPELINE") or os.path.join(os.path.dirname(HERE), "pipeline"),
            "file": None}
    it = iter(argv)
    for a in it:
        if a in ("--jobs", "--ranks", "--stop-after-steps"):
            v = next(it, "")
            if not re.fullmatch(r"[1-9]\d*", v):
                raise StudyError(f"{a} '{v}': give a whole number ≥ 1")
            opts[{"--jobs": "jobs", "--ranks": "ranks", "--stop-after-steps": "stop"}[a]] = int(v)
        elif a == "--dry-run":
            opts["dry"] = True
        elif a == "--report":
            opts["report"] = True
        elif a == "--record":
            opts["record"] = True
        elif a in ("--only", "--out", "--pipeline"):
            v = next(it, "")
            if not v:
                raise StudyError(f"{a} needs a value")
            opts[a[2:]] = v
        elif a in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        elif a.startswith("-"):
            raise StudyError(f"unknown option {a}; see scripts/study.py --help")
        elif opts["file"]:
            raise StudyError(f"unexpected argument '{a}': give one study file")
        else:
            opts["file"] = a
    if not opts["file"]:
        raise StudyError("give a study file: scripts/study.py configs/study-reinit.ini [--dry-run]")
    n = cores()
    if opts["jobs"] * opts["ranks"] > n:
        raise StudyError(f"--jobs {opts['jobs']} × --ranks {opts['ranks']} exceeds the {n} cores here; "
                         "lower one of them")
    return opts


def main(argv):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        opts = parse_args(argv[1:])
        known = config_keys(opts["pipeline"])
        study = load_study(opts["file"], known, opts["out"])
        runs = grid(study)
        if opts["only"]:
            names = [v["name"] for v in study["variants"]]
            want = opts["only"].split(",")
            for w in want:
                if w not in names:
                    raise StudyError(f"--only: no variant '{w}' in {opts['file']}; variants: {', '.join(names)}")
            runs = [r for r in runs if r["variant"] in want]
        manifest = load_manifest(study)
        check_manifest(study, runs, manifest)
        for r in grid(study):  # the report reads every run: refuse a foreign record before any work
            read_record(r)
        if opts["dry"]:
            for r in runs:
                s, detail = state(r)
                print(f"{r['name']:<28} {s:<8} {detail}")
                if s in ("new", "partial"):
                    print("    " + " ".join(command(r, opts)))
            return 0
        if opts["record"]:
            n = write_missing_records(runs)
            print(f"{n} result record(s) written under {study['results']}")
            return 0
        save_manifest(study, manifest)
        failed = 0 if opts["report"] else run_grid(study, runs, opts)
        report, missing = write_report(study, grid(study))
        print(f"report: {report} (+ report-stages.csv, report-final.csv, report.png, report-gamma.png)"
              + (f"; {missing} run(s) not finished" if missing else ""))
        return 1 if failed else 0
    except StudyError as e:
        sys.stderr.write(f"{PROG}: {e}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
