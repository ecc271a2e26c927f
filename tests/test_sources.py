"""Source folders: the Bandai Namco layout and any folder, with metadata from paths, sidecars and NAME.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import DEMO

from motion.mirror import MIRROR_PREFIX
from motion.sources import BANDAI_NAMCO, clip_id, find_clips, folder_clips, path_words


def test_path_words():
    assert path_words(Path("Locomotion/Basketball_Dribble_02.bvh")) == "locomotion basketball dribble"
    assert path_words(Path("fightMoves/HighKick-left.bvh")) == "fight moves high kick left"
    assert path_words(Path("walk/walk_01.bvh")) == "walk"


def test_the_demo_library_is_the_bandai_layout_with_labels():
    clips, problems = folder_clips(DEMO)
    bandai = {c.id: c for c in find_clips(DEMO)}
    assert not problems and [c.id for c in clips] == sorted(bandai)
    for clip in clips:
        m = clip.metadata
        assert (m.content, m.style) == (bandai[clip.id].content, bandai[clip.id].style)
        assert m.licence == BANDAI_NAMCO and m.source == "bandai-namco" and m.caption


def test_any_folder_with_sidecars_and_per_file_json(tmp_path, clip):
    root = tmp_path / "my-mocap"
    for rel in ("Locomotion/Basketball_Dribble_02.bvh", "Locomotion/Walk_Happy.bvh", "Fight/Kick/Kick_01.bvh",
                "Fight/Kick/kick_01.bvh", "top.bvh"):  # fmt: skip
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clip, root / rel)
    (root / "Locomotion" / "motionsearch.csv").write_text(
        'file,description,tags,licence\nBasketball_Dribble_02.bvh,dribbles a ball while walking,"sport; ball",CC0\n'
    )
    (root / "Fight" / "Kick" / "motionsearch.json").write_text(
        json.dumps({"Kick_01.bvh": {"description": "a high kick", "tags": ["fight", "kick"], "style": "angry"}})
    )
    (root / "Fight" / "Kick" / "Kick_01.json").write_text(json.dumps({"description": "a front kick"}))
    clips, problems = folder_clips(root)
    assert not problems
    by_path = {c.path.relative_to(root).as_posix(): c for c in clips}
    dribble = by_path["Locomotion/Basketball_Dribble_02.bvh"]
    assert dribble.id == "Locomotion.Basketball_Dribble_02"
    m = dribble.metadata
    assert m.words == "locomotion basketball dribble" and m.description == "dribbles a ball while walking"
    assert m.tags == ("sport", "ball") and m.licence == "CC0" and m.source == "my-mocap"
    assert m.source_folder == "Locomotion" and m.caption == m.description
    kick = by_path["Fight/Kick/Kick_01.bvh"].metadata  # NAME.json overrides the sidecar, field by field
    assert (kick.description, kick.tags, kick.style) == ("a front kick", ("fight", "kick"), "angry")
    walk = by_path["Locomotion/Walk_Happy.bvh"].metadata
    assert walk.words == "locomotion walk happy" and walk.caption == walk.words and not walk.description
    assert by_path["top.bvh"].metadata.source_folder == ""
    ids = [c.id for c in clips]
    assert len(set(ids)) == len(ids)


def test_ids_never_collide_with_each_other_or_a_mirror(tmp_path, clip):
    for name in ("walk.bvh", f"{MIRROR_PREFIX}walk.bvh", "a/b.bvh", "a.b.bvh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clip, tmp_path / name)
    ids = [c.id for c in folder_clips(tmp_path)[0]]
    assert len(set(ids)) == 4
    assert not {MIRROR_PREFIX + i for i in ids} & set(ids)
    assert clip_id(Path("x" * 300 + ".bvh")).__len__() <= 128


@pytest.mark.parametrize(
    "name, text",
    [("motionsearch.json", "{not json"), ("motionsearch.csv", "name,description\nx.bvh,y\n"),
     ("motionsearch.json", json.dumps([{"file": "a.bvh", "tags": 3}]))],
)  # fmt: skip
def test_an_unreadable_sidecar_is_reported_and_the_clips_still_listed(tmp_path, clip, name, text):
    shutil.copyfile(clip, tmp_path / "a.bvh")
    (tmp_path / name).write_text(text)
    clips, problems = folder_clips(tmp_path)
    assert [c.id for c in clips] == ["a"] and list(problems) == [str(tmp_path / name)]
