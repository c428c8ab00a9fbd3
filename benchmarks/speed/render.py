"""Write ``speed.md`` from the sections' JSON files.

    python -m benchmarks.speed.render                    # benchmarks/results/speed.md
    python -m benchmarks.speed.render --results DIR      # DIR/speed.md from DIR/speed_*.json

Every ratio, share and comparison word in the report is computed here from
the figures, so that the text says only what the run measured.  This
module imports neither torch nor skae: it reads JSON.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"

TITLES = {
    "train": "Training: skae vs a hand-written loop vs skorch",
    "first": "A session's first fit",
    "variants": "Cost of each variant's objective",
    "vae": "VAE: skae vs a pytorch/examples-style loop",
    "precision": "Mixed precision: bfloat16 against float32",
    "transform": "Inference throughput",
    "memory": "Bounded memory",
    "threads": "Threads for small networks",
    "gridsearch": "Parallel model selection",
}

#: Fits on one thread and on all whose times are this close count as equally fast.
TIES = 0.03

#: Issue 27's target for ``precision="bfloat16"`` on a CPU with native bfloat16:
#: epochs at least this many times faster than float32's...
BFLOAT16_SPEEDUP_TARGET = 1.5
#: ...and a test error within this share of float32's.
BFLOAT16_ERROR_TARGET = 0.02


def load(results: Path) -> dict:
    """The JSON documents in ``results``, by section, in the report's order."""
    documents = {}
    for section in TITLES:
        path = Path(results) / f"speed_{section}.json"
        if path.exists():
            documents[section] = json.loads(path.read_text())
    return documents


# ----------------------------------------------------------------- words from numbers


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``"1 epoch"``, ``"2 epochs"``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {plural or noun + 's'}"


def percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%"


def compare(value: float, other: float, more: str, less: str, shown: str, same: str) -> str:
    """``more``, ``less`` or ``same`` as ``value`` compares with ``other`` at the precision
    the report shows them (``shown``, a format such as ``".1f"``)."""
    if format(value, shown) == format(other, shown):
        return same
    return more if value > other else less


def network(features: int, hidden: int, code: int) -> str:
    return f"{features}-{hidden}-{code}"


def table(header: list, rows: list, align: list | None = None) -> list:
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align) + "|",
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ]


# ----------------------------------------------------------------- the run


def describe_bfloat16(native) -> str:
    """The CPU's bfloat16 support in words; ``native`` is True, False or None (unknown)."""
    if native is None:
        return "native bfloat16 unknown"
    return "native bfloat16" if native else "no native bfloat16"


def describe_machine(run: dict) -> str:
    machine, versions = run["machine"], run["versions"]
    vendor = f", {machine['vendor']}" if machine.get("vendor") else ""
    if "native_bfloat16" in machine:
        vendor += f", {describe_bfloat16(machine['native_bfloat16'])}"
    config = ", ".join(f"{key}={value!r}" for key, value in run["skae_config"].items())
    return (
        f"a {machine['logical_cores']}-core {machine['architecture']} machine "
        f"({machine['cpu']}{vendor}; torch on {machine['torch_threads']} threads), "
        f"Python {versions['python']}, numpy {versions['numpy']}, scikit-learn "
        f"{versions['scikit-learn']}, torch {versions['torch']} with {versions['blas']}, "
        f"skae {versions['skae']} (configuration: {config})"
    )


def describe_run(run: dict) -> str:
    commit = run.get("commit") or "an unknown commit"
    if run.get("uncommitted_changes"):
        commit += " with uncommitted changes to skae or the benchmark"
    return (
        f"Made by `{run['command']}` at commit {commit}, {run['date']}, on {describe_machine(run)}."
    )


# ----------------------------------------------------------------- sections


