#!/usr/bin/python3
"""Same config, same bits, across revive's own changes (issue 19, "Must not change").

Runs every config of tests/data/bits/ with a pipeline binary and hashes what a run computed: every
dataset and attribute under /params, /running and /stats of its final stage file (SHA-256 of the
raw bytes, attributes by value). `record` writes the hashes of a reference binary; `check`
compares another binary's with them, one line per run, and names each dataset that differs.

    tests/tools/bits.py record --pipeline /path/to/old/pipeline --out tests/data/bits/reference.json
    tests/tools/bits.py check --pipeline ./pipeline --reference tests/data/bits/reference.json

Bits are a property of one CPU type (README, "Reproducibility": OpenBLAS's kernel and oneDNN's
instruction set are chosen per CPU), so the reference names the CPU it was made on and `check`
skips, saying so, on another (exit 0, one line starting with "skip"). One rank, two threads
(threads do not change results; docs/ARCHITECTURE.md).
"""
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG_DIR = os.path.join(HERE, "..", "data", "bits")
GROUPS = ("params", "running", "stats")


def cpu_signature():
    """What decides the kernels: vendor, family, model, model name, and AVX-512 (oneDNN's rule)."""
    info = {}
    with open("/proc/cpuinfo") as f:
        for line in f:
            if not line.strip():
                break
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip()
    avx512 = "avx512f" in info.get("flags", "").split()
    return "{} | family {} model {} | {} | avx512f {}".format(
        info.get("vendor_id", "?"), info.get("cpu family", "?"), info.get("model", "?"),
        info.get("model name", "?"), "yes" if avx512 else "no")


def hashes(path):
    """{name: sha256} of every dataset and attribute under GROUPS of the file."""
    out = {}
    with h5py.File(path, "r") as f:
        for g in GROUPS:
            if g not in f:
                continue

            def visit(name, obj, g=g):
                key = g + "/" + name
                if isinstance(obj, h5py.Dataset):
                    a = np.ascontiguousarray(obj[()])
                    out[key] = hashlib.sha256(str(a.dtype).encode() + a.tobytes()).hexdigest()
                for an, av in obj.attrs.items():
                    out[key + "@" + an] = hashlib.sha256(repr(np.asarray(av).tolist()).encode()).hexdigest()

            for an, av in f[g].attrs.items():
                out[g + "@" + an] = hashlib.sha256(repr(np.asarray(av).tolist()).encode()).hexdigest()
            f[g].visititems(visit)
    return out


def run_all(pipeline):
    """({config name: hashes of its final stage file}, the binary's commit); raises on a failed run."""
    results, commit = {}, "unknown"
    env = dict(os.environ, OMP_NUM_THREADS="2")
    with tempfile.TemporaryDirectory() as tmp:
        for ini in sorted(glob.glob(os.path.join(CONFIG_DIR, "*.ini"))):
            name = os.path.splitext(os.path.basename(ini))[0]
            cmd = [pipeline, "run", ini, "--set", "run.out_dir=" + tmp, "--set", "run.name=" + name,
                   "--set", "run.threads=0"]
            p = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit("bits: {} failed (exit {}): {}".format(
                    " ".join(cmd), p.returncode, (p.stderr.strip().splitlines() or ["?"])[-1]))
            m = re.search(r"\(commit (\S+?)\)", p.stdout)  # the provenance line
            commit = m.group(1) if m else commit
            stages = sorted(glob.glob(os.path.join(tmp, name, "stage-*.h5")))
            results[name] = hashes(stages[-1])
    return results, commit


def main(argv):
    if len(argv) < 2 or argv[1] not in ("record", "check"):
        raise SystemExit(__doc__)
    opts = dict(zip(argv[2::2], argv[3::2]))
    pipeline = opts.get("--pipeline", "./pipeline")
    if argv[1] == "record":
        runs, commit = run_all(pipeline)
        ref = {"cpu": cpu_signature(), "commit": commit, "runs": runs}
        with open(opts["--out"], "w") as f:
            json.dump(ref, f, indent=1, sort_keys=True)
            f.write("\n")
        print("bits: recorded {} runs of commit {} on {}".format(len(ref["runs"]), ref["commit"], ref["cpu"]))
        return 0
    with open(opts["--reference"]) as f:
        ref = json.load(f)
    here = cpu_signature()
    if here != ref["cpu"]:
        print("skip - bits: the reference was made on '{}', this CPU is '{}' (bits hold per CPU type; "
              "re-record with tests/tools/bits.py record on this one to compare here)".format(ref["cpu"], here))
        return 0
    got, _ = run_all(pipeline)
    bad = 0
    for name, want in sorted(ref["runs"].items()):
        have = got.get(name, {})
        diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        if diff:
            bad += 1
            print("not ok - {}: {} of {} datasets/attributes differ from commit {}: {}".format(
                name, len(diff), len(want), ref["commit"], ", ".join(diff[:6]) + (" …" if len(diff) > 6 else "")))
        else:
            print("ok - {}: /params, /running and /stats bit-identical to commit {} ({} datasets and attributes)".format(
                name, ref["commit"], len(want)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
