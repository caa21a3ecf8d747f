"""avatar-bridge: streaming speech to facial animation (articulation, ARKit-52, visemes) over ZeroMQ/OSC."""

import os

# numpy's OpenBLAS starts a thread per core, which only costs on the bridge's small matrices: with one,
# a live 10 ms hop takes 0.46 ms instead of 0.70, and `bake -j 2` runs twice as fast instead of slower
# than one worker (docs/benchmarks.md). Read when numpy loads, so it is set here, before any import of
# it; a value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.1"
__all__ = ["__version__"]
