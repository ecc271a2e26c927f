"""motion: any humanoid BVH -> canonical skeleton -> model features (numpy, no torch).

The flow, one module a step:

    bvh.read_bvh        BVH text -> BvhMotion (validated; bvhio parses the hierarchy)
    kinematics          forward kinematics -> world joint positions
    rigs                rig maps (presets in rigs/*.json) -> the 22 canonical joints
    canonical           units, up axis, fps, floor and facing -> CanonicalMotion
    features            263-d HumanML3D-style features per frame transition
    body_parts          the 8 body parts as feature columns (body_parts.json)
    body                the reference body every indexed or queried motion is encoded on
    normalize           mean / std fitted on the training split
    mirror              left/right mirror of positions, features, BVH and labels
    resample            fps changes and the 196-frame window policy
    sources             the clips of a folder and their metadata (the Bandai Namco layout, any folder)

Training (model/) and serving (server/) both import this package.
"""

from motion.bvh import BvhError, BvhMotion, Skeleton, read_bvh, write_bvh
from motion.canonical import CanonicalMotion, canonicalize, load_canonical
from motion.features import FEATURE_DIM, LAYOUT, motion_features
from motion.rigs import RigError, RigMap

__all__ = [
    "FEATURE_DIM",
    "LAYOUT",
    "BvhError",
    "BvhMotion",
    "CanonicalMotion",
    "RigError",
    "RigMap",
    "Skeleton",
    "canonicalize",
    "load_canonical",
    "motion_features",
    "read_bvh",
    "write_bvh",
]
