"""Audio sources: microphone capture, files played in real time, raw PCM on stdin; resampling."""
