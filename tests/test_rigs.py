"""Rig maps: every preset is detected and maps onto the same canonical skeleton.

A real Bandai Namco demo clip is turned in memory into the rigs the presets
describe (Mixamo, CMU, iClone, SMPL), into other units and into Z-up, and every
variant must give the canonical positions of the original clip. Clips that no
map fits must fail naming what is missing.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from motion import BvhMotion, RigError, canonicalize, load_canonical, read_bvh, write_bvh
from motion.bvh import POSITION_CHANNELS, Skeleton
from motion.features import motion_features
from motion.kinematics import forward_kinematics
from motion.rigs import RigMap, mirror_partners, presets, resolve_rig
from motion.skeleton import INDEX, JOINTS

# Bandai Namco joint -> canonical joint, written out here rather than read from
# the preset, so that a wrong preset entry cannot go unnoticed. The rig has no
# joint for spine2 (the preset places it halfway between Spine and Chest).
BANDAI = {
    "Hips": "pelvis", "Spine": "spine1", "Chest": "spine3", "Neck": "neck", "Head": "head",
    "Shoulder_L": "left_collar", "UpperArm_L": "left_shoulder", "LowerArm_L": "left_elbow", "Hand_L": "left_wrist",
    "Shoulder_R": "right_collar", "UpperArm_R": "right_shoulder", "LowerArm_R": "right_elbow", "Hand_R": "right_wrist",
    "UpperLeg_L": "left_hip", "LowerLeg_L": "left_knee", "Foot_L": "left_ankle", "Toes_L": "left_foot",
    "UpperLeg_R": "right_hip", "LowerLeg_R": "right_knee", "Foot_R": "right_ankle", "Toes_R": "right_foot",
}  # fmt: skip

# Canonical joint -> its name in each rig. "smpl" is the left_hip spelling (the
# canonical names themselves), "smpl_caps" the L_Hip spelling.
RIG_NAMES = {
    "mixamo": {
        "pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
        "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot", "left_foot": "LeftToeBase",
        "left_collar": "LeftShoulder", "left_shoulder": "LeftArm",
        "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
    },
    "cmu": {
        "pelvis": "Hips", "spine1": "Spine", "spine3": "Spine1", "neck": "Neck", "head": "Head",
        "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot", "left_foot": "LeftToeBase",
        "left_collar": "LeftShoulder", "left_shoulder": "LeftArm",
        "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
    },
    "iclone": {
        "pelvis": "CC_Base_Hip", "spine1": "CC_Base_Waist", "spine2": "CC_Base_Spine01", "spine3": "CC_Base_Spine02",
        "neck": "CC_Base_NeckTwist01", "head": "CC_Base_Head",
        "left_hip": "CC_Base_L_Thigh", "left_knee": "CC_Base_L_Calf", "left_ankle": "CC_Base_L_Foot",
        "left_foot": "CC_Base_L_ToeBase", "left_collar": "CC_Base_L_Clavicle", "left_shoulder": "CC_Base_L_Upperarm",
        "left_elbow": "CC_Base_L_Forearm", "left_wrist": "CC_Base_L_Hand",
    },
    "smpl": {name: name for name in JOINTS if not name.startswith("right_")},
    "smpl_caps": {
        "pelvis": "Pelvis", "spine1": "Spine1", "spine2": "Spine2", "spine3": "Spine3", "neck": "Neck", "head": "Head",
        "left_hip": "L_Hip", "left_knee": "L_Knee", "left_ankle": "L_Ankle", "left_foot": "L_Foot",
        "left_collar": "L_Collar", "left_shoulder": "L_Shoulder", "left_elbow": "L_Elbow", "left_wrist": "L_Wrist",
    },
}  # fmt: skip
RIG_ROOT = {"mixamo": "Root", "cmu": "Root", "iclone": "CC_Base_BoneRoot", "smpl": "root", "smpl_caps": "Root"}
RIG_PREFIX = {"mixamo": "mixamorig:"}
RIG_PRESET = {"mixamo": "mixamo", "cmu": "cmu", "iclone": "iclone", "smpl": "smpl", "smpl_caps": "smpl"}
RIG_UNITS = {"mixamo": "cm", "cmu": "cm", "iclone": "cm", "smpl": "m", "smpl_caps": "m"}  # SMPL declares metres
VARIANTS = list(RIG_NAMES)

# The world transform (x, y, z) -> (x, -z, y) that turns a Y-up clip into a Z-up one.
Y_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
FROM_CM = {"m": 0.01, "cm": 1.0, "inch": 1 / 2.54}  # factor that turns a length in cm into these units


# --- building variants of a clip ---------------------------------------------------------------------------------


def right_name(rig: str, canonical: str) -> str:
    """The right-side twin of a rig's left-side joint name."""
    left = RIG_NAMES[rig][canonical]
    if rig == "smpl":
        return canonical.replace("left_", "right_")
    for a, b in (("Left", "Right"), ("_L_", "_R_"), ("L_", "R_")):
        if a in left:
            return left.replace(a, b, 1)
    raise AssertionError(f"no right side for {left}")


