"""Metadata in the ranking: the fusion rule, metadata strings, the free-form query set, and the live server
(real ONNX Runtime sentence graph, real Qdrant Edge metadata vectors, gRPC on loopback)."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from eval.freeform import load_queries, score
from motion.sources import ClipMetadata, path_words
from motionsearch.v1 import motionsearch_pb2 as pb
from motionsearch.v1 import motionsearch_pb2_grpc as pb_grpc
from preprocess.captions import all_captions, styles
from server.client import main as client_main
from server.encoders import Encoders
from server.fusion import DEFAULT, WORDLESS, Fusion, fuse
from server.index import SearchFilter, open_index
from server.library import ClipInfo, Library
from server.metadata import (
    MOTION_SHARE,
    action_vectors,
    action_words,
    describe,
    folders,
    label_words,
    metadata_text,
    metadata_vectors,
    mirrored,
)
from server.serve import build_server, source_clips
from server.service import Limits, MotionSearchServicer

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"

DESCRIPTION = "take fourteen of the Tuesday capture session, actor holds an umbrella prop"


def test_fuse_rrf_and_weighted():
    learned = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    metadata = [("c", 0.6), ("d", 0.5), ("a", 0.1)]
    for method in ("rrf", "weighted"):
        assert [k for k, _ in fuse(learned, metadata, Fusion(method, 0.0))][:3] == ["a", "b", "c"]
        assert [k for k, _ in fuse(learned, metadata, Fusion(method, 1.0))][:3] == ["c", "d", "a"]
        both = fuse(learned, metadata, Fusion(method, 0.5))
        assert {k for k, _ in both} == {"a", "b", "c", "d"} and both[0][0] in ("a", "c")  # in both lists first
    for method, weight in (("rrf", math.nan), ("rrf", 1.5), ("weighted", -0.1), ("max", 0.5)):
        with pytest.raises(ValueError):
            Fusion(method, weight)


def test_metadata_strings():
    assert path_words(Path("walkTurnLeft-take3.bvh")) == "walk turn left take"
    assert describe(
        ClipMetadata("props umbrella take", "An actor twirls an umbrella.", ("prop",), "walk", "happy")
    ) == ("An actor twirls an umbrella. walk happy. props umbrella take. prop")
    walks = "The actor walks forward slowly."  # a motion caption: only for clips that say nothing of their motion
    assert describe(ClipMetadata("take"), walks) == "take. The actor walks forward slowly"
    assert walks.rstrip(".") not in describe(ClipMetadata("take", content="walk"), walks)
    assert walks.rstrip(".") not in describe(ClipMetadata("take", "A described take."), walks)
    assert label_words("wave-left-hand", "tired") == "wave left hand tired"
    assert metadata_text("A person waves.", "", "wave left hand") == "A person waves. wave left hand"
    assert mirrored("Wave the LEFT hand, then the right; leftover") == "Wave the RIGHT hand, then the left; leftover"
    assert folders("a/b/c") == ["a", "a/b", "a/b/c"] and folders(".") == [] and folders("") == []


def test_the_action_weighs_in_the_metadata_vector(onnx_bundle):
    call = action_words(ClipMetadata("take", content="call", style="tired"))
    assert call[0] == "call" and "beckons someone to come over" in call and "summon" in call  # grammar and synonyms
    assert not any("tired" in w for w in call)
    assert action_words(ClipMetadata(content="basketball-dribble")) == ()  # a label of its own: in the text
    assert action_words(ClipMetadata("take", "A described take."), ("A person walks.",)) == ()
    assert action_words(ClipMetadata("take"), ("A person walks.", "walk")) == ("A person walks.", "walk")  # wordless
    assert action_words(ClipMetadata(content="bow"), ("A person walks.",))[0] == "bow"  # its label says it
    encode = Encoders.open(onnx_bundle).encode_sentences
    text = describe(ClipMetadata(content="walk-left", style="tired"))
    words = action_words(ClipMetadata(content="walk-left"))
    action = action_vectors(encode, words)
    centroid = encode(list(words)).mean(axis=0)
    assert float(action[0] @ centroid) / float(centroid @ centroid) ** 0.5 > 0.9999  # the unit mean of the phrases
    mirrored_words = action_words(ClipMetadata(content="walk-right"))
    assert float(action[1] @ action_vectors(encode, mirrored_words)[0]) > 0.99  # the mirror's: left and right swapped
    own, mirror = metadata_vectors(encode, text, action)
    plain = encode([text])[0]
    assert abs(float(own @ own) - 1) < 1e-5 and abs(float(mirror @ mirror) - 1) < 1e-5
    assert float(own @ action[0]) > float(plain @ action[0]) + 0.05  # the action pulls the vector
    swapped = metadata_vectors(encode, mirrored(text), action[::-1])[0]
    assert float(mirror @ swapped) > 0.9999  # the mirror's is the swapped words'
    bare = metadata_vectors(encode, "take fourteen")
    assert float(bare[0] @ encode(["take fourteen"])[0]) > 0.9999  # no action: the words alone


def test_the_free_form_query_set():
    queries = load_queries()
    validation, test = load_queries(split="validation"), load_queries(split="test")
    assert len(queries) >= 150 and len(validation) + len(test) == len(queries)
    for batch in ("first", "blind"):  # each batch has both splits; validation is the smaller part
        part = [q for q in queries if q.batch == batch]
        assert 0.15 < sum(q.split == "validation" for q in part) / len(part) < 0.4
    focus = {q.focus for q in validation} & {q.focus for q in test}
    assert {"rare", "side", "style", "synonym"} <= focus
    rare = {c for q in queries if q.focus == "rare" for c in q.contents}
    assert {"kick", "slash", "punch", "bow", "dance-long", "call", "guide", "respond"} <= rare
    # written by hand: no query is a sentence of the caption grammar (the blind batch's writer never saw it: a
    # bare "bow" or "walk backwards" may be both, for a few)
    said = 0
    for q in queries:
        grammar = {c.lower() for content in q.contents for s in styles() for r in ("descriptive", "spoken")
                   for c in all_captions(content, s, r)}  # fmt: skip
        said += q.text.lower() in grammar
        assert q.batch == "blind" or q.text.lower() not in grammar, q
    assert said <= sum(q.batch == "blind" for q in queries) / 20
    scored = score(test[:2], [[test[0].contents[0]], ["nothing", "nothing"]], ks=(1, 5))
    assert scored["top1"] == 50.0 and scored["missed"] == [test[1].id]
    blind = next(q for q in test if q.batch == "blind")
    scored = score([test[0], blind], [["nothing"], [blind.contents[0]]], ks=(1,))
    assert scored["by_batch"] == {"first": {"top1": 0.0, "queries": 1}, "blind": {"top1": 100.0, "queries": 1}}
    with pytest.raises(ValueError, match="split"):
        load_queries(split="train")


@pytest.fixture(scope="module")
def described(tmp_path_factory, onnx_bundle):
    """A small library: eight demo clips with their Bandai metadata and one clip known only by a description,
    tags and folder (as a sidecar would give them), served on loopback."""
    folder = tmp_path_factory.mktemp("described")
    encoders = Encoders.open(onnx_bundle)
    index = open_index(f"edge:{folder / 'index'}", encoders.dim, meta_dim=encoders.sentence_dim)
    library = Library(folder, index, encoders)
    clips = source_clips(DEMO)[0]
    take = folder / "take_014.bvh"
    shutil.copyfile(clips[8].path, take)
    metadata = ClipMetadata(path_words(Path("Props/Umbrella/take_014.bvh")), DESCRIPTION, ("umbrella", "props"),
                            source="capture", source_folder="Props/Umbrella")  # fmt: skip
    extra = ClipInfo(take, "take_014", metadata)
    report = library.ingest(clips[:8] + [extra], progress=False)
    assert len(report.added) == 9 and library.has_metadata
    server, port = build_server(library, "127.0.0.1:0", Limits(), workers=4)
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield pb_grpc.MotionSearchStub(channel), library, f"127.0.0.1:{port}"
    server.stop(None)
    library.index.close()


def ids(response) -> list[str]:
    return [h.motion.id for h in response.hits]


def test_a_described_clip_ranks_first_with_fusion_and_fusion_changes_the_ranking(described):
    stub, library, _ = described
    query = "the umbrella take from Tuesday's capture session"

    def search(**options):
        return stub.SearchText(pb.SearchTextRequest(text=query, options=pb.SearchOptions(top_k=9, **options)))

    on, off, default = search(fusion=pb.FUSION_MODE_ON), search(fusion=pb.FUSION_MODE_OFF), search()
    assert ids(on)[0] == "take_014" and ids(default) == ids(on)  # on by default: the library has metadata
    assert ids(off) != ids(on) and ids(off)[0] != "take_014"  # the learned side does not read descriptions
    tokens, weights = library.encoders.encode_text([query])[0]
    exact = library.index.search(tokens, weights, top_k=9, filter=SearchFilter(include_mirrors=False))
    assert ids(off) == [h.id for h in exact] and all(-1 <= h.score <= 1 for h in off.hits)  # off: Eq. 8 alone
    metadata_only = search(fusion=pb.FUSION_MODE_ON, fusion_weight=1.0)
    assert ids(metadata_only)[0] == "take_014"
    # every clip stores what its body does; a labelled clip's metadata keeps to its own words
    bandai = library.record(library.index.list(0, 1)[0][0].id).payload
    assert bandai["motion_caption"] and bandai["motion_caption"].rstrip(".") not in bandai["metadata"]
    # a mirror carries its clip's metadata with left and right swapped
    mirror, own = library.record("Mtake_014").payload, library.record("take_014").payload
    assert mirror["metadata"] == mirrored(own["metadata"])
    assert mirror["motion_caption"] == mirrored(own["motion_caption"])


def test_a_library_of_numbered_takes_fuses_at_the_wordless_setting(described, tmp_path):
    _, labelled, _ = described
    assert not labelled.wordless and MotionSearchServicer(labelled)._fusion(pb.SearchOptions()) == DEFAULT
    encoders = labelled.encoders
    index = open_index(f"edge:{tmp_path / 'index'}", encoders.dim, meta_dim=encoders.sentence_dim)
    takes = Library(tmp_path, index, encoders)
    clips = source_clips(DEMO)[0][:5]
    takes.ingest([replace(c, metadata=ClipMetadata("take", source="takes")) for c in clips[:3]], progress=False)
    assert takes.wordless and takes.has_metadata  # their metadata is what the kinematic captioner says
    # ... and their action too: the centroid of its sentences (descriptive and spoken), blended at MOTION_SHARE
    own = takes.record(clips[0].id).payload
    said = own["motion_captions"]
    assert len(said) >= 4 and said[0] == own["motion_caption"] and len(set(said)) == len(said)
    assert takes.record("M" + clips[0].id).payload["motion_captions"] == [mirrored(c) for c in said]
    expected = metadata_vectors(encoders.encode_sentences, own["metadata"],
                                action_vectors(encoders.encode_sentences, said), MOTION_SHARE)[0]  # fmt: skip
    nearest = index.metadata_candidates(expected, 1, SearchFilter(include_mirrors=False))
    assert nearest[0][0] == clips[0].id and nearest[0][1] > 0.9999
    servicer = MotionSearchServicer(takes)
    assert servicer._fusion(pb.SearchOptions()) == WORDLESS
    assert servicer._fusion(pb.SearchOptions(fusion_weight=0.75)) == replace(WORDLESS, weight=0.75)
    assert servicer._fusion(pb.SearchOptions(fusion=pb.FUSION_MODE_OFF)) is None
    assert Library(tmp_path, index, encoders).wordless  # read back from the index
    words = [ClipMetadata("take", "A person waves.", source="takes"), ClipMetadata("take", content="bow")]
    takes.ingest([replace(c, metadata=m) for c, m in zip(clips[3:], words)], progress=False)
    assert takes.wordless  # three of five have no words of their own
    takes.delete([clips[0].id])
    assert not takes.wordless  # two of four: not most
    assert MotionSearchServicer(takes)._fusion(pb.SearchOptions()) == DEFAULT
    index.close()


def test_a_word_only_the_synonyms_know_finds_its_action(described):
    """The words of the caption grammar's synonyms (not in any clip's own metadata string) reach the ranking
    through the action vector: the metadata alone ranks the one clip of that action first."""
    stub, library, _ = described
    payloads = [r.payload for r in library.index.list(0, 50)[0]]
    for query, content in (("boogie", "dance-short"), ("roundhouse", "kick"), ("curtsy", "bow")):
        assert content in {p["content"] for p in payloads} and all(query not in p["metadata"] for p in payloads)
        options = pb.SearchOptions(top_k=3, fusion=pb.FUSION_MODE_ON, fusion_weight=1.0)
        hits = stub.SearchText(pb.SearchTextRequest(text=query, options=options)).hits
        assert library.record(hits[0].motion.id).payload["content"] == content, query


def test_tag_and_folder_filters(described):
    stub, *_ = described

    def found(**flt) -> list[str]:
        options = pb.SearchOptions(top_k=20, filter=pb.Filter(**flt))
        return ids(stub.SearchText(pb.SearchTextRequest(text="someone walks", options=options)))

    assert found(tags=["umbrella"]) == ["take_014"] and found(tags=["props", "nothing"]) == ["take_014"]
    assert found(folder="Props") == ["take_014"] and found(folder="Props/Umbrella/") == ["take_014"]
    assert found(folder="Props/Umb") == [] and found(tags=["nothing"]) == []
    assert len(found()) == 9
    listed = stub.ListMotions(pb.ListMotionsRequest(filter=pb.Filter(tags=["umbrella"])))
    assert listed.total == 2  # the clip and its mirror


@pytest.mark.parametrize("weight", [math.nan, -0.5, 1.5, math.inf])
def test_a_bad_fusion_weight_is_invalid(described, weight):
    stub, *_ = described
    with pytest.raises(grpc.RpcError) as info:
        stub.SearchText(pb.SearchTextRequest(text="walk", options=pb.SearchOptions(fusion_weight=weight)))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "fusion_weight" in info.value.details()
    assert ids(stub.SearchText(pb.SearchTextRequest(text="walk")))  # and the server keeps serving


def test_the_cli_filters_by_tag_and_switches_fusion(described, capsys):
    *_, address = described
    assert client_main(["--address", address, "search", "umbrella", "--tag", "umbrella", "--fusion", "off"]) == 0
    out = capsys.readouterr().out
    assert "take_014" in out and out.startswith("1 of 18 motions")
    assert client_main(["--address", address, "search", "umbrella", "--fusion-weight", "2"]) == 1
    assert "INVALID_ARGUMENT" in capsys.readouterr().err
