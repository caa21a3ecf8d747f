"""Dev-time training corpus: synthetic speech with exact phone timing (espeak-ng + MBROLA).

Never imported by the live path (run/bake); ``avatar-bridge train`` uses it.
"""
