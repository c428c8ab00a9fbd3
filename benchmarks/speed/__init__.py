"""Training and inference speed of skae against its peers, one module per section.

Usage, from the repository root::

    python -m benchmarks.speed --epochs 5           # every section, ~15 minutes on 2 cores
    python -m benchmarks.speed --only train threads # some sections
    python -m benchmarks.speed --quick              # every section on tiny problems, to a temp dir
    python -m benchmarks.speed.render               # speed.md again from the JSON

Each section (``train``, ``first``, ``variants``, ``vae``, ``precision``,
``transform``, ``memory``, ``threads``, ``gridsearch``) is a module whose ``measure``
returns its figures; ``__main__`` writes them, with a description of the
run, to ``benchmarks/results/speed_<section>.json``, and :mod:`.render`
writes ``benchmarks/results/speed.md`` from all the JSON files there.  The
report's words (ratios, "faster", "yes") are computed from the figures by
the renderer, so a section rerun alone updates its part of the report.

Same data (Fashion-MNIST's 60,000 training images, or random data of that
shape when the dataset is not installed), same network (784-256-32-256-784
MLP, ReLU, linear code), same batch size (256), optimizer (Adam, lr 1e-3) and
number of epochs for skae, hand-written PyTorch loops and skorch
(``pip install -e ".[bench]"``).  Everything runs on the CPU: the benchmark
hides any GPU from itself and its subprocesses, which skae's
``device="auto"`` would otherwise train on.  Configurations are compared
through :func:`skae.config_context`.  Timings on a busy machine are
meaningless: run it alone.
"""