def render_train(f: dict, run: dict) -> str:
    features, net = f["features"], f["network"]
    hidden, code, wide = net["hidden"], net["code"], f["default_hidden"]
    seconds = dict(f["seconds_per_epoch"])
    peaks = f["gemm_peak_gflops"]
    peak = max(peaks.values())
    gflop = f["gflop_per_epoch"]["bench"]
    library, other = f["library"], f["other_library"]
    skae_time = seconds["skae"]
    labels = {
        "skae": f"skae UndercompleteAE ({library})",
        "skae_other_library": f"skae UndercompleteAE with {other} instead",
        "loop": "hand-written torch loop",
        "loop_fused": "hand-written torch loop, Adam's fused kernel (skae's)",
        "loop_skae_layers": "hand-written torch loop, skae's linear layers",
        "skorch": "skorch NeuralNetRegressor",
    }
    rows = []
    for key, label in labels.items():
        if key not in seconds:
            continue
        time = seconds[key]
        achieved = gflop / time
        rows.append(
            [
                label,
                f"{time:.3f}",
                f"{f['rows'] / time:,.0f}",
                f"{achieved:.0f}",
                percent(achieved, peak),
                f"{time / skae_time:.2f}x",
            ]
        )
    measured = ", ".join(f"{name} {value:.0f}" for name, value in peaks.items())
    setting = run["skae_config"].get("onednn", "auto")
    lines = [
        f"Data: {f['data']}, {f['rows']:,} × {features}. Network "
        f"{features}-{hidden}-{code}-{hidden}-{features}, batch {net['batch']}, Adam lr "
        f"{net['lr']}, {count(f['epochs'], 'epoch')} per trainer; best of "
        f"{count(f['repeats'], 'interleaved round')} per trainer.",
        "",
        f"GEMM peak measured: **{peak:.0f} GFLOP/s** (the best {f['peak_size']}² float32 "
        f"product, {f['threads']} threads, over the rounds: {measured} GFLOP/s). One epoch = "
        f"{gflop:.1f} GFLOP of GEMMs. skae's linear layers computed their products in "
        f"{library} (configuration onednn={setting!r})"
        + (f"; the second row forces {other}." if other else "."),
        "",
        *table(
            ["trainer", "s / epoch", "samples / s", "GFLOP/s", "% of GEMM peak", "× skae's time"],
            rows,
        ),
    ]
    if "loop_fused" in seconds:
        fused = seconds["loop_fused"]
        in_epochs = skae_time - f["skae_setup_seconds"] / f["epochs"]
        lines += [
            "",
            "skae trains with Adam's fused kernel, that of `torch.optim.Adam(fused=True)`, "
            "called by its own Adam (`skae/_adam.py`). The hand-written loop with that "
            f"kernel, through `optimizer.step()`, takes {fused:.3f} s per epoch, "
            f"{fused / skae_time:.2f}x skae's time. skae's fit also validates, centres and "
            f"scales the data and builds its network: {f['skae_setup_seconds']:.2f} s per "
            f"fit here (the fit's time outside its epochs); its epochs alone take "
            f"{in_epochs:.3f} s each, the fused loop {fused / in_epochs:.2f}x that.",
        ]
    if "skae_logistic" in seconds and "loop_sigmoid" in seconds:
        logistic, sigmoid = seconds["skae_logistic"], seconds["loop_sigmoid"]
        lines += [
            "",
            "With a logistic output, as for pixels in [0, 1] (skae's `output_activation="
            "'auto'`, which reads it in skae's centred and scaled units; the loop ends in "
            f"`nn.Sigmoid`): skae {logistic:.3f} s per epoch ({logistic / skae_time:.2f}x "
            f"its linear-output time), the hand-written loop {sigmoid:.3f} "
            f"(**{sigmoid / logistic:.2f}x** skae's time).",
        ]
    ceiling, wide_ceiling = f["step_gemm_gflops"]["bench"], f["step_gemm_gflops"]["defaults"]
    lines += [
        "",
        "The GEMMs of one training step alone, back to back on operands of the step's "
        "shapes (the same operands every time, so warm in the caches; skae's dispatch, "
        f"best of {count(f['repeats'], 'round')}), run at {ceiling:.0f} GFLOP/s "
        f"({percent(ceiling, peak)} of the peak) for the {network(features, hidden, code)} "
        f"network and {wide_ceiling:.0f} GFLOP/s ({percent(wide_ceiling, peak)}) for the "
        f"defaults' {network(features, wide, code)}. skae's fit of the first reached "
        f"{percent(gflop / skae_time, ceiling)} of that rate.",
    ]
    if "skae_defaults" in seconds:
        time = seconds["skae_defaults"]
        wide_gflop = f["gflop_per_epoch"]["defaults"]
        achieved = wide_gflop / time
        lines += [
            "",
            f"With its default network ({network(features, wide, code)}, and the default "
            f"schedule), `UndercompleteAE({code}).fit` takes {time:.3f} s per epoch: "
            f"{wide_gflop:.0f} GFLOP of GEMMs per epoch at {achieved:.0f} GFLOP/s, "
            f"**{percent(achieved, peak)} of the GEMM peak** "
            f"({percent(achieved, peaks['torch.matmul'])} of torch.matmul's, "
            f"{percent(achieved, wide_ceiling)} of the step's GEMMs alone).",
        ]
    return "\n".join(lines)


