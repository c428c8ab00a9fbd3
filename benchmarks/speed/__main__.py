"""Run the speed benchmark's sections, write each one's figures as JSON, render speed.md."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

from . import (
    common,
    first,
    gridsearch,
    memory,
    precision,
    render,
    threads,
    train,
    transform,
    vae,
    variants,
)

SECTIONS = (
    "train",
    "first",
    "variants",
    "vae",
    "precision",
    "transform",
    "memory",
    "threads",
    "gridsearch",
)

#: ``--quick``: every section on tiny problems, to check that it runs and
#: writes its figures, not to measure anything.
QUICK = {"rows": 2048, "epochs": 1, "repeats": 1}


def run_section(section: str, X, data_name: str, args) -> dict:
    """The figures of one section, at the full size or at ``--quick``'s."""
    epochs, repeats, quick = args.epochs, args.repeats, args.quick
    if section == "train":
        sizes = dict(peak_size=512, peak_repeats=3, step_repeats=3) if quick else {}
        return train.measure(X, data_name, epochs, repeats, **sizes)
    if section == "first":
        return first.measure(1024, repeats=1) if quick else first.measure()
    if section == "variants":
        return variants.measure(X, data_name, epochs, repeats)
    if section == "vae":
        return vae.measure(X, data_name, epochs, repeats)
    if section == "precision":
        if quick:
            sizes = dict(full_max_iter=1, emulated_steps=1, test_rows=1000)
            return precision.measure(X, data_name, epochs, repeats, **sizes)
        return precision.measure(X, data_name, epochs, repeats)
    if section == "transform":
        return (
            transform.measure(X, data_name, repeats=1) if quick else transform.measure(X, data_name)
        )
    if section == "memory":
        return memory.measure(20_000) if quick else memory.measure()
    if section == "threads":
        sizes = dict(repeats=1, digits_epochs=1, epochs=1) if quick else {}
        return threads.measure(X, data_name, **sizes)
    if section == "gridsearch":
        sizes = dict(repeats=1, epochs=1, digits_epochs=1) if quick else {}
        return gridsearch.measure(X, data_name, **sizes)
    raise ValueError(f"unknown section {section!r}")


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.speed", description=__doc__)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each timed fit")
    parser.add_argument("--rows", type=int, default=60_000, help="Fashion-MNIST training rows")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved training rounds")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"tiny problems ({QUICK['rows']} rows, 1 epoch, 1 round) to check that every "
        "section runs; written to a new temporary directory unless --results is given",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help=f"directory of the JSON files and speed.md (default: {common.RESULTS})",
    )
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            if parser.get_default(name) == getattr(args, name):
                setattr(args, name, value)
    results = args.results
    if results is None:
        results = Path(tempfile.mkdtemp(prefix="skae_speed_")) if args.quick else common.RESULTS
    results.mkdir(parents=True, exist_ok=True)

    common.train_on_cpu_only()
    X, data_name = common.load_data(args.rows)
    common.log(
        f"data: {data_name}, {X.shape[0]} x {X.shape[1]}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; results in {results}"
    )
    run = common.describe_run(sys.argv[1:] if argv is None else list(argv), args.quick)
    for section in args.only:
        common.log(f"[{section}]")
        figures = run_section(section, X, data_name, args)
        common.log(f"  wrote {common.write_section(results, section, figures, run)}")
    path = render.write(results)
    common.log(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