def rig_name(rig: str, canonical: str) -> str:
    if canonical.startswith("right_"):
        name = right_name(rig, "left_" + canonical[len("right_") :])
    else:
        name = RIG_NAMES[rig][canonical]
    return RIG_PREFIX.get(rig, "") + name


def renamed(motion: BvhMotion, names: dict[str, str]) -> BvhMotion:
    """The same motion with joints renamed (names not in ``names`` are kept)."""
    skeleton = dataclasses.replace(motion.skeleton, names=tuple(names.get(n, n) for n in motion.skeleton.names))
    return BvhMotion(skeleton, motion.frame_time, motion.values.copy(), motion.source)


def with_joint_above(motion: BvhMotion, child: str, name: str, fraction: float) -> BvhMotion:
    """Insert joint ``name`` between ``child`` and its parent, ``fraction`` of the way along the bone.

    The new joint has position channels (a fraction of the child's local
    translation, every frame) and zero rotations, and the child keeps the rest
    of the translation, so every existing joint keeps its world position and
    the new one lies exactly on the bone.
    """
    sk = motion.skeleton
    k = sk.index(child)
    translation, _ = motion.local_pose()
    remap = [i + (i >= k) for i in range(sk.n_joints)]  # old index -> new index
    parents = [remap[p] if p >= 0 else -1 for p in sk.parents]
    parents.insert(k, parents[k])
    parents[k + 1] = k
    offsets = sk.offsets.copy()
    offsets[k] *= 1 - fraction
    chans = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
    skeleton = Skeleton(
        names=sk.names[:k] + (name,) + sk.names[k:],
        parents=tuple(parents),
        offsets=np.insert(offsets, k, sk.offsets[k] * fraction, axis=0),
        channels=sk.channels[:k] + (chans,) + sk.channels[k:],
        end_sites=np.insert(sk.end_sites, k, 0.0, axis=0),
    )
    values = motion.values.copy()
    start = sk.channel_starts[k]
    for i, channel in enumerate(sk.channels[k]):
        if channel in POSITION_CHANNELS:
            values[:, start + i] *= 1 - fraction
    new = np.zeros((motion.n_frames, 6))
    new[:, :3] = translation[:, k] * fraction
    return BvhMotion(skeleton, motion.frame_time, np.insert(values, [start], new, axis=1), motion.source)


def scaled(motion: BvhMotion, factor: float) -> BvhMotion:
    """The motion in other length units: offsets, end sites and position channels times ``factor``."""
    sk = motion.skeleton
    skeleton = dataclasses.replace(sk, offsets=sk.offsets * factor, end_sites=sk.end_sites * factor)
    values = motion.values.copy()
    for start, chans in zip(sk.channel_starts, sk.channels):
        for i, channel in enumerate(chans):
            if channel in POSITION_CHANNELS:
                values[:, start + i] *= factor
    return BvhMotion(skeleton, motion.frame_time, values, motion.source)