def render_first(f: dict, run: dict) -> str:
    names = {
        "skae": "skae UndercompleteAE.fit",
        "loop_fused": "hand-written torch loop, Adam's fused kernel",
    }
    rows = [
        [names[key], f"{first:.3f}", f"{second:.3f}", f"{first - second:+.3f}"]
        for key, (first, second) in f["seconds"].items()
    ]
    return "\n".join(
        [
            f"One epoch over {f['rows']:,} rows of the benchmark's network, fitted twice in a "
            "fresh Python process that has imported torch, scikit-learn and skae before the "
            f"clock starts; best of {count(f['repeats'], 'process', 'processes')} each.",
            "",
            *table(["trainer", "first fit (s)", "second fit (s)", "first − second (s)"], rows),
        ]
    )


def render_variants(f: dict, run: dict) -> str:
    seconds = f["seconds_per_epoch"]
    base = seconds["UndercompleteAE"]
    rows = [
        [
            name,
            f"{times['bench']:.3f}",
            f"{times['bench'] / base['bench']:.2f}",
            f"{times['defaults']:.3f}",
            f"{times['defaults'] / base['defaults']:.2f}",
        ]
        for name, times in seconds.items()
    ]
    features, code = f["features"], f["code"]
    return "\n".join(
        [
            f"Data: {f['data']}, {f['rows']:,} × {features}; best of "
            f"{count(f['repeats'], 'interleaved round')} of {count(f['epochs'], 'epoch')}. "
            "Defaults: each estimator as "
            f"`cls({code}, max_iter={f['epochs']}, tol=0.0)`, whose network is "
            f"{network(features, f['default_hidden'], code)}.",
            "",
            *table(
                [
                    "estimator",
                    f"s / epoch, {network(features, f['hidden'], code)}",
                    "× UndercompleteAE",
                    "s / epoch, defaults",
                    "× UndercompleteAE",
                ],
                rows,
            ),
        ]
    )


def render_vae(f: dict, run: dict) -> str:
    skae, loop, net = f["skae"], f["loop"], f["network"]
    skae_time, loop_time = skae["seconds_per_epoch"], loop["seconds_per_epoch"]
    in_epochs = skae_time - skae["setup_seconds"] / f["epochs"]
    skae_elbo, loop_elbo = skae["test_elbo_per_image"], loop["test_elbo_per_image"]
    higher = compare(skae_elbo, loop_elbo, "higher than", "lower than", ".1f", "equal to")
    return "\n".join(
        [
            *table(
                [
                    f"VAE ({network(f['features'], net['hidden'], net['code'])}, BCE, Adam, batch "
                    f"{net['batch']})",
                    "s / epoch",
                    "test ELBO per image (nats)",
                ],
                [
                    ["skae VAE", f"{skae_time:.3f}", f"{skae_elbo:.1f}"],
                    ["pytorch/examples-style loop", f"{loop_time:.3f}", f"{loop_elbo:.1f}"],
                ],
            ),
            "",
            f"Data: {f['data']}, trained on {f['train_rows']:,} rows for "
            f"{count(f['epochs'], 'epoch')}, ELBO on the next {f['test_rows']:,}; best of "
            f"{count(f['repeats'], 'interleaved round')}. "
            f"skae's test ELBO is {higher} the loop's (by "
            f"{100 * abs(skae_elbo - loop_elbo) / abs(loop_elbo):.2f}%). The loop takes "
            f"{loop_time / skae_time:.2f}x skae's time per epoch, {loop_time / in_epochs:.2f}x "
            f"that of skae's epochs alone (without its {skae['setup_seconds']:.2f} s of set-up "
            "per fit). The examples' loop keeps `nn.Linear` and PyTorch's default Adam.",
        ]
    )


