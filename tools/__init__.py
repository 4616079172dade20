"""tools: scripts that serve the project but measure nothing (benchmarks live in bench/).

seed_loop is the tutorial's DataLoader training loop, the baseline bench/bench_training.py runs
beside fmnist_lib; screenshots drives Chromium through every page and is the only writer of
docs/screenshots/ (`python -m tools.screenshots`).
"""
