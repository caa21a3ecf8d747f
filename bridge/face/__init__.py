"""Face solver: articulation -> ARKit-52, visemes, VRM presets, joints; moods and secondary motion.

See docs/face.md for the solver, the fusion rules and the rig profile format.
"""

from bridge.face.engine import FaceEngine, build_face_solver
from bridge.face.profiles import Profile, load_profile
from bridge.face.solver import mouth_opening

__all__ = ["FaceEngine", "Profile", "build_face_solver", "load_profile", "mouth_opening"]