def render_precision(f: dict, run: dict) -> str:
    net, seconds, cpu = f["network"], f["seconds_per_epoch"], f["cpu_bfloat16"]
    native, used, steps = (
        cpu["native"],
        f["skae_bfloat16_precision_used"],
        f["loop_bfloat16_timed_steps"],
    )
    flags = ", ".join(cpu["flags"]) if cpu.get("flags") else "none"
    if native:
        support = f"This CPU multiplies bfloat16 natively (its flags: {flags})."
    else:
        support = (
            "**This CPU has no native bfloat16** (neither AVX512-BF16 nor AMX), so "
            '`precision="bfloat16"` falls back to float32, with a warning: '
            "skae's bfloat16 rows are float32's."
        )
    fell_back = used != "bfloat16"
    skae_label = 'skae, precision="bfloat16"' + (" (fell back to float32)" if fell_back else "")
    loop_label = "hand-written loop, bfloat16 autocast" + (
        f" (emulated; {count(steps, 'step')} timed)" if steps else ""
    )
    rows = [
        ["skae, float32", seconds["skae_float32"], seconds["skae_float32"]],
        [skae_label, seconds["skae_bfloat16"], seconds["skae_float32"]],
        ["hand-written loop, float32", seconds["loop_float32"], seconds["loop_float32"]],
        [loop_label, seconds["loop_bfloat16"], seconds["loop_float32"]],
    ]
    timing = table(
        [
            f"UndercompleteAE(32) defaults ({network(f['features'], net['hidden'], net['code'])}, "
            f"batch {net['batch']})",
            "s / epoch",
            "float32's time / this",
        ],
        [[label, f"{time:.3f}", f"{base / time:.2f}x"] for label, time, base in rows],
    )
    fits = f["full_fit"]
    reference = fits["float32"]
    fit_rows = [
        ["float32", reference["epochs"], f"{reference['test_error']:.5f}", ""],
    ]
    mixed = fits.get("bfloat16")
    if mixed is None:
        fit_rows.append(["bfloat16", "", "the float32 fit (fell back)", ""])
    else:
        change = (mixed["test_error"] - reference["test_error"]) / reference["test_error"]
        fit_rows.append(
            [
                f"bfloat16 ({mixed['precision_used']})",
                mixed["epochs"],
                f"{mixed['test_error']:.5f}",
                f"{100 * change:+.1f}%",
            ]
        )
    errors = table(
        [
            f"full default fit (max_iter={f['full_fit_max_iter']!r})",
            "epochs",
            "test error (MSE per pixel)",
            "vs float32",
        ],
        fit_rows,
    )
    speedup = seconds["skae_float32"] / seconds["skae_bfloat16"]
    loop_speedup = seconds["loop_float32"] / seconds["loop_bfloat16"]
    sentences = [
        f"Data: {f['data']}, {f['rows']:,} rows; {count(f['epochs'], 'epoch')} per timed fit, "
        f"best of {count(f['repeats'], 'interleaved round')}; test error on "
        f"{f['test_rows']:,} rows of {f['test_data']}. The hand-written loop is the same "
        "network (`nn.Linear`, a sigmoid output, MSE, Adam's fused kernel at skae's default "
        'step size) under `torch.autocast("cpu", torch.bfloat16)` or without.',
        f"bfloat16 epochs take {1 / speedup:.2f}x float32's time in skae and "
        f"{1 / loop_speedup:.2f}x in the hand-written loop.",
    ]
    if native and not fell_back and mixed is not None:
        change = abs(mixed["test_error"] - reference["test_error"]) / reference["test_error"]
        met = speedup >= BFLOAT16_SPEEDUP_TARGET and change <= BFLOAT16_ERROR_TARGET
        sentences.append(
            f"Target (at least {BFLOAT16_SPEEDUP_TARGET}x faster epochs, test error within "
            f"{100 * BFLOAT16_ERROR_TARGET:.0f}% of float32's): "
            + ("**met**" if met else "**not met**")
            + f" ({speedup:.2f}x, {100 * change:.1f}%)."
        )
    else:
        sentences.append(
            f"The target (at least {BFLOAT16_SPEEDUP_TARGET}x faster epochs and a test error "
            f"within {100 * BFLOAT16_ERROR_TARGET:.0f}% of float32's) can only be checked on a "
            "CPU with native bfloat16."
        )
    return "\n".join(
        [
            support,
            "",
            *timing,
            "",
            *errors,
            "",
            *(f"- {sentence}" for sentence in sentences),
        ]
    )


