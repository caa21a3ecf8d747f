"""Offline production: bake audio files and folders to animation files, exports, alignment, previews.

Entry points for the CLI: ``batch.run_bake`` (``avatar-bridge bake``) and ``preview.run_preview``
(``avatar-bridge preview``). Numpy only on the bake path; pocketsphinx is imported when a
transcript is given, matplotlib and ffmpeg only by the preview.
"""
