"""Acoustic features for the articulation model (pure numpy, causal, streaming == offline)."""
