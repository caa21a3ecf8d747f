"""The Blender layer: properties, preferences, operators, panel and the live receive timer."""
