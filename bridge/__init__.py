"""avatar-bridge: streaming speech to facial animation (articulation, ARKit-52, visemes) over ZeroMQ/OSC."""

__version__ = "0.1.1"
__all__ = ["__version__"]