def z_up(motion: BvhMotion) -> BvhMotion:
    """The motion in a Z-up world: the root's translation and rotation turned by ``Y_TO_Z_UP``.

    The root's rotation channels become Z Y X: in the Bandai Z X Y order a
    quarter turn about X is the singular middle angle (gimbal lock), where a
    BVH writer may lose precision; Z Y X is also what many Z-up exporters write.
    """
    translation, rotation = motion.local_pose()
    sk = motion.skeleton
    mats = rotation.as_matrix().reshape(motion.n_frames, sk.n_joints, 3, 3)
    translation[:, 0] = translation[:, 0] @ Y_TO_Z_UP.T
    mats[:, 0] = Y_TO_Z_UP @ mats[:, 0]
    root_channels = tuple(c for c in sk.channels[0] if c in POSITION_CHANNELS) + ("Zrotation", "Yrotation", "Xrotation")
    skeleton = dataclasses.replace(sk, channels=(root_channels,) + sk.channels[1:])
    reordered = BvhMotion(skeleton, motion.frame_time, np.zeros((motion.n_frames, skeleton.n_channels)), motion.source)
    return reordered.with_local_pose(translation, type(rotation).from_matrix(mats.reshape(-1, 3, 3)))


def rig_variant(base: BvhMotion, rig: str) -> BvhMotion:
    """The Bandai clip as a ``rig`` file: renamed, with the joints that rig has and Bandai lacks.

    Presets that give spine2 a joint of its own (Mixamo Spine1, iClone
    CC_Base_Spine01, SMPL spine2) get one inserted halfway between Spine and
    Chest, where the Bandai preset interpolates spine2, so all 22 canonical
    joints must match the original exactly. CMU keeps interpolating spine2
    between Spine and Spine1 (= Chest) and gets the zero-length LowerBack,
    LHipJoint and RHipJoint that cgspeed files have.
    """
    names = {src: rig_name(rig, canonical) for src, canonical in BANDAI.items()}
    names["joint_Root"] = RIG_PREFIX.get(rig, "") + RIG_ROOT[rig]
    motion = renamed(base, names)
    if "spine2" in RIG_NAMES[rig]:
        motion = with_joint_above(motion, names["Chest"], rig_name(rig, "spine2"), 0.5)
    if rig == "cmu":
        motion = with_joint_above(motion, names["Spine"], "LowerBack", 0.0)
        motion = with_joint_above(motion, names["UpperLeg_L"], "LHipJoint", 0.0)
        motion = with_joint_above(motion, names["UpperLeg_R"], "RHipJoint", 0.0)
    if RIG_UNITS[rig] == "m":
        motion = scaled(motion, FROM_CM["m"])
    return motion


