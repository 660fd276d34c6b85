"""Mutation testing of the shim's C (``make mutation``): line-level mutants
from universalmutator, each judged by the C unit test (native, ASan/UBSan)
and then by the host tests that exercise the shim, run against an
AddressSanitizer build of the extension with the mutant linked in.

A mutant that does not compile is invalid; one whose object code is the
original's (or another mutant's) is equivalent by construction and not
counted.  ``--sample N`` judges N valid, distinct mutants per file (a seeded
random pick: the 2 shared cores cannot judge thousands); 0 judges all.
Survivors are listed with their line, for a human to kill or argue
equivalent.  Exit status 0 whatever the score: the report is the output.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
OUT = TOP / "build" / "mutation"
CFLAGS = ["-std=gnu11", "-D_GNU_SOURCE", "-Wall", "-Wno-unused-parameter", "-g", "-O1",
          "-fno-omit-frame-pointer", "-fPIC"]
SAN = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
ASAN = ["-fsanitize=address"]
# the host tests that drive the shim's framing and parsing (fast files only)
TESTS = ["tests/test_parse_fuzz.py", "tests/test_framing.py", "tests/test_shim_kernel.py"]
DEFAULT_FILES = ["csrc/nlf_parse.c", "csrc/nlf_tx.c"]


def sh(cmd: list[str], timeout: float = 300, cwd: Path | None = None,
       env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=False, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", "timeout")


def incs(tree: Path) -> list[str]:
    return [f"-I{tree / 'csrc'}", f"-I{tree / 'kernel' / 'uapi'}"]


def libasan() -> str:
    out = sh(["gcc", "-print-file-name=libasan.so"]).stdout.strip()
    return os.path.realpath(out)


class Judge:
    """A private copy of the tree, the unchanged objects built once."""

    def __init__(self, tests: list[str]) -> None:
        self.tree = OUT / "tree"
        if self.tree.exists():
            shutil.rmtree(self.tree)
        for d in ("csrc", "nlfast", "tests", "kernel/uapi"):
            shutil.copytree(TOP / d, self.tree / d, ignore=shutil.ignore_patterns(
                "*.so", "__pycache__", "mutation"))
        for f in ("pyproject.toml",):
            shutil.copy(TOP / f, self.tree / f)
        self.obj = OUT / "obj"
        self.obj.mkdir(parents=True, exist_ok=True)
        self.tests = tests
        self.asan = libasan()
        self._wrapper()

    def cc(self, src: Path, out: Path, flags: list[str]) -> bool:
        r = sh(["gcc", *CFLAGS, *flags, *incs(self.tree), "-c", str(src), "-o", str(out)])
        return r.returncode == 0

    def _wrapper(self) -> None:
        """cffi's generated module source, compiled once (ASan)."""
        sys.path.insert(0, str(self.tree / "csrc"))
        import build_ffi  # type: ignore[import-not-found]  # the tree's copy

        os.environ["NLFAST_ASAN"] = "1"
        ffi = build_ffi.make_ffi(absolute=True)
        c = self.obj / "_nlfast_cffi.c"
        ffi.emit_c_code(str(c))
        py = sysconfig.get_paths()["include"]
        r = sh(["gcc", *CFLAGS, *ASAN, "-I" + py, *incs(self.tree), "-c", str(c), "-o",
                str(self.obj / "_nlfast_cffi.o")])
        if r.returncode:
            raise SystemExit("cannot build the cffi wrapper:\n" + r.stderr[-3000:])
        for src in [*build_ffi.SOURCES, *build_ffi.ASAN_SOURCES]:
            name = Path(src).stem
            for kind, flags in (("ext", ASAN), ("unit", SAN)):
                if not self.cc(self.tree / "csrc" / src, self.obj / f"{name}.{kind}.o", flags):
                    raise SystemExit(f"cannot build {src}")
        if not self.cc(self.tree / "tests" / "c" / "test_shim.c",
                       self.obj / "test_shim.unit.o", SAN):
            raise SystemExit("cannot build tests/c/test_shim.c")
        self.sources = [Path(s).stem for s in [*build_ffi.SOURCES, *build_ffi.ASAN_SOURCES]]

    def objects(self, kind: str, mutated: str, mobj: Path) -> list[str]:
        out = []
        for name in self.sources:
            if kind == "unit" and name not in ("nlf_parse", "nlf_tx"):
                continue
            out.append(str(mobj) if name == mutated else str(self.obj / f"{name}.{kind}.o"))
        return out

    def unit(self, name: str, mobj: Path) -> bool:
        """True when the C unit test kills the mutant."""
        exe = OUT / "work" / "test_shim"
        r = sh(["gcc", *SAN, "-Wl,--wrap=malloc,--wrap=calloc", "-o", str(exe),
                str(self.obj / "test_shim.unit.o"),
                *self.objects("unit", name, mobj)])
        if r.returncode:
            return True  # does not link: killed at build time
        return sh([str(exe)], timeout=20).returncode != 0

    def host(self, name: str, mobj: Path) -> tuple[bool, str]:
        """True (and the first failure) when the host tests kill it."""
        so = self.tree / "nlfast" / "_nlfast_cffi.abi3.so"
        r = sh(["gcc", "-shared", *ASAN, "-o", str(so), str(self.obj / "_nlfast_cffi.o"),
                *self.objects("ext", name, mobj)])
        if r.returncode:
            return True, "link"
        env = dict(os.environ, PYTHONPATH=str(self.tree), LD_PRELOAD=self.asan,
                   PYTHONMALLOC="malloc", NLFAST_MUTATION="1",
                   ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=66",
                   UBSAN_OPTIONS="halt_on_error=1")
        env.pop("NLFAST_EXPECT_ASAN", None)
        r = sh([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                "-p", "no:randomly", *self.tests], timeout=600, cwd=self.tree, env=env)
        failed = re.findall(r"^(FAILED|ERROR) (\S+)", r.stdout, re.M)
        why = failed[0][1] if failed else ("timeout" if r.returncode == 124 else
                                          f"rc {r.returncode}")
        return r.returncode != 0, why


