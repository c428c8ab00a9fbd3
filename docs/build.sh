#!/usr/bin/env bash
# Build the HTML documentation, gallery included; any warning fails the build.
# Needs the docs extra: pip install -e ".[docs]" (in the active environment,
# or point PYTHON at the interpreter that has it: PYTHON=.venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
rm -rf docs/_build docs/auto_examples docs/generated
"${PYTHON:-python}" -m sphinx -W --keep-going -b html docs docs/_build/html "$@"
echo "open docs/_build/html/index.html"
