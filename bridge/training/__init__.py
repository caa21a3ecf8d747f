"""Torch training of the articulation model; imported only by ``avatar-bridge train``."""
