"""skae's benchmarks.

Most are scripts (``python benchmarks/vs_pca.py``); the speed benchmark is a
package run from the repository root as ``python -m benchmarks.speed``, and
``python -m benchmarks.profile_training`` uses its helpers.
"""
