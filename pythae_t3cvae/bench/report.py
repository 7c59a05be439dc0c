"""Results files of a comparison: results.json, results.csv and the Markdown tables."""

import csv
import json
import math
import os
from typing import Sequence

#: (result key, table title, format) of the tables, in print order
TABLE_METRICS = (
    ("fid", "FID (lower is better)", "{:.2f}"),
    ("mean_f1", "Mean per-class F1 (higher is better)", "{:.3f}"),
    ("tail_f1", "Tail-class F1: mean over the rarest 30% of classes (higher is better)", "{:.3f}"),
    ("mean_recall", "Mean per-class recall", "{:.3f}"),
    ("mean_precision", "Mean per-class precision", "{:.3f}"),
    ("tail_share", "Share of generated samples classified into the tail classes (class-balanced: tail classes / K)", "{:.3f}"),
    ("conditional_accuracy", "Conditional samples classified as their requested class (conditional models)", "{:.3f}"),
    ("coverage_kl", "Class coverage: KL(predicted class distribution || uniform), nats (lower is better)", "{:.3f}"),
)


def format_rho(rho) -> str:
    """``100``, ``1.5``, or ``natural`` for a dataset kept at its own imbalance (rho None)."""
    return "natural" if rho is None else f"{rho:g}"


def flatten(run: dict) -> dict:
    """Return the CSV row of a run: its settings and scalar metrics."""
    metrics = run.get("metrics", {})
    row = {"model": run["model"], "rho": run["rho"], "status": run.get("status", "")}
    for key, value in metrics.items():
        if isinstance(value, (int, float)):
            row[key] = value
    coverage = metrics.get("coverage")
    if coverage:
        row["coverage_kl"] = coverage["kl_from_uniform"]
        row["coverage_fraction"] = coverage["fraction_covered"]
    return row


def markdown_tables(runs: Sequence[dict], model_names: Sequence[str], rhos: Sequence[float]) -> str:
    """Tables laid out like the reference study: one row per model, one column per rho."""
    rows = {(run["model"], format_rho(run["rho"])): flatten(run) for run in runs}
    sections = []
    for key, title, fmt in TABLE_METRICS:
        if not any(key in row for row in rows.values()):
            continue
        lines = [f"### {title}", "", "| model | " + " | ".join(f"rho={format_rho(r)}" for r in rhos) + " |"]
        lines.append("| --- |" + " --- |" * len(rhos))
        for name in model_names:
            cells = []
            for rho in rhos:
                value = rows.get((name, format_rho(rho)), {}).get(key)
                cells.append("-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value))
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def write_results(output_dir: str, settings: dict, runs: Sequence[dict], model_names, rhos) -> dict:
    """Write results.json, results.csv and table.md under ``output_dir``; return their paths."""
    os.makedirs(output_dir, exist_ok=True)
    paths = {
        "json": os.path.join(output_dir, "results.json"),
        "csv": os.path.join(output_dir, "results.csv"),
        "table": os.path.join(output_dir, "table.md"),
    }
    with open(paths["json"], "w") as f:
        # NaN (a class without enough samples) is written as null, so the file is strict JSON.
        json.dump(_without_nan({"settings": settings, "runs": list(runs)}), f, indent=2)

    rows = [flatten(run) for run in runs]
    fields = list(dict.fromkeys(key for row in rows for key in row))
    with open(paths["csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)

    header = (
        f"# {settings['preset']}: {len(model_names)} models, {settings['epochs']} epochs, "
        f"{settings['samples_per_class']} generated samples per class\n\n"
    )
    with open(paths["table"], "w") as f:
        f.write(header + markdown_tables(runs, model_names, rhos))
    return paths


def _without_nan(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_nan(item) for item in value]
    return value
