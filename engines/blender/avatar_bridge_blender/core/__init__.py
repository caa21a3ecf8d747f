"""Host-free core of the Blender extension: decoding, mapping, smoothing and timing; no bpy."""
