"""The results: medians, ratios and targets; a table, JSON and a plot.  ``python -m benchmarks.report RESULTS.json`` draws the
plot of a run afterwards (the guest run writes none)."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.workloads import NAMES, PURE_PYTHON, Workload

GUEST_WARNING = ("GUEST TIMINGS ARE EMULATED (QEMU/TCG, some 50x slower than the host): "
                 "absolute rates mean nothing; only the ratios between contenders measured "
                 "inside one boot do.")
EXTRA = ("loss_pct", "overrun_events", "sender_rate", "receiver_rate", "growth_mib",
         "dump_entries", "dump_rate")


def si(x: float | None) -> str:
    if x is None:
        return "-"
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suf}"
    return f"{x:.3g}"


def ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}x" if x >= 10 else f"{x:.2f}x"


def summarize(wl: Workload, runs: dict[str, list[dict[str, Any]]], errors: dict[str, str],
              na: dict[str, str]) -> dict[str, Any]:
    """Medians, spreads, ratios and target verdicts of one workload."""
    key = "value" if wl.footprint else "rate"
    rows: list[dict[str, Any]] = []
    for c, rs in runs.items():
        vals = [r[key] for r in rs]
        row: dict[str, Any] = {"contender": c, "name": wl.name_of(c), "n": len(vals)}
        if vals:
            row.update(median=statistics.median(vals), min=min(vals), max=max(vals))
            row["extra"] = {k: statistics.median([r[k] for r in rs]) for k in EXTRA
                            if all(isinstance(r.get(k), (int, float)) for r in rs)}
        for k, d in (("na", na), ("error", errors), ("row_note", wl.row_notes)):
            if c in d:
                row[k] = d[c]
        rows.append(row)
    med = {r["contender"]: r.get("median") for r in rows}
    best_py = max((m for c, m in med.items() if c in PURE_PYTHON and m), default=None)
    for row in rows:
        m = row.get("median")
        if wl.footprint:
            row["p2_over"] = med["pyroute2"] / m if m and med.get("pyroute2") else None
        else:
            row["vs"] = {ref: m / med[ref] if m and med.get(ref) else None
                         for ref in ("c", "pyroute2")}
            row["vs"]["best_py"] = m / best_py if m and best_py else None
        goals = wl.targets.get(row["contender"])
        if goals:
            row["target"], row["met"], row["short"] = verdict(goals, row, med)
    return {"name": wl.name, "title": wl.title, "unit": wl.unit, "footprint": wl.footprint,
            "tier": wl.tier, "notes": wl.notes, "rows": rows, "runs": runs}


def verdict(goals: list[tuple[str, float]], row: dict[str, Any],
            med: dict[str, float | None]) -> tuple[str, bool | None, str]:
    """(the target as text, met? (None: not measurable), by how much it is missed)."""
    texts, checks, short = [], [], []
    for ref, want in goals:
        if ref == "p2_over":
            texts.append(f">={want:g}x faster than pyroute2")
            got = row.get("p2_over")
        elif ref == "growth":
            texts.append(f"grows <={want:g} MiB in the dump")
            g = row.get("extra", {}).get("growth_mib")
            if g is not None:
                checks.append(g <= want)
                if g > want:
                    short.append(f"+{g - want:.1f} MiB over")
            continue
        else:
            texts.append(f">={want:g}x {NAMES.get(ref, ref)}")
            m, r = row.get("median"), med.get(ref)
            got = m / r if m and r else None
        if got is not None:
            checks.append(got >= want)
            if got < want:
                short.append(f"{ratio(got)} of {want:g}x: {100 * (1 - got / want):.0f}% short")
    met = all(checks) if checks else None
    return ", ".join(texts), met, "; ".join(short)


def note(row: dict[str, Any]) -> str:
    if "na" in row:
        return "n/a: " + row["na"]
    if "error" in row:
        return "failed: " + row["error"]
    e = row.get("extra", {})
    parts = [row["short"]] if row.get("short") else []
    if "loss_pct" in e:
        parts.append(f"lost {e['loss_pct']:.1f}%, {e.get('overrun_events', 0):.0f} overrun notices")
    if "loss_pct" in e and "sender_rate" in e:
        parts.append(f"sent at {si(e['sender_rate'])}/s")
    if "dump_entries" in e and "growth_mib" in e:
        parts.append(f"{si(e['dump_entries'])} entries at {si(e.get('dump_rate'))}/s")
    if "growth_mib" in e:
        parts.append(f"+{e['growth_mib']:.1f} MiB during the dump")
    if "row_note" in row:
        parts.append(row["row_note"])
    return ", ".join(parts)


def met_text(v: bool | None) -> str:
    return "" if v is None else "yes" if v else "NO"


def table_rows(s: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    if s["footprint"]:
        cols = ["contender", "median", "min", "max", "pyroute2 / this", "target", "met?", "note"]

        def fmt(v: float | None) -> str:
            return "-" if v is None else f"{v:.1f}"

        return cols, [[r["name"], fmt(r.get("median")), fmt(r.get("min")), fmt(r.get("max")),
                       ratio(r["p2_over"]) if r["contender"] != "pyroute2" else "",
                       r.get("target", ""), met_text(r.get("met")), note(r)] for r in s["rows"]]
    cols = ["contender", "median", "min", "max", "x C", "x best pure-Py", "x pyroute2", "target",
            "met?", "note"]
    return cols, [[r["name"], si(r.get("median")), si(r.get("min")), si(r.get("max")),
                   ratio(r["vs"]["c"]), ratio(r["vs"]["best_py"]),
                   ratio(r["vs"]["pyroute2"]) if r["contender"] != "pyroute2" else "",
                   r.get("target", ""), met_text(r.get("met")), note(r)] for r in s["rows"]]


def footer(summaries: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    rows = [(s["name"], r) for s in summaries for r in s["rows"]]
    missed = [f"{n}/{r['contender']} ({r['short'] or r['target']})" for n, r in rows
              if r.get("met") is False]
    text = (f"targets met: {sum(r.get('met') is True for _, r in rows)}, missed: {len(missed)}"
            + (" -> " + "; ".join(missed) if missed else ""))
    return text + (f"\nwall time {meta['wall_seconds']:.0f} s" if "wall_seconds" in meta else "")


def text_table(summaries: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [meta["warning"], ""] if meta.get("warning") else []
    for s in summaries:
        cols, rows = table_rows(s)
        lines.append(f"== {s['name']}: {s['title']} [{s['unit']}]")
        if s["notes"]:
            lines.append(f"   ({s['notes']})")
        widths = [max(len(x) for x in [c] + [r[i] for r in rows]) for i, c in enumerate(cols)]
        align = ["<"] + [">"] * (len(cols) - 4) + ["<"] * 3
        lines += ["  ".join(f"{v:{a}{w}}" for v, a, w in zip(r, align, [*widths[:-1], 0])).rstrip()
                  for r in [cols, *rows]]
        lines.append("")
    return "\n".join([*lines, footer(summaries, meta)])


def one_line(s: dict[str, Any]) -> str:
    """The progress line of a finished workload."""
    return "  ".join(f"{r['contender']} {si(r.get('median'))}" + (
        "" if r.get("met") is None else " (met)" if r["met"] else " (MISSED)") for r in s["rows"])


def plot(summaries: list[dict[str, Any]], meta: dict[str, Any], path: Path) -> str | None:
    """One panel per workload, a bar per contender (log scale for rates) with
    min-max whiskers.  Returns why not, if it cannot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib)"
    panels = [s for s in summaries if any(r.get("median") for r in s["rows"])]
    if not panels:
        return "nothing to plot"
    fig, axes = plt.subplots((len(panels) + 1) // 2, 2, squeeze=False,
                             figsize=(13, 2.8 * ((len(panels) + 1) // 2) + 0.8))
    for ax, s in zip(axes.flat, panels):
        rows = [r for r in s["rows"] if r.get("median")]
        y = list(range(len(rows)))
        color = ["#555555" if r["contender"].startswith("c") else "#d62728"
                 if r["contender"] == "pyroute2" else "#1f77b4"
                 if r["contender"].startswith("nlfast") else "#2ca02c" for r in rows]
        ax.barh(y, [r["median"] for r in rows], color=color, capsize=2,
                xerr=[[r["median"] - r["min"] for r in rows], [r["max"] - r["median"] for r in rows]])
        ax.set_yticks(y, [r["name"] for r in rows], fontsize=8)
        ax.invert_yaxis()
        if not s["footprint"]:
            ax.set_xscale("log")
        ax.set_title(f"{s['name']} ({s['unit']})", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        for yi, r in zip(y, rows):
            ax.text(r["max"], yi, "  " + (f"{r['median']:.1f}" if s["footprint"] else si(r["median"]))
                    + ("" if r.get("met") is None else " ok" if r["met"] else " MISSED"),
                    va="center", fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"nlfast benchmark, {meta.get('date', '')}, kernel {meta.get('kernel', '')}"
                 + ("  (QEMU guest: only ratios mean anything)" if meta.get("tier") == "guest"
                    else "") + ("\n--quick: a check that it runs, not numbers to quote"
                                if "--quick" in meta.get("args", "") else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def write(summaries: list[dict[str, Any]], meta: dict[str, Any], out: Path,
          draw: bool = True) -> list[Path]:
    stem = out / ("bench-guest" if meta.get("tier") == "guest" else "bench")
    paths = [stem.with_suffix(x) for x in (".json", ".txt")]
    if draw:
        why = plot(summaries, meta, stem.with_suffix(".png"))
        meta["plot"] = f"plot: {stem.with_suffix('.png')}" if why is None else f"no plot: {why}"
    else:
        meta["plot"] = f"plot: python -m benchmarks.report {paths[0]} draws it"
    paths[0].write_text(json.dumps({"meta": meta, "workloads": summaries}, indent=1, default=str)
                        + "\n")
    paths[1].write_text(text_table(summaries, meta) + "\n")
    return paths


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m benchmarks.report RESULTS.json  (draws RESULTS.png)", file=sys.stderr)
        return 2
    try:
        data = json.loads(Path(argv[0]).read_text())
    except (OSError, ValueError) as e:
        print(f"benchmarks.report: cannot read {argv[0]}: {e}", file=sys.stderr)
        return 1
    png = Path(argv[0]).with_suffix(".png")
    why = plot(data["workloads"], data["meta"], png)
    print(f"plot: {png}" if why is None else f"no plot: {why}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