def assert_same_positions(actual: np.ndarray, expected: np.ndarray, atol: float, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    err = np.abs(actual - expected).max(axis=(0, 2))
    worst = int(np.argmax(err))
    assert err[worst] <= atol, f"{what}: {JOINTS[worst]} is off by up to {err[worst]:.2e} m (tolerance {atol:.0e})"


# --- fixtures ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(clip) -> BvhMotion:
    return read_bvh(clip)


@pytest.fixture(scope="module")
def reference(base) -> np.ndarray:
    """Canonical positions of the untouched Bandai clip, the target for every variant."""
    canonical = canonicalize(base)
    assert (canonical.rig, canonical.units, canonical.up) == ("bandai_namco", "cm", "y")
    return canonical.positions


# --- presets -----------------------------------------------------------------------------------------------------


def test_every_preset_has_a_variant_here():
    assert set(RIG_PRESET.values()) | {"bandai_namco"} == set(presets())
    assert sorted(BANDAI.values()) == sorted(set(JOINTS) - {"spine2"})


def test_bandai_reference_is_upright_and_faces_forward(reference):
    """A left/right swap in the map would turn the body round: toes would point to -Z."""
    frame = reference[0]
    assert frame[INDEX["head"], 1] - frame[INDEX["pelvis"], 1] > 0.4  # head well above the pelvis
    assert frame[INDEX["left_hip"], 0] > frame[INDEX["right_hip"], 0]  # left is +X facing +Z
    for side in ("left", "right"):
        assert frame[INDEX[f"{side}_foot"], 2] > frame[INDEX[f"{side}_ankle"], 2], f"{side} toes point backwards"
    assert abs(reference[:, [INDEX[n] for n in ("left_foot", "right_foot")], 1].min()) < 1e-9  # on the floor


@pytest.mark.parametrize("rig", VARIANTS)
def test_preset_is_detected_and_maps_like_the_original(base, reference, rig):
    motion = rig_variant(base, rig)
    assert resolve_rig(motion.skeleton).rig.name == RIG_PRESET[rig]
    canonical = canonicalize(motion)
    assert (canonical.rig, canonical.units, canonical.up) == (RIG_PRESET[rig], RIG_UNITS[rig], "y")
    assert_same_positions(canonical.positions, reference, 1e-6, rig)


@pytest.mark.parametrize("rig", VARIANTS)
def test_preset_named_explicitly_gives_the_same_result(base, reference, rig):
    canonical = canonicalize(rig_variant(base, rig), rig=RIG_PRESET[rig])
    assert canonical.rig == RIG_PRESET[rig]
    assert_same_positions(canonical.positions, reference, 1e-6, f"{rig} by name")


def test_spine2_joint_of_its_own_is_used_not_interpolated(base, reference):
    """Moving Mixamo's Spine1 off the Spine-Chest midpoint moves canonical spine2 and nothing else."""
    off_centre = renamed(base, {src: rig_name("mixamo", c) for src, c in BANDAI.items()})
    off_centre = with_joint_above(off_centre, "mixamorig:Spine2", "mixamorig:Spine1", 0.2)
    positions = canonicalize(off_centre).positions
    spine1, spine2, spine3 = (INDEX[n] for n in ("spine1", "spine2", "spine3"))
    others = [i for i in range(len(JOINTS)) if i != spine2]
    assert_same_positions(positions[:, others], reference[:, others], 1e-6, "mixamo, other joints")
    expected = reference[:, spine1] + 0.2 * (reference[:, spine3] - reference[:, spine1])
    assert np.abs(positions[:, spine2] - expected).max() < 1e-6
    assert np.abs(positions[:, spine2] - reference[:, spine2]).max() > 1e-3


def test_namespaced_names_survive_a_file_round_trip(base, reference, tmp_path):
    path = tmp_path / "mixamo.bvh"
    write_bvh(path, rig_variant(base, "mixamo"))
    again = read_bvh(path)
    assert "mixamorig:LeftForeArm" in again.skeleton.names
    canonical = load_canonical(path)
    assert canonical.rig == "mixamo"
    assert_same_positions(canonical.positions, reference, 1e-5, "mixamo file")


def test_matching_ignores_case(base, reference):
    motion = rig_variant(base, "mixamo")
    motion = renamed(motion, {n: n.upper() if "Left" in n else n.lower() for n in motion.skeleton.names})
    assert "MIXAMORIG:LEFTFOREARM" in motion.skeleton.names and "mixamorig:hips" in motion.skeleton.names
    canonical = canonicalize(motion)
    assert canonical.rig == "mixamo"
    assert_same_positions(canonical.positions, reference, 1e-6, "mixamo, other case")


# --- units and up axis -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "up"), [("m", "y"), ("inch", "y"), ("cm", "z"), ("m", "z"), ("inch", "z")]
)  # fmt: skip
def test_units_and_up_axis_are_detected(base, reference, units, up):
    motion = scaled(rig_variant(base, "mixamo"), FROM_CM[units])
    if up == "z":
        motion = z_up(motion)
        world, _ = forward_kinematics(motion)
        head, hips = (motion.skeleton.index(f"mixamorig:{n}") for n in ("Head", "Hips"))
        head_minus_hips = world[0, head] - world[0, hips]
        assert np.argmax(np.abs(head_minus_hips)) == 2, "the Z-up variant is not Z-up"
    canonical = canonicalize(motion)
    assert (canonical.units, canonical.up) == (units, up)
    assert_same_positions(canonical.positions, reference, 1e-5, f"mixamo in {units}, {up} up")


def test_z_up_inch_file_round_trip(base, reference, tmp_path):
    path = tmp_path / "zup_inch.bvh"
    write_bvh(path, z_up(scaled(rig_variant(base, "mixamo"), FROM_CM["inch"])))
    canonical = load_canonical(path)
    assert (canonical.rig, canonical.units, canonical.up) == ("mixamo", "inch", "z")
    assert_same_positions(canonical.positions, reference, 1e-5, "mixamo file, inch, Z up")