def render_transform(f: dict, run: dict) -> str:
    rates = f["rows_per_second"]
    rows = [[name, f"{rate:,.0f}"] for name, rate in rates.items()]
    return "\n".join(
        [
            f"Data: {f['data']}; all {f['rows']:,} rows at once, best of "
            f"{count(f['repeats'], 'call')} each (after one on {f['warm_up_rows']:,} rows). "
            "skae's model is the benchmark's "
            f"network fitted for one epoch on {f['fit_rows']:,} rows, PCA fitted on the same "
            "rows. The inverse rows time `inverse_transform(transform(X))`. skae's transform "
            f"runs at {rates['skae transform'] / rates['PCA transform']:.2f}x PCA's rate, its "
            "inverse at "
            f"{rates['skae inverse_transform'] / rates['PCA inverse_transform']:.2f}x.",
            "",
            *table(["method", "rows / s"], rows),
        ]
    )


def render_memory(f: dict, run: dict) -> str:
    peaks, size = f["peak_kib"], f["input_kib"]
    gib = 2**20
    rows = []
    for method, label in [
        ("transform", f"transform (output {f['rows']:,} × {f['code']})"),
        ("score_samples", "score_samples"),
    ]:
        extra = peaks[method] - peaks["before"]
        rows.append([label, f"{extra / 1024:.0f} MiB", f"{100 * extra / size:.1f}%"])
    return "\n".join(
        [
            f"Input: {f['rows']:,} × {f['features']} float32 = {size / gib:.2f} GiB; peak RSS "
            f"with the input and a fitted model in memory: {peaks['before'] / gib:.2f} GiB. "
            "Peak RSS measured with `getrusage` in a fresh subprocess.",
            "",
            *table(["method", "peak RSS growth", "as % of the input"], rows),
            "",
            "`inverse_transform` returns an output as large as the input; it is run after the "
            f"input is freed, from the codes. Its peak is {peaks['inverse_transform'] / gib:.2f} "
            f"GiB for an output of {size / gib:.2f} GiB.",
        ]
    )


def thread_verdict(one: float, all_: float, chosen: int, available: int) -> str:
    """Whether skae's thread count was the faster of one and all, from the two times."""
    if chosen not in (1, available):
        return "neither timed"
    ratio = one / all_
    if abs(ratio - 1.0) < TIES:
        return "either"
    return "yes" if (chosen == 1) == (ratio < 1.0) else "**no**"


def render_threads(f: dict, run: dict) -> str:
    available, rule = f["available_threads"], f["rule"]
    rows, verdicts = [], []
    for problem in f["problems"]:
        one, all_ = problem["seconds"]["one"], problem["seconds"]["all"]
        verdict = thread_verdict(one, all_, problem["skae_threads"], available)
        verdicts.append(verdict)
        rows.append(
            [
                problem["name"],
                f"{one:.3f}",
                f"{all_:.3f}",
                f"{one / all_:.2f}x",
                problem["skae_threads"],
                verdict,
            ]
        )
    good = sum(verdict in ("yes", "either") for verdict in verdicts)
    return "\n".join(
        [
            "With `training_threads='auto'` (skae's default setting), skae trains on one CPU "
            f"thread per {rule['multiply_adds_per_thread']:,} multiply-adds of a training "
            "step (three times the forward products of a batch), or per "
            f"{rule['batch_values_per_thread']:,} values of a batch (rows × features), "
            f"whichever gives more, at least one and at most torch's setting ({available} "
            f"here). Each fit is timed with `training_threads=1` and with {available}, "
            f"interleaved, best of {count(f['repeats'], 'fit')}; skae's threads are those it "
            "set in a fit "
            "under `'auto'`. The last column says whether skae's choice is the faster "
            f'("either" where the two times are within {TIES:.0%} of each other).',
            "",
            *table(
                [
                    "problem",
                    "1 thread (s)",
                    f"{available} threads (s)",
                    f"1 thread / {available}",
                    "skae's threads",
                    "the faster?",
                ],
                rows,
            ),
            "",
            f"skae's choice was the faster, or within {TIES:.0%}, for {good} of "
            f"{len(verdicts)} problems.",
        ]
    )