def mutants(src: Path) -> list[Path]:
    d = OUT / "mutants" / src.stem
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    mutate = Path(sys.executable).with_name("mutate")
    r = sh([str(mutate), str(src), "c", "--mutantDir", str(d)], timeout=1200)
    if r.returncode:
        raise SystemExit(f"universalmutator failed on {src}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return sorted(d.glob("*.mutant.*.c"), key=lambda p: int(p.name.split(".")[-2]))


def changed_line(orig: list[str], mut: list[str]) -> tuple[int, str, str]:
    for i, (a, b) in enumerate(zip(orig, mut)):
        if a != b:
            return i + 1, a.strip(), b.strip()
    n = min(len(orig), len(mut))
    return n + 1, (orig[n].strip() if n < len(orig) else ""), (mut[n].strip() if n < len(mut) else "")


def judge_one(judge: Judge, name: str, src: Path, entry: dict[str, object]) -> None:
    """Sets entry["killed_by"] when a judge kills the mutant in src."""
    work = src.parent
    mobj_u = work / f"{name}.unit.o"
    mobj_e = work / f"{name}.ext.o"
    if not judge.cc(src, mobj_u, SAN) or judge.unit(name, mobj_u):
        entry["killed_by"] = "tests/c/test_shim.c"
    elif not judge.cc(src, mobj_e, ASAN):
        entry["killed_by"] = "build"
    else:
        killed, why = judge.host(name, mobj_e)
        if killed:
            entry["killed_by"] = why


def rejudge(judge: Judge, report: Path) -> None:
    """Judges a report's survivors again (after new tests), in place."""
    log = json.loads(report.read_text())
    work = OUT / "work"
    work.mkdir(parents=True, exist_ok=True)
    for e in log:
        if "mutant" not in e or "killed_by" in e:
            continue
        rel = str(e["file"])
        name = Path(rel).stem
        base = work / f"{name}.c"
        base.write_text((OUT / "mutants" / name / str(e["mutant"])).read_text())
        judge_one(judge, name, base, e)
        verdict = f"killed by {e['killed_by']}" if "killed_by" in e else "SURVIVED"
        print(f"{rel}:{e['line']}: {e['was']!r} -> {e['now']!r}: {verdict}", flush=True)
        base.write_text((TOP / rel).read_text())
    for rel in sorted({str(e["file"]) for e in log if "mutant" in e}):
        k = sum(1 for e in log if e.get("file") == rel and "mutant" in e and "killed_by" in e)
        n = sum(1 for e in log if e.get("file") == rel and "mutant" in e)
        print(f"{rel}: {k} of {n} killed after re-judging ({k / max(1, n):.1%})")
    report.write_text(json.dumps(log, indent=1))


def run_file(judge: Judge, rel: str, sample: int, seed: int, log: list[dict[str, object]]) -> None:
    src = TOP / rel
    name = src.stem
    work = OUT / "work"
    work.mkdir(parents=True, exist_ok=True)
    orig_text = src.read_text()
    orig_lines = orig_text.splitlines()
    # the original's object code, for the equivalence check
    base = work / f"{name}.c"
    base.write_text(orig_text)
    ref = work / "ref.o"
    if not judge.cc(base, ref, ["-O2", "-g0"]):
        raise SystemExit(f"{rel} does not compile")
    seen = {hashlib.sha256(ref.read_bytes()).hexdigest()}
    muts = mutants(src)
    random.Random(seed).shuffle(muts)
    stats = {"generated": len(muts), "invalid": 0, "equivalent": 0, "killed": 0, "survived": 0}
    judged = 0
    t0 = time.monotonic()
    for m in muts:
        if sample and judged >= sample:
            break
        text = m.read_text()
        base.write_text(text)  # same name as the original: same object file
        probe = work / "probe.o"
        if not judge.cc(base, probe, ["-O2", "-g0"]):
            stats["invalid"] += 1
            continue
        h = hashlib.sha256(probe.read_bytes()).hexdigest()
        if h in seen:
            stats["equivalent"] += 1
            continue
        seen.add(h)
        judged += 1
        line, was, now = changed_line(orig_lines, text.splitlines())
        entry: dict[str, object] = {"file": rel, "mutant": m.name, "line": line,
                                    "was": was, "now": now}
        judge_one(judge, name, base, entry)
        if "killed_by" in entry:
            stats["killed"] += 1
        else:
            stats["survived"] += 1
            print(f"SURVIVED {rel}:{line}: {was!r} -> {now!r}", flush=True)
        log.append(entry)
        if judged % 10 == 0:
            print(f"{rel}: {judged} judged, {stats} ({time.monotonic() - t0:.0f} s)", flush=True)
    base.write_text(orig_text)
    score = stats["killed"] / max(1, stats["killed"] + stats["survived"])
    print(f"{rel}: {stats}, score {score:.1%}", flush=True)
    log.append({"file": rel, "stats": stats, "score": score})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", default=DEFAULT_FILES)
    ap.add_argument("--sample", type=int, default=int(os.environ.get("MUTANTS", "120")))
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--rejudge", type=Path, help="judge this report's survivors again")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    judge = Judge(TESTS)
    # the unchanged code must pass both judges, or every verdict is void
    for name in ("nlf_parse", "nlf_tx"):
        if judge.unit(name, judge.obj / f"{name}.unit.o"):
            raise SystemExit("the C unit test fails on the unchanged code")
    t0 = time.monotonic()
    killed, why = judge.host("nlf_parse", judge.obj / "nlf_parse.ext.o")
    if killed:
        raise SystemExit(f"the host tests fail on the unchanged code: {why}")
    print(f"baseline passes (host tests {time.monotonic() - t0:.0f} s)", flush=True)
    if a.rejudge:
        rejudge(judge, a.rejudge)
        return
    log: list[dict[str, object]] = []
    try:
        for rel in a.files:
            run_file(judge, rel, a.sample, a.seed, log)
    finally:
        (OUT / "report.json").write_text(json.dumps(log, indent=1))
    print(f"report: {OUT / 'report.json'}")


if __name__ == "__main__":
    main()