def test_caller_units_and_up_override_the_preset(base, reference):
    """iClone declares cm; a caller who knows better wins."""
    motion = z_up(scaled(rig_variant(base, "iclone"), FROM_CM["m"]))
    canonical = canonicalize(motion, units="m", up="z")
    assert (canonical.units, canonical.up) == ("m", "z")
    assert_same_positions(canonical.positions, reference, 1e-5, "iclone in m, Z up, declared by the caller")
    assert np.allclose(canonicalize(motion, up="z").positions, reference * 0.01, atol=1e-7)  # preset's cm
    bandai_z_up = canonicalize(z_up(base), up="z")  # the Bandai preset declares Y up
    assert (bandai_z_up.rig, bandai_z_up.up) == ("bandai_namco", "z")
    assert_same_positions(bandai_z_up.positions, reference, 1e-6, "Bandai, Z up, declared by the caller")


def test_undetectable_units_must_be_declared(base):
    with pytest.raises(RigError, match="cannot detect units"):
        canonicalize(scaled(rig_variant(base, "mixamo"), 10.0))  # millimetres


# --- user rig maps -----------------------------------------------------------------------------------------------

# A rig no preset knows (Daz / Poser style names), with no spine2 joint of its own.
DAZ = {
    "Hips": "hip", "Spine": "abdomen", "Chest": "chest", "Neck": "neck", "Head": "head",
    "Shoulder_L": "lCollar", "UpperArm_L": "lShldr", "LowerArm_L": "lForeArm", "Hand_L": "lHand",
    "Shoulder_R": "rCollar", "UpperArm_R": "rShldr", "LowerArm_R": "rForeArm", "Hand_R": "rHand",
    "UpperLeg_L": "lThigh", "LowerLeg_L": "lShin", "Foot_L": "lFoot", "Toes_L": "lToe",
    "UpperLeg_R": "rThigh", "LowerLeg_R": "rShin", "Foot_R": "rFoot", "Toes_R": "rToe",
}  # fmt: skip


def daz_map(t: float = 0.5, **extra) -> dict:
    joints: dict[str, object] = {BANDAI[src]: name for src, name in DAZ.items()}
    joints["spine2"] = {"between": ["abdomen", "chest"], "t": t}
    return {"joints": joints, **extra}