def render_gridsearch(f: dict, run: dict) -> str:
    n_jobs, threads, worker_threads = f["n_jobs"], f["threads"], f["worker_threads"]
    fits = math.prod(len(values) for values in f["grid"].values()) * f["cv"]
    rows, sentences = [], []
    start_up = f["worker_start_seconds"]
    for problem in f["problems"]:
        serial, parallel = problem["search_seconds"]["1"], problem["search_seconds"][str(n_jobs)]
        t_all = problem["one_fit_seconds"]["all_threads"]
        t_worker = problem["one_fit_seconds"]["worker_threads"]
        bound = t_worker / (n_jobs * t_all)
        rows.append(
            [
                problem["name"],
                f"{serial:.1f}",
                f"{parallel:.1f}",
                f"**{parallel / serial:.2f}**",
                f"{t_all:.2f} / {t_worker:.2f} s",
                f"{bound:.2f}",
                f"{problem['fit_seconds_in_workers']:.2f} s",
            ]
        )
        fresh = parallel + start_up
        than = compare(fresh, serial, "more than", "less than", ".1f", "the same as")
        sentences.append(
            f"{problem['name']}: n_jobs={n_jobs} took {parallel / serial:.2f} of the time of "
            f"n_jobs=1 (the bound: {bound:.2f}); with the workers' start added, "
            f"{fresh:.1f} s, {than} n_jobs=1's "
            f"{serial:.1f} s."
        )
    plural = "s" if worker_threads != 1 else ""
    return "\n".join(
        [
            f"`GridSearchCV({f['estimator']}(...), {f['grid']}, cv={f['cv']})`: {fits} fits "
            "and a refit; joblib's workers started beforehand, each warmed up by a one-epoch "
            f"fit; the two searches interleaved, best of "
            f"{count(f['repeats'], 'search', 'searches')} each. joblib's workers "
            f"ran torch on {worker_threads} thread{plural} each (read in the workers), this "
            f'process on {threads}. The "one fit" columns time one fit on a training fold '
            f"with {threads} torch threads (t_all) and with {worker_threads} (t_worker), and "
            f"the bound they put on the ratio: {n_jobs} workers side by side take at best "
            f"t_worker / ({n_jobs} t_all) of the time of n_jobs=1. The last column is the mean "
            "fit time inside the workers, to compare with t_worker.",
            "",
            *table(
                [
                    "problem",
                    "n_jobs=1 (s)",
                    f"n_jobs={n_jobs} (s)",
                    "ratio",
                    "one fit: t_all / t_worker",
                    "best possible ratio",
                    "one fit in a worker",
                ],
                rows,
            ),
            "",
            f"Fresh workers took {start_up:.1f} s to start and finish a first tiny fit (starting "
            "the processes, importing torch, scikit-learn and skae); the searches above ran in "
            "workers started beforehand.",
            "",
            *(f"- {sentence}" for sentence in sentences),
        ]
    )


RENDERERS = {
    "train": render_train,
    "first": render_first,
    "variants": render_variants,
    "vae": render_vae,
    "precision": render_precision,
    "transform": render_transform,
    "memory": render_memory,
    "threads": render_threads,
    "gridsearch": render_gridsearch,
}


def render(results: Path) -> str:
    """The markdown report of the JSON files in ``results``."""
    documents = load(results)
    if not documents:
        raise FileNotFoundError(f"no speed_<section>.json in {results}")
    runs = [document["run"] for document in documents.values()]
    one_run = all(run == runs[0] for run in runs)
    header = ["# skae speed benchmark", ""]
    if any(run.get("quick") for run in runs):
        header += [
            "**Quick mode (`--quick`): tiny problems, run to check that the benchmark "
            "works. These figures measure nothing.**",
            "",
        ]
    if one_run:
        header.append(describe_run(runs[0]))
    else:
        header.append("The sections come from different runs; each names its own.")
    header[-1] += (
        " Everything runs on the CPU (the benchmark hides any GPU, so that skae trains where "
        "its peers do). Each section's figures are in `speed_<section>.json` beside this "
        "report, which `python -m benchmarks.speed.render` writes from them."
    )
    body = []
    for section, document in documents.items():
        text = RENDERERS[section](document["figures"], document["run"])
        if not one_run:
            text = describe_run(document["run"]) + "\n\n" + text
        body.append(f"## {TITLES[section]}\n\n{text}")
    return "\n\n".join(["\n".join(header), *body]) + "\n"


def write(results: Path) -> Path:
    """Write ``results/speed.md`` from the JSON files in ``results``."""
    path = Path(results) / "speed.md"
    path.write_text(render(results))
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed.render", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="directory of the JSON")
    args = parser.parse_args(argv)
    print(write(args.results))


if __name__ == "__main__":
    main()
