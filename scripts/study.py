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
             --only NAME[,NAME...] (these variants)  --seeds S[,S...] (these of [study] seeds)
             --out DIR (instead of [study] out_dir)
             --stop-after-steps N (each run stops after N steps this time; for time-limited jobs)
             --threads T (per rank; default cores // (jobs × ranks): fewer leaves cores to other work)
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

Branches: with `branch_from = OTHER_STUDY.ini VARIANT` in [study], every run starts from the
finished run VARIANT/seed-S of that study (same seed S), as `pipeline resume FINAL_STAGE_FILE --set
… --out RUN` (its [all] and variant overrides on top of that run's config; `config` is then not
used). The run's resolved config is the branch point's with the overrides applied, and its
fingerprint names the branch point's, so a branch of another branch point is another run. The
branch point's directory is that study's out_dir (`branch_out = DIR` in [study] when it ran with
--out). A run whose branch point is not finished fails, naming it; the others go on.
`branch_from = OTHER_STUDY.ini *` branches each variant from the variant of the same name in
OTHER_STUDY (a variant it lacks is an error), and `branch_stage = K` starts every run from the branch
point's stage-KK.h5 instead of its final stage file (so the stages after K run again with this
study's overrides, e.g. a last stage at another learning rate); both are part of the fingerprint.

Every run is OUT/VARIANT/seed-S (run.out_dir and run.name are set so). A run is *done* when its
`done` marker names a complete final stage file, or, without the marker (the study was stopped just
as the run ended), when its newest stage file ends the run's schedule (`pipeline plan FILE
--format json` says which stages its config makes; the study then writes the marker and runs
nothing); a run with last.h5 is *partial* and continues with
`pipeline resume last.h5`; otherwise it is *new*. So the study can be killed and restarted at any
time: finished runs are never repeated (a run in progress holds RUN/.lock, so a second study
process leaves it alone, and each run is checked again once its lock is taken, so one that another
process finished meanwhile is skipped). OUT/study.json stores each run's resolved config (base config keys with
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

Threads: ranks × threads × jobs ≤ cores; a run gets OMP_NUM_THREADS = --threads, by default
cores // (jobs × ranks) (at least 1), and run.threads = 0. With --ranks R > 1 runs go through
`mpirun -q -np R --bind-to none` (plus --allow-run-as-root as root; -q: a failed run's log ends in its
one-line error, not Open MPI's notice). Thread and rank counts change
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
import configparser
import difflib
import fcntl
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time

PROG = "study.py"

try:
    from study_records import (StudyError, config_diff, final_file, mark_done, marked_final, option_value,
                               pipeline_binary, read_record, unmarked_final, wall_file,
                               write_missing_records, write_record)
    from study_report import write_report
    import revive_h5
except ImportError as e:
    sys.stderr.write(f"{PROG}: {e.name} missing: install python3-{e.name} (scripts/install-deps.sh); "
                     "run with /usr/bin/python3\n")
    sys.exit(2)

VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
STUDY_KEYS = ("config", "seeds", "out_dir", "results_dir", "description", "branch_from", "branch_out",
              "branch_stage")
# left out of the fingerprint: where a run lives and how many threads it uses change no result
NOT_FINGERPRINTED = ("run.out_dir", "run.name", "run.threads")


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


def help_config(pipeline):
    """`pipeline help-config --format json`: the binary's config keys (its config table is the one
    place the defaults live) and its exit statuses."""
    try:
        out = subprocess.run([pipeline, "help-config", "--format", "json"], capture_output=True, text=True,
                             check=True).stdout
        info = json.loads(out)
        info["keys"], info["exit_status"]["stopped"]
    except (OSError, subprocess.CalledProcessError, ValueError, KeyError, TypeError) as e:
        raise StudyError(f"{pipeline}: cannot read `help-config --format json` ({e}); build it with "
                         "make, or give --pipeline PATH") from None
    return info


def config_keys(pipeline, info=None):
    """Every `section.key` the pipeline knows, with its default's text."""
    keys = {f"{k['section']}.{k['name']}": k["default"] for k in (info or help_config(pipeline))["keys"]}
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


def parse_seeds(where, text):
    """A list of seeds; `where` names it in an error: "FILE: [study] seeds" or "--seeds"."""
    seeds = []
    for part in text.split(","):
        part = part.strip()
        if not re.fullmatch(r"\d+", part) or int(part) > 2147483647:
            raise StudyError(f"{where} = '{text}': '{part}' is not a seed (0 … 2147483647); "
                             "write e.g. 1, 2, 3")
        if int(part) in seeds:
            raise StudyError(f"{where} = '{text}' names seed {part} twice")
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
    branch = p["study"].get("branch_from", "").strip()
    for need in ("seeds",) if branch else ("config", "seeds"):
        if not p["study"].get(need, "").strip():
            raise StudyError(f"{path}: [study] needs {need} = … (see the top of scripts/study.py)")
    study["config"] = p["study"].get("config", "").strip()
    study["seeds"] = parse_seeds(f"{path}: [study] seeds", p["study"]["seeds"])
    study["branch"] = None
    if branch:
        study["branch"] = load_branch(path, branch, p["study"].get("branch_out", "").strip(), known,
                                      study["seeds"])
        study["branch"]["stage"] = parse_branch_stage(path, p["study"].get("branch_stage", "").strip())
    elif p["study"].get("branch_stage", "").strip():
        raise StudyError(f"{path}: [study] branch_stage needs branch_from = OTHER_STUDY.ini VARIANT "
                         "(the runs whose stage it names)")
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
        if study["branch"]:
            if v["config"] != study["config"]:
                raise StudyError(f"{path}: variant {v['name']}: config = … in a study with branch_from; "
                                 "a branch's config is its branch point's (give overrides only)")
            if study["branch"]["variant"] == "*" and v["name"] not in study["branch"]["names"]:
                raise StudyError(f"{path}: [variant {v['name']}]: branch_from = {study['branch']['study']} * "
                                 f"branches each variant from its namesake, and {study['branch']['study']} has "
                                 f"no variant '{v['name']}'; its variants: {', '.join(study['branch']['names'])}")
            continue
        if not os.path.isfile(v["config"]):
            raise StudyError(f"{path}: variant {v['name']}: config '{v['config']}' is not a file "
                             "(paths are relative to the directory you run from)")
    return study


def parse_branch_stage(path, text):
    if not text:
        return None
    if not re.fullmatch(r"\d{1,2}", text):
        raise StudyError(f"{path}: [study] branch_stage = '{text}': give a stage number (0 … 99) of the "
                         "branch points, e.g. branch_stage = 2 for their stage-02.h5")
    return int(text)


def load_branch(path, text, out, known, seeds):
    """[study] branch_from = OTHER.ini VARIANT: {(variant, seed): that study's run} for every seed
    (VARIANT * : every variant of OTHER.ini, each a branch point of its namesake)."""
    parts = text.split()
    if len(parts) != 2:
        raise StudyError(f"{path}: [study] branch_from = '{text}': give the other study file and one of "
                         "its variants (or * for each variant's namesake), e.g. branch_from = "
                         "configs/study-recipe.ini wd1e-3-20ep")
    other, variant = parts
    if not os.path.isfile(other):
        raise StudyError(f"{path}: [study] branch_from: '{other}' is not a file (paths are relative to the "
                         "directory you run from)")
    src = load_study(other, known, out or None)
    names = [v["name"] for v in src["variants"]]
    if variant != "*" and variant not in names:
        raise StudyError(f"{path}: [study] branch_from: no variant '{variant}' in {other}; variants: "
                         f"{', '.join(names)}")
    runs = {(r["variant"], r["seed"]): r for r in grid(src)}
    for seed in seeds:
        if seed not in src["seeds"]:
            raise StudyError(f"{path}: [study] seeds: seed {seed} has no branch point ({other} has seeds "
                             f"{', '.join(str(x) for x in src['seeds'])}); use those seeds")
    return {"study": other, "variant": variant, "names": names, "runs": runs}


def branch_point(r):
    """The stage file the run r branches from (the branch point's final stage file, or its
    stage-KK.h5 with branch_stage = K), or None while that run is not finished."""
    if not r.get("branch"):
        return None
    final = marked_final(r["branch"])
    if final is None or r["branch_stage"] is None:
        return final
    return revive_h5.stage_file(os.path.dirname(final), r["branch_stage"])


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
            b = study.get("branch")
            branch = b["runs"][(v["name"] if b["variant"] == "*" else b["variant"], seed)] if b else None
            if branch:
                resolved = dict(branch["resolved"])
                resolved.update((k, val) for k, val in sets if k not in NOT_FINGERPRINTED)
                resolved["study.branch_from"] = f"{branch['name']} {branch['fingerprint']}"
                if b["stage"] is not None:
                    resolved["study.branch_stage"] = str(b["stage"])
                resolved = {k: resolved[k] for k in sorted(resolved)}
            else:
                resolved = resolved_config(v["config"], sets, study["path"])
            runs.append({
                "variant": v["name"], "seed": seed, "name": name, "config": v["config"], "branch": branch,
                "branch_stage": b["stage"] if branch else None,
                "sets": sets, "dir": os.path.join(study["out"], v["name"], f"seed-{seed}"),
                "record": os.path.join(study["results"], v["name"], f"seed-{seed}.json"),
                "resolved": resolved,
                "fingerprint": hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest(),
            })
    same = {}
    for r in runs:  # two variants that make the same run would be reported as different
        other = same.setdefault((r["seed"], r["fingerprint"]), r["variant"])
        if other != r["variant"]:
            inherited = (" (a branch keeps its branch point's keys: set the key that should differ, e.g. "
                         "pipeline.reinit = true, explicitly)" if r["branch"] else "")
            raise StudyError(f"{study['path']}: [variant {r['variant']}] makes the same run as [variant {other}]: "
                             f"their resolved configs are identical{inherited}; give it a key that differs")
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
    if marked_final(r):
        return "done", "" if read_record(r) else "(no result record yet: --record writes it)"
    if read_record(r):
        return "done", f"(result record {r['record']})"
    if locked_elsewhere(r):
        return "running", "(another study process)"
    if unmarked_final(r):  # checked after the lock: the process running it writes the marker
        return "done", "(ended without its done marker: a study run writes it)"
    last = os.path.join(r["dir"], "last.h5")
    if os.path.exists(last):
        return "partial", position(last)
    return "new", ""


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
    elif r.get("branch"):
        point = branch_point(r) or os.path.join(r["branch"]["dir"], "(not finished)")
        cmd = [opts["pipeline"], "resume", point]
        for key, value in r["sets"] + [("run.threads", "0")]:
            cmd += ["--set", f"{key}={value}"]
        cmd += ["--out", r["dir"]]
    else:
        cmd = [opts["pipeline"], "run", r["config"]]
        for key, value in r["sets"] + [("run.out_dir", os.path.dirname(r["dir"])),
                                       ("run.name", os.path.basename(r["dir"])), ("run.threads", "0")]:
            cmd += ["--set", f"{key}={value}"]
    if opts["stop"]:
        cmd += ["--stop-after-steps", str(opts["stop"])]
    if opts["ranks"] > 1:
        # -q: a run's one-line error is not followed by Open MPI's notice of a non-zero exit
        mpi = ["mpirun", "-q", "-np", str(opts["ranks"]), "--bind-to", "none", "-x", "OMP_NUM_THREADS"]
        if os.geteuid() == 0:
            mpi.append("--allow-run-as-root")
        cmd = mpi + cmd
    return cmd


def record_wall(r, started, returncode):
    """One line per process that worked on the run, as it ends: its wall seconds and exit status."""
    with open(wall_file(r), "a", encoding="utf-8") as f:
        f.write(f"{time.time() - started:.1f} {returncode}\n")


def skip_done(r, how):
    """Says that the finished run r is skipped, writing first what a killed study left unwritten."""
    # finished but killed before its done marker or record was written (or by an older study.py)
    marked = not marked_final(r) and unmarked_final(r) is not None
    if marked:
        mark_done(r)
    wrote = write_missing_records([r], quiet=True)
    what = " and ".join(w for w, x in (("done marker", marked), ("result record", wrote)) if x)
    print(f"{r['name']}: {how}, skipped{f' ({what} written)' if what else ''}", flush=True)


def run_grid(study, runs, opts):
    """Runs every run not done, `jobs` at a time. Returns the number that failed."""
    todo = []
    for r in runs:
        s, _ = state(r)
        if s == "done":
            skip_done(r, "done")
        elif s == "running":
            print(f"{r['name']}: running in another study process, skipped", flush=True)
        else:
            todo.append(r)
    threads = opts["threads"] or max(1, cores() // (opts["jobs"] * opts["ranks"]))
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    active, failed = [], 0
    # A signal between starting a run and recording it in `active` would leave that run going
    # on unwatched (it is in its own session) and still holding its lock: defer it to just after.
    starting, deferred = [False], []

    def stop(signum, frame):
        if starting[0]:
            deferred.append(signum)
            return
        for s in (signal.SIGINT, signal.SIGTERM):  # a second signal would record the runs' time twice
            signal.signal(s, signal.SIG_IGN)
        for r, p, *_ in active:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for r, p, log, lock, started in active:
            p.wait()
            record_wall(r, started, p.returncode)  # the run resumes later: its time so far counts
        sys.stderr.write(f"{PROG}: stopped by signal {signum}; run it again to continue\n")
        sys.exit(128 + signum)

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while todo or active:
            while todo and len(active) < opts["jobs"]:
                r = todo.pop(0)
                point = branch_point(r)
                if r.get("branch") and not os.path.exists(os.path.join(r["dir"], "last.h5")):
                    problem = ("is not finished (run that study first)" if not point else
                               None if os.path.isfile(point) else
                               f"has no {os.path.basename(point)} (branch_stage = {r['branch_stage']} is past "
                               "its last stage)")
                    if problem:
                        failed += 1
                        print(f"{r['name']}: FAILED: its branch point {r['branch']['name']} of "
                              f"{r['branch']['dir']} {problem}", flush=True)
                        continue
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
                # The grid was read at the start: another study process may have finished the
                # run since (its lock is released once the run is marked done). Resuming it would
                # train nothing and rewrite its final stage file.
                if final_file(r) or read_record(r):
                    skip_done(r, "done by another study process")
                    lock.close()
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
                record_wall(r, started, p.returncode)
                with open(os.path.join(r["dir"], "log.txt"), encoding="utf-8", errors="replace") as f:
                    text = f.read()
                tail = text[text.rfind("\n$ "):]
                if p.returncode == opts["exit_stopped"]:  # a signal or --stop-after-steps; last.h5 saved
                    print(f"{r['name']}: stopped as asked (last.h5 saved); run again to continue", flush=True)
                elif p.returncode != 0:
                    failed += 1
                    lines = [l for l in tail.splitlines() if l.strip()]
                    print(f"{r['name']}: FAILED (exit {p.returncode}): {lines[-1] if lines else ''}", flush=True)
                else:
                    final = mark_done(r)
                    path = marked_final(r)
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


# ---- command line -------------------------------------------------------------------------------

def parse_args(argv):
    opts = {"jobs": 1, "ranks": 1, "threads": 0, "dry": False, "report": False, "record": False, "only": None, "seeds": None, "out": None, "stop": 0,
            "pipeline": pipeline_binary(), "file": None}
    it = iter(argv)
    for a in it:
        if a in ("--jobs", "--ranks", "--threads", "--stop-after-steps"):
            v = next(it, "")
            if not re.fullmatch(r"[1-9]\d*", v):
                raise StudyError(f"{a} '{v}': give a whole number ≥ 1")
            opts[{"--jobs": "jobs", "--ranks": "ranks", "--threads": "threads", "--stop-after-steps": "stop"}[a]] = int(v)
        elif a == "--dry-run":
            opts["dry"] = True
        elif a == "--report":
            opts["report"] = True
        elif a == "--record":
            opts["record"] = True
        elif a in ("--only", "--seeds", "--out", "--pipeline"):
            opts[a[2:]] = option_value(a, it)
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
    if opts["jobs"] * opts["ranks"] * max(1, opts["threads"]) > n:
        raise StudyError(f"--jobs {opts['jobs']} × --ranks {opts['ranks']}"
                         + (f" × --threads {opts['threads']}" if opts["threads"] else "")
                         + f" exceeds the {n} cores here; lower one of them")
    return opts


def main(argv):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        opts = parse_args(argv[1:])
        os.environ["PIPELINE"] = opts["pipeline"]  # study_records asks the same binary for plans
        info = help_config(opts["pipeline"])
        known = config_keys(opts["pipeline"], info)
        opts["exit_stopped"] = info["exit_status"]["stopped"]
        study = load_study(opts["file"], known, opts["out"])
        runs = grid(study)
        if opts["only"]:
            names = [v["name"] for v in study["variants"]]
            want = opts["only"].split(",")
            for w in want:
                if w not in names:
                    raise StudyError(f"--only: no variant '{w}' in {opts['file']}; variants: {', '.join(names)}")
            runs = [r for r in runs if r["variant"] in want]
        if opts["seeds"]:
            want = parse_seeds("--seeds", opts["seeds"])
            for w in want:
                if w not in study["seeds"]:
                    raise StudyError(f"--seeds: seed {w} is not in {opts['file']}'s [study] seeds "
                                     f"({', '.join(str(x) for x in study['seeds'])})")
            runs = [r for r in runs if r["seed"] in want]
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