def write_map(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_unknown_rig_fits_a_user_json_map(base, reference, tmp_path):
    motion = renamed(base, DAZ)
    with pytest.raises(RigError, match="no preset fits"):
        canonicalize(motion)
    path = write_map(tmp_path, "daz", daz_map())
    for rig in (path, str(path)):
        canonical = canonicalize(motion, rig=rig)
        assert (canonical.rig, canonical.units, canonical.up) == ("daz", "cm", "y")  # named after the file
        assert_same_positions(canonical.positions, reference, 1e-6, f"user map as {type(rig).__name__}")


def test_user_map_between_weight_is_honoured(base, reference, tmp_path):
    positions = canonicalize(renamed(base, DAZ), rig=write_map(tmp_path, "daz", daz_map(t=0.25))).positions
    spine1, spine2, spine3 = (INDEX[n] for n in ("spine1", "spine2", "spine3"))
    expected = reference[:, spine1] + 0.25 * (reference[:, spine3] - reference[:, spine1])
    assert np.abs(positions[:, spine2] - expected).max() < 1e-6
    others = [i for i in range(len(JOINTS)) if i != spine2]
    assert_same_positions(positions[:, others], reference[:, others], 1e-6, "t=0.25, other joints")


def test_user_map_declared_units_and_name_win(base, reference, tmp_path):
    """The file is in cm; a map that says metres is believed (so the body is 100 times too big)."""
    path = write_map(tmp_path, "daz", daz_map(name="daz_genesis", units="m", up="y"))
    canonical = canonicalize(renamed(base, DAZ), rig=path)
    assert (canonical.rig, canonical.units, canonical.up) == ("daz_genesis", "m", "y")
    assert_same_positions(canonical.positions, reference * 100, 1e-4, "declared metres")


def with_entry(canonical: str, entry: object) -> dict:
    data = daz_map()
    data["joints"][canonical] = entry
    return data


BAD_ENTRY = r"spine2 must be a joint name, a list of names, or \{\"between\""
INVALID_MAPS = {
    "unknown-canonical-name": (with_entry("left_elbw", "lForeArm"), r"unknown canonical joint.*left_elbw"),
    "bad-units": (daz_map(units="feet"), r"units must be 'm', 'cm' or 'inch', got 'feet'"),
    "bad-up": (daz_map(up="x"), r"up must be 'y' or 'z', got 'x'"),
    "joints-not-object": ({"joints": ["hip", "abdomen"]}, r"'joints' must be an object"),
    "map-not-object": ([["pelvis", "hip"]], r"must be a JSON object, got list"),
    "not-json": ('{"joints": {"pelvis": "hip",', r"cannot read rig map"),
    "entry-a-number": (with_entry("spine2", 5), BAD_ENTRY),
    "between-one-joint": (with_entry("spine2", {"between": ["abdomen"]}), BAD_ENTRY),
    "between-t-not-a-number": (with_entry("spine2", {"between": ["abdomen", "chest"], "t": "half"}), BAD_ENTRY),
    "between-t-outside-0-1": (with_entry("spine2", {"between": ["abdomen", "chest"], "t": 1.5}), BAD_ENTRY),
    "requires-a-string": (daz_map(requires="abdomen"), r"'requires' must be a list of joint names"),
}


@pytest.mark.parametrize(("data", "message"), INVALID_MAPS.values(), ids=INVALID_MAPS.keys())
def test_invalid_user_map_is_a_clear_rig_error(base, tmp_path, data, message):
    path = write_map(tmp_path, "broken_map", data)
    with pytest.raises(RigError, match=message) as err:
        canonicalize(renamed(base, DAZ), rig=path)
    assert "broken_map" in str(err.value), "the error must name the map"


def test_unknown_rig_name_lists_the_presets(base):
    with pytest.raises(RigError, match="unknown rig 'mixamo2'") as err:
        canonicalize(base, rig="mixamo2")
    for name in presets():
        assert name in str(err.value)


# --- skeletons no map fits ---------------------------------------------------------------------------------------


def test_nonsense_names_fail_naming_missing_canonical_joints(base):
    motion = renamed(base, {name: f"bone{i:02d}" for i, name in enumerate(base.skeleton.names)})
    with pytest.raises(RigError) as err:
        canonicalize(motion)
    message = str(err.value)
    assert "no preset fits" in message
    assert "missing canonical joint" in message
    for canonical in ("pelvis", "head", "left_elbow", "right_ankle"):
        assert canonical in message
    assert "bone00" in message  # and shows what the skeleton does have


@pytest.mark.parametrize("rig", ["bandai", *VARIANTS])
def test_missing_left_elbow_is_named(base, rig):
    motion = base if rig == "bandai" else rig_variant(base, rig)
    elbow = "LowerArm_L" if rig == "bandai" else rig_name(rig, "left_elbow")
    motion = renamed(motion, {elbow: elbow + "Twist"})  # any name the map does not know
    preset = "bandai_namco" if rig == "bandai" else RIG_PRESET[rig]
    with pytest.raises(RigError, match="no preset fits") as auto:
        canonicalize(motion)
    with pytest.raises(RigError) as named:
        canonicalize(motion, rig=preset)
    for err in (auto, named):
        message = str(err.value)
        assert f"rig '{preset}' does not fit" in message  # the closest preset is the right one
        missing = message.split("does not fit this skeleton:")[1]
        assert missing.strip().startswith("missing canonical joint(s): left_elbow (")
        assert "right_elbow" not in missing and "left_wrist" not in missing  # only the missing one


def test_cmu_needs_only_the_joints_its_map_names(base, reference, tmp_path):
    """A CMU-named file without LHipJoint, RHipJoint and LowerBack (Z-up, inches) is CMU: the preset asks for
    nothing the canonical mapping does not use."""
    names = {src: rig_name("cmu", canonical) for src, canonical in BANDAI.items()}
    motion = z_up(scaled(renamed(base, names | {"joint_Root": "Root"}), FROM_CM["inch"]))
    path = tmp_path / "cmu_minimal.bvh"
    write_bvh(path, motion)
    canonical = load_canonical(path)
    assert (canonical.rig, canonical.units, canonical.up) == ("cmu", "inch", "z")
    assert_same_positions(canonical.positions, reference, 1e-4, "CMU without hip joints, Z-up inches")


def test_a_mixamo_file_is_still_mixamo_though_the_cmu_map_fits_it_too(base):
    motion = rig_variant(base, "mixamo")
    assert presets()["cmu"].bind(motion.skeleton) is not None  # every joint CMU names is there
    assert canonicalize(motion).rig == "mixamo"


def test_coincident_spine_joint_is_mapped_past(base, reference):
    """A Mixamo rig whose Spine1 sits exactly on Spine (zero offset, as some exports have): spine2 is placed
    halfway between Spine and Spine2, which is where the Bandai preset places it, so the result is the original."""
    names = {src: rig_name("mixamo", canonical) for src, canonical in BANDAI.items()}
    motion = renamed(base, names | {"joint_Root": "mixamorig:Root"})
    motion = with_joint_above(motion, names["Chest"], "mixamorig:Spine1", 0.0)  # on Spine, not on the bone
    canonical = canonicalize(motion)
    assert canonical.rig == "mixamo"
    assert_same_positions(canonical.positions, reference, 1e-5, "Mixamo with a zero-offset spine joint")
    assert np.isfinite(motion_features(canonical.positions, canonical.fps)).all()


def test_joints_that_cannot_be_separated_are_named(base):
    """The whole spine mapped onto the pelvis: no two distinct neighbours to place a joint between, so the error
    names the joints (rather than a scipy traceback about zero-norm quaternions)."""
    data = {"name": "flat", "joints": {**presets()["bandai_namco"].joints, "spine1": "Hips", "spine2": "Hips",
                                       "spine3": "Hips"}}  # fmt: skip
    with pytest.raises(RigError, match=r"joints at the same place \(pelvis and spine1"):
        canonicalize(base, rig=RigMap.from_dict(data))


# --- mirror partners ---------------------------------------------------------------------------------------------


def expected_partners(skeleton: Skeleton, pairs: list[tuple[str, str]]) -> np.ndarray:
    partners = np.arange(skeleton.n_joints)
    for left, right in pairs:
        i, j = skeleton.index(left), skeleton.index(right)
        partners[i], partners[j] = j, i
    return partners


@pytest.mark.parametrize("rig", ["bandai", *VARIANTS])
def test_mirror_partners_pair_left_and_right(base, rig):
    if rig == "bandai":
        motion = base
        pairs = [(src, src[:-1] + "R") for src in BANDAI if src.endswith("_L")]
    else:
        motion = rig_variant(base, rig)
        sides = [c[len("left_") :] for c in JOINTS if c.startswith("left_")]
        pairs = [(rig_name(rig, "left_" + s), rig_name(rig, "right_" + s)) for s in sides]
        if rig == "cmu":
            pairs.append(("LHipJoint", "RHipJoint"))
    skeleton = motion.skeleton
    partners = mirror_partners(skeleton)
    expected = expected_partners(skeleton, pairs)
    wrong = [f"{n} -> {skeleton.names[p]}" for n, p, e in zip(skeleton.names, partners, expected) if p != e]
    assert not wrong, f"{rig}: wrong mirror partners: {wrong}"
    assert len(pairs) == 8 + (rig == "cmu")


def test_mirror_partners_examples():
    names = (
        "mixamorig:Hips", "mixamorig:LeftArm", "mixamorig:RightArm", "CC_Base_L_Hand", "CC_Base_R_Hand",
        "Hand_L", "Hand_R", "L_Hip", "R_Hip", "left_wrist", "right_wrist", "LHipJoint", "RHipJoint", "Head",
    )  # fmt: skip
    n = len(names)
    skeleton = Skeleton(names, (-1,) + (0,) * (n - 1), np.zeros((n, 3)), ((),) * n, np.zeros((n, 3)))
    partners = [names[p] for p in mirror_partners(skeleton)]
    assert dict(zip(names, partners)) == {
        "mixamorig:Hips": "mixamorig:Hips", "mixamorig:LeftArm": "mixamorig:RightArm",
        "mixamorig:RightArm": "mixamorig:LeftArm", "CC_Base_L_Hand": "CC_Base_R_Hand",
        "CC_Base_R_Hand": "CC_Base_L_Hand", "Hand_L": "Hand_R", "Hand_R": "Hand_L", "L_Hip": "R_Hip",
        "R_Hip": "L_Hip", "left_wrist": "right_wrist", "right_wrist": "left_wrist", "LHipJoint": "RHipJoint",
        "RHipJoint": "LHipJoint", "Head": "Head",
    }  # fmt: skip
