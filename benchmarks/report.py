"""Summaries of the measurements: the table (text and markdown), the JSON
and the plot."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks.core import NAMES, NLFAST, PURE_PYTHON

GUEST_WARNING = ("GUEST TIMINGS ARE EMULATED (QEMU/TCG, some 50x slower than the host): absolute "
                 "rates mean nothing; only the "
                 "ratios between contenders measured inside one boot do.")


def si(x: float | None) -> str:
    if x is None:
        return "-"
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suf}"
    return f"{x:.3g}"


def ratio(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 10:
        return f"{x:,.0f}x"
    return f"{x:.2f}x"


def summarize(wl: Any, runs: dict[str, list[dict[str, Any]]], errors: dict[str, str],
              na: dict[str, str]) -> dict[str, Any]:
    """Medians, spreads, ratios and the target verdict of one workload."""
    key = "rate" if wl.kind == "rate" else "value"
    stats: dict[str, dict[str, Any]] = {}
    names = {**NAMES, **getattr(wl, "names", {})}
    for c in runs:
        vals = [r[key] for r in runs.get(c, [])]
        st: dict[str, Any] = {"name": names.get(c, c), "n": len(vals)}
        if vals:
            st.update(median=statistics.median(vals), min=min(vals), max=max(vals))
            extra: dict[str, float] = {}
            for k in ("loss_pct", "overrun_events", "sender_rate", "receiver_rate",
                      "growth_mib", "lost", "dump_entries", "dump_rate",
                      "growth_per_entry_b"):
                xs = [r[k] for r in runs[c] if isinstance(r.get(k), (int, float))]
                if xs:
                    extra[k] = statistics.median(xs)
            st["extra"] = extra
        if c in getattr(wl, "row_notes", {}):
            st["row_note"] = wl.row_notes[c]
        if c in na:
            st["na"] = na[c]
        elif c in errors:
            st["error"] = errors[c]
        stats[c] = st
    med = {c: s.get("median") for c, s in stats.items()}
    rows = []
    if wl.kind == "rate":
        c_med = med.get("c")
        py = [m for c, m in med.items() if c in PURE_PYTHON and m]
        best_py = max(py) if py else None
        p2 = med.get("pyroute2")
        for c, st in stats.items():
            m = st.get("median")
            row = {"contender": c, **st,
                   "vs_c": m / c_med if m and c_med else None,
                   "vs_best_py": m / best_py if m and best_py else None,
                   "vs_pyroute2": m / p2 if m and p2 else None}
            if c == "nlfast" and wl.target is not None:
                row["target"] = wl.target.text()
                row["met"] = verdict(wl.target, row)
            rows.append(row)
    else:
        p2 = med.get("pyroute2")
        for c, st in stats.items():
            m = st.get("median")
            row = {"contender": c, **st, "p2_over": p2 / m if m and p2 else None}
            if c == "nlfast":
                if wl.name == "import":
                    row["target"] = f">={wl.goal:g}x faster than pyroute2"
                    row["met"] = (None if row["p2_over"] is None
                                  else row["p2_over"] >= wl.goal)
                elif wl.name.endswith("rss"):
                    g = st.get("extra", {}).get("growth_mib")
                    row["target"] = f"grows <={wl.bound_mib:g} MiB in the dump"
                    row["met"] = None if g is None else g <= wl.bound_mib
            rows.append(row)
    lossy = getattr(wl, "lossy", False)
    for row in rows:
        e = row.get("extra", {})
        if not lossy:
            for k in ("loss_pct", "overrun_events", "lost"):
                e.pop(k, None)
    return {"name": wl.name, "title": wl.describe(), "unit": wl.unit, "kind": wl.kind,
            "tier": wl.tier, "notes": wl.notes, "rows": rows, "runs": runs}


def verdict(t: Any, row: dict[str, Any]) -> bool | None:
    """Whether the row meets the target's parts that could be measured
    (None: none could)."""
    checks = []
    if t.vs_c is not None and row["vs_c"] is not None:
        checks.append(row["vs_c"] >= t.vs_c)
    if t.vs_pyroute2 is not None and row["vs_pyroute2"] is not None:
        checks.append(row["vs_pyroute2"] >= t.vs_pyroute2)
    return all(checks) if checks else None


def _met(v: bool | None) -> str:
    return "" if v is None else ("yes" if v else "NO")


def note(row: dict[str, Any]) -> str:
    if "na" in row:
        return "n/a: " + row["na"]
    if "error" in row:
        return "failed: " + row["error"]
    e = row.get("extra", {})
    parts = []
    if "loss_pct" in e:
        parts.append(f"lost {e['loss_pct']:.1f}%")
    if "overrun_events" in e:
        parts.append(f"{e['overrun_events']:.0f} overrun notices")
    if "sender_rate" in e and "loss_pct" in e:
        parts.append(f"sent at {si(e['sender_rate'])}/s")
    if "dump_entries" in e and "dump_rate" in e:
        parts.append(f"{si(e['dump_entries'])} entries at {si(e['dump_rate'])}/s")
    if "growth_mib" in e:
        parts.append(f"+{e['growth_mib']:.1f} MiB during the dump"
                     + (f" ({e['growth_per_entry_b']:,.0f} bytes per entry)"
                        if "growth_per_entry_b" in e else ""))
    if "row_note" in row:
        parts.append(row["row_note"])
    return ", ".join(parts)


RATE_COLS = ("contender", "median", "min", "max", "x C", "x best pure-Py", "x pyroute2",
             "target", "met?", "note")
FOOT_COLS = ("contender", "median", "min", "max", "pyroute2 / this", "target", "met?", "note")


def table_rows(s: dict[str, Any]) -> tuple[tuple[str, ...], list[list[str]]]:
    out = []
    if s["kind"] == "rate":
        for r in s["rows"]:
            out.append([r["name"], si(r.get("median")), si(r.get("min")), si(r.get("max")),
                        ratio(r["vs_c"]), ratio(r["vs_best_py"]),
                        ratio(r["vs_pyroute2"]) if r["contender"] != "pyroute2" else "",
                        r.get("target", ""), _met(r.get("met")), note(r)])
        return RATE_COLS, out
    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    for r in s["rows"]:
        out.append([r["name"], fmt(r.get("median")), fmt(r.get("min")), fmt(r.get("max")),
                    ratio(r["p2_over"]) if r["contender"] != "pyroute2" else "",
                    r.get("target", ""), _met(r.get("met")), note(r)])
    return FOOT_COLS, out


def text_table(summaries: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = []
    if meta.get("tier") == "guest":
        lines += [GUEST_WARNING, ""]
    for s in summaries:
        cols, rows = table_rows(s)
        head = f"== {s['name']}: {s['title']} [{s['unit']}]"
        lines.append(head)
        if s["notes"]:
            lines.append(f"   ({s['notes']})")
        widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
                  for i, c in enumerate(cols)]
        widths[-1] = len(cols[-1])  # the note column is not padded
        align = ["<"] + [">"] * (len(cols) - 4) + ["<", "<", "<"]
        lines.append("  ".join(f"{c:{a}{w}}" for c, a, w in zip(cols, align, widths)).rstrip())
        for r in rows:
            lines.append("  ".join(f"{v:{a}{w}}" for v, a, w in zip(r, align, widths)).rstrip())
        lines.append("")
    lines.append(footer(summaries, meta))
    return "\n".join(lines)


def footer(summaries: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    missed = [f"{s['name']} ({r.get('target')})" for s in summaries for r in s["rows"]
              if r.get("met") is False]
    met = sum(1 for s in summaries for r in s["rows"] if r.get("met") is True)
    text = (f"targets met: {met}, missed: {len(missed)}"
            + (f" -> {', '.join(missed)}" if missed else ""))
    return text + (f"\nwall time {meta['wall_seconds']:.0f} s" if "wall_seconds" in meta else "")


def markdown(summaries: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    out = ["# nlfast benchmark", ""]
    if meta.get("tier") == "guest":
        out += [f"**{GUEST_WARNING}**", ""]
    for k in ("date", "kernel", "cpu", "python", "nlfast", "pyroute2", "namespace",
              "family_proto", "workers", "repeat", "seconds_per_run", "wall_seconds"):
        if k in meta:
            out.append(f"- {k}: {meta[k]}")
    out += ["", "Rates are medians of interleaved runs (each contender once per round), "
            "min and max beside them; `x C` is the ratio to the C ceiling client, "
            "`x best pure-Py` to the fastest pure-Python contender (stdlib or pyroute2).", ""]
    for s in summaries:
        cols, rows = table_rows(s)
        out.append(f"## {s['name']}: {s['title']} ({s['unit']})")
        if s["notes"]:
            out += ["", s["notes"]]
        out += ["", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        for r in rows:
            out.append("| " + " | ".join(v.replace("|", "/") for v in r) + " |")
        out.append("")
    out.append(footer(summaries, meta).replace("\n", "  \n"))
    return "\n".join(out) + "\n"


def plot(summaries: list[dict[str, Any]], meta: dict[str, Any], path: Path) -> str | None:
    """A PNG: one panel per workload, bars per contender (log scale), min-max
    whiskers.  Returns why not, when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib)"
    panels = [s for s in summaries if any(r.get("median") for r in s["rows"])]
    if not panels:
        return "nothing to plot"
    ncols = 2
    nrows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(nrows, ncols, figsize=(13, 2.6 * nrows + 0.8), squeeze=False)
    colors = {"c": "#555555", "pyroute2": "#d62728"}
    for ax, s in zip(axes.flat, panels):
        rows = [r for r in s["rows"] if r.get("median")]
        names = [r["name"] for r in rows]
        med = [r["median"] for r in rows]
        lo = [r["median"] - r["min"] for r in rows]
        hi = [r["max"] - r["median"] for r in rows]
        col = [colors.get(r["contender"],
                          "#1f77b4" if r["contender"] in NLFAST else "#2ca02c") for r in rows]
        y = range(len(rows))
        ax.barh(list(y), med, xerr=[lo, hi], color=col, capsize=2)
        ax.set_yticks(list(y), names, fontsize=8)
        ax.invert_yaxis()
        if s["kind"] == "rate":
            ax.set_xscale("log")
        ax.set_title(f"{s['name']} ({s['unit']})", fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        for yi, r in enumerate(rows):
            m = r["median"]
            ax.text(r["max"], yi, "  " + (si(m) if s["kind"] == "rate" else f"{m:.1f}"),
                    va="center", fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    title = "nlfast benchmark: " + meta.get("kernel", "")
    if meta.get("tier") == "guest":
        title += "  (QEMU guest: only ratios within this boot mean anything)"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def write(summaries: list[dict[str, Any]], meta: dict[str, Any], out: Path,
          draw: bool = True) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = "bench-guest" if meta.get("tier") == "guest" else "bench"
    paths = [out / f"{stem}.json", out / f"{stem}.md", out / f"{stem}.txt"]
    paths[0].write_text(json.dumps({"meta": meta, "workloads": summaries}, indent=1,
                                   default=str) + "\n")
    paths[1].write_text(markdown(summaries, meta))
    paths[2].write_text(text_table(summaries, meta) + "\n")
    png = out / f"{stem}.png"
    if not draw:
        meta["plot"] = (f"no plot here (importing matplotlib takes a minute under TCG): "
                        f"python -m benchmarks.report {paths[0]} draws it")
        return paths
    why = plot(summaries, meta, png)
    if why is None:
        paths.append(png)
    else:
        meta["plot"] = f"no plot: {why}"
    return paths


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.report RESULTS.json``: draws the plot of a run
    beside its JSON (the guest run writes none: see write())."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m benchmarks.report RESULTS.json  (draws RESULTS.png)",
              file=sys.stderr)
        return 2
    src = Path(args[0])
    try:
        data = json.loads(src.read_text())
    except (OSError, ValueError) as e:
        print(f"benchmarks.report: cannot read {src}: {e}", file=sys.stderr)
        return 1
    png = src.with_suffix(".png")
    why = plot(data["workloads"], data["meta"], png)
    if why is not None:  # not a failure of the run: the tables are written
        print(f"benchmarks.report: no plot: {why}", file=sys.stderr)
        return 0
    print(f"wrote {png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
