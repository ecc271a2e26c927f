"""The add-on's operators: connect, search (text, audio file, microphone, the active action), import,
add the active action to the library, bone map.

Network calls never block the UI: invoked from a button, an operator runs its call
on a worker thread and polls it from a modal timer; run from a script
(``bpy.ops.motionsearch.search()``) it calls synchronously. Failures become one
readable line in the panel and an operator error report, never a traceback.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import bpy
import grpc

from motionsearch.client import Client
from motionsearch.v1 import motionsearch_pb2 as pb

from . import bone_map, preferences, retarget, thumbnails
from .recorder import RATE, Recorder, RecorderError

_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="motionsearch")
_RECORDER = Recorder()


def state(context):
    return context.scene.motionsearch


def describe(error: BaseException, address: str) -> str:
    """One line a person can act on."""
    if isinstance(error, grpc.RpcError):
        code = error.code()
        if code == grpc.StatusCode.UNAVAILABLE:
            return f"cannot reach the motionsearch server at {address}: start it with 'python -m server.serve'"
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return f"the server at {address} did not answer in time (raise the timeout in the preferences)"
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return "the server refused the token: set it in the add-on preferences"
        return f"{code.name.lower().replace('_', ' ')}: {error.details()}"
    return str(error) or type(error).__name__


def _labels(text: str) -> list[str]:
    return [label.strip() for label in text.split(",") if label.strip()]


def search_options(s) -> pb.SearchOptions:
    flt = pb.Filter(contents=_labels(s.contents), styles=_labels(s.styles),
                    min_seconds=s.min_seconds, max_seconds=s.max_seconds)  # fmt: skip
    return pb.SearchOptions(top_k=s.top_k, filter=flt, include_mirrors=s.include_mirrors)


class _ServerCall:
    """Mixin: ``prepare`` reads Blender data and returns the network call; ``finish`` applies its result."""

    bl_options = {"REGISTER"}

    def prepare(self, context):
        raise NotImplementedError

    def finish(self, context, result) -> set[str]:
        raise NotImplementedError

    def _client(self, context) -> Client:
        prefs = preferences.get(context)
        self._address = prefs.address
        return Client(prefs.address, prefs.token or None, prefs.timeout)

    def _fail(self, context, error: BaseException) -> set[str]:
        message = describe(error, getattr(self, "_address", "?"))
        state(context).status = f"Error: {message}"
        state(context).busy = False
        self.report({"ERROR"}, message)
        return {"CANCELLED"}

    def execute(self, context) -> set[str]:
        try:
            call = self.prepare(context)
            result = call() if call else None
        except (grpc.RpcError, OSError, ValueError, RuntimeError) as error:
            return self._fail(context, error)
        return self._finish(context, result)

    def _finish(self, context, result) -> set[str]:
        state(context).busy = False
        try:
            return self.finish(context, result)
        except (OSError, ValueError, RuntimeError) as error:
            return self._fail(context, error)

    def invoke(self, context, event) -> set[str]:
        if context.window is None:
            return self.execute(context)
        try:
            call = self.prepare(context)
        except (OSError, ValueError, RuntimeError) as error:
            return self._fail(context, error)
        if call is None:
            return {"FINISHED"}
        state(context).busy = True
        self._future = _WORKER.submit(call)
        self._timer = context.window_manager.event_timer_add(0.05, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event) -> set[str]:
        if event.type != "TIMER" or not self._future.done():
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        for area in context.screen.areas if context.screen else ():
            area.tag_redraw()
        try:
            result = self._future.result()
        except (grpc.RpcError, OSError, ValueError, RuntimeError) as error:
            return self._fail(context, error)
        return self._finish(context, result)


class MOTIONSEARCH_OT_connect(_ServerCall, bpy.types.Operator):
    """Check the connection and show the library size"""

    bl_idname = "motionsearch.connect"
    bl_label = "Connect"

    def prepare(self, context):
        client = self._client(context)
        state(context).status = f"Connecting to {self._address}..."
        return lambda: client.list_motions(page_size=1).total

    def finish(self, context, total) -> set[str]:
        state(context).status = f"Connected to {self._address}: {total:,} motions"
        return {"FINISHED"}


class _Search(_ServerCall):
    def finish(self, context, response) -> set[str]:
        s = state(context)
        s.results.clear()
        for hit in response.hits:
            m = hit.motion
            item = s.results.add()
            item.name, item.motion_id, item.caption = m.name or m.id, m.id, m.caption
            item.content, item.style, item.seconds, item.fps = m.content, m.style, m.seconds, m.fps
            item.score, item.rank = hit.score, hit.rank
            item.start_seconds, item.end_seconds = hit.start_seconds, hit.end_seconds
        s.result_index = 0
        s.status = f"{len(response.hits)} of {response.library_size:,} motions ({response.server_ms:.0f} ms)"
        self.report({"INFO"}, s.status)
        if context.window is not None:  # in the UI the thumbnails follow on the worker thread
            bpy.ops.motionsearch.load_thumbnails("INVOKE_DEFAULT")
        return {"FINISHED"}


class MOTIONSEARCH_OT_load_thumbnails(_ServerCall, bpy.types.Operator):
    """Fetch a thumbnail (the server's preview) for every result that has none yet"""

    bl_idname = "motionsearch.load_thumbnails"
    bl_label = "Load Thumbnails"

    def prepare(self, context):
        thumbnails.collection()
        wanted = {thumbnails.key(r.motion_id, r.start_seconds, r.end_seconds): (r.motion_id, r.start_seconds,
                  r.end_seconds) for r in state(context).results if not thumbnails.icon(r)}  # fmt: skip
        if not wanted:
            return None
        client = self._client(context)

        def fetch() -> dict[str, bytes]:
            strips = {}
            for name, (motion_id, start, end) in wanted.items():
                try:
                    strips[name] = client.get_preview(motion_id, start, end).strip
                except grpc.RpcError as error:  # an older server, or a motion deleted since: no thumbnail
                    if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                        raise
            return strips

        return fetch

    def finish(self, context, strips) -> set[str]:
        for name, strip in strips.items():
            thumbnails.store(name, strip)
        for area in context.screen.areas if context.screen else ():
            area.tag_redraw()
        return {"FINISHED"}


class MOTIONSEARCH_OT_search(_Search, bpy.types.Operator):
    """Search the library by the text query"""

    bl_idname = "motionsearch.search"
    bl_label = "Search"

    def prepare(self, context):
        s = state(context)
        if not s.query.strip():
            raise ValueError("type what the motion should look like first")
        client, text, options = self._client(context), s.query, search_options(s)
        s.status = "Searching..."
        return lambda: client.search_text(text, options)


class MOTIONSEARCH_OT_search_audio_file(_Search, bpy.types.Operator):
    """Search the library by a spoken query in an audio file (WAV or FLAC)"""

    bl_idname = "motionsearch.search_audio_file"
    bl_label = "Search by Audio File"

    def prepare(self, context):
        s = state(context)
        path = Path(bpy.path.abspath(s.audio_path))
        if not s.audio_path or not path.is_file():
            raise ValueError(f"pick an audio file first (no file at {str(path)!r})")
        client, data = self._client(context), path.read_bytes()
        config = pb.AudioConfig(encoding=pb.AUDIO_ENCODING_FILE, options=search_options(s))
        s.status = f"Searching by {path.name}..."
        return lambda: client.search_audio(data, config)


class MOTIONSEARCH_OT_record(_Search, bpy.types.Operator):
    """Push to talk: start recording from the microphone; press again to stop and search"""

    bl_idname = "motionsearch.record"
    bl_label = "Record"

    def prepare(self, context):
        s = state(context)
        if not _RECORDER.active:
            try:
                _RECORDER.start()
            except RecorderError as error:
                raise RuntimeError(str(error)) from error
            s.recording, s.status = True, "Recording... press Stop to search"
            return None
        pcm = _RECORDER.stop()
        s.recording = False
        if len(pcm) < RATE // 2:  # under a quarter of a second
            raise ValueError("the recording is empty: hold the button while speaking")
        client = self._client(context)
        config = pb.AudioConfig(encoding=pb.AUDIO_ENCODING_PCM_S16LE, sample_rate_hz=RATE, channels=1,
                                options=search_options(s))  # fmt: skip
        s.status = "Searching by voice..."
        return lambda: client.search_audio(pcm, config)


def action_bvh(context, s) -> tuple[bytes, str, str]:
    """The active armature's action as BVH (Blender's own exporter, at the scene's frame rate), a rig map (JSON)
    naming its bones by canonical joint (the panel's bone map, else the rig preset, as imports map them) and the
    action's name."""
    armature = context.active_object
    if armature is None or armature.type != "ARMATURE":
        raise ValueError("select an armature with an action first")
    action = armature.animation_data.action if armature.animation_data else None
    if action is None:
        raise ValueError(f"{armature.name} has no active action to search with")
    bones = [b.name for b in armature.data.bones]
    joints: dict = {p.name: p.target for p in s.bone_pairs if p.target in bones}
    try:
        joints = joints or (bone_map.detect(bones)[1] if s.preset == "AUTO" else bone_map.bind(s.preset, bones))
    except bone_map.BoneMapError as error:
        raise ValueError(str(error)) from None
    if "spine2" not in joints and {"spine1", "spine3"} <= set(joints):  # two spine bones: the middle one between
        joints["spine2"] = {"between": [joints["spine1"], joints["spine3"]], "t": 0.5}
    if context.object and context.object.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    first, last = (int(round(f)) for f in action.frame_range)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "action.bvh"
        bpy.ops.export_anim.bvh(filepath=str(path), frame_start=first, frame_end=max(last, first + 1),
                                global_scale=1.0)  # fmt: skip
        data = path.read_bytes()
    return data, json.dumps({"name": f"blender-{armature.name}", "joints": joints}), action.name


class MOTIONSEARCH_OT_search_action(_Search, bpy.types.Operator):
    """Find library motions like the active armature's action (through its bone map)"""

    bl_idname = "motionsearch.search_action"
    bl_label = "Find Similar to Action"

    def prepare(self, context):
        s = state(context)
        data, rig_json, name = action_bvh(context, s)
        client, options = self._client(context), search_options(s)
        s.status = f"Searching like {name}..."
        return lambda: client.search_bvh(data, options, rig_json)


class MOTIONSEARCH_OT_add_action(_ServerCall, bpy.types.Operator):
    """Add the active armature's action to the library, to be found by text, voice or example"""

    bl_idname = "motionsearch.add_action"
    bl_label = "Add Action to Library"

    def prepare(self, context):
        s = state(context)
        data, rig_json, action = action_bvh(context, s)
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in (s.library_name.strip() or action))[:120]
        client = self._client(context)
        upload = {"content": s.library_tags.strip(), "source": "blender", "rig_json": rig_json}
        s.status = f"Adding {name} to the library..."
        return lambda: client.ingest_bytes([(f"{name}.bvh", data)], **upload)

    def finish(self, context, report) -> set[str]:
        s = state(context)
        if report.failed:
            raise ValueError("; ".join(f"{name}: {reason}" for name, reason in report.failed.items()))
        added = [m.id for m in report.added if not m.mirror]
        s.status = f"Added {', '.join(added)} to the library" if added else "Already in the library (same content)"
        self.report({"INFO"}, s.status)
        return {"FINISHED"}


class MOTIONSEARCH_OT_import(_ServerCall, bpy.types.Operator):
    """Download the selected clip and import it at the current frame"""

    bl_idname = "motionsearch.import_motion"
    bl_label = "Import"
    bl_options = {"REGISTER", "UNDO"}

    motion_id: bpy.props.StringProperty(name="Motion id", description="Default: the selected result")

    def prepare(self, context):
        s = state(context)
        if not self.motion_id:
            if not s.results:
                raise ValueError("search first, then pick a result to import")
            self.motion_id = s.results[min(s.result_index, len(s.results) - 1)].motion_id
        self._target = None
        if s.import_target == "ACTIVE":
            target = context.active_object
            if target is None or target.type != "ARMATURE":
                raise ValueError("select an armature to import onto, or choose 'As new armature'")
            self._target = target.name
        scene = context.scene
        fps = scene.render.fps / scene.render.fps_base if s.match_scene_fps else 0.0
        client, motion_id = self._client(context), self.motion_id
        options = {"fps": fps, "in_place": s.in_place, "mirror": s.mirror}
        hit = next((r for r in s.results if r.motion_id == motion_id), None)
        if hit is not None and hit.end_seconds < hit.seconds - 1e-3:  # the part of a long take that matched
            options |= {"start_seconds": hit.start_seconds, "end_seconds": hit.end_seconds}
        s.status = f"Downloading {motion_id}..."
        return lambda: client.get_motion(motion_id, **options)

    def finish(self, context, bvh: bytes) -> set[str]:
        s = state(context)
        start = context.scene.frame_current
        if context.object and context.object.mode != "OBJECT":
            bpy.ops.object.mode_set(mode="OBJECT")
        clip = _import_bvh(context, bvh, self.motion_id, start)
        frames = _frame_count(clip)
        if self._target is None:
            if _hips_height(clip) > 10.0:  # centimetres, as most mocap BVH: show it in metres
                clip.scale = (0.01, 0.01, 0.01)
            context.view_layer.objects.active = clip
            s.status = f"Imported {self.motion_id} as {clip.name} ({frames} frames from frame {start})"
        else:
            target = bpy.data.objects[self._target]
            try:
                pairs = {p.name: p.target for p in s.bone_pairs if p.target}
                source_bones, target_bones = [b.name for b in clip.data.bones], [b.name for b in target.data.bones]
                mapping, pelvis = bone_map.resolve(source_bones, target_bones, s.preset, pairs)
                target.animation_data_create()
                target.animation_data.action = bpy.data.actions.new(self.motion_id)
                retarget.bake(clip, target, mapping, pelvis, range(start, start + frames))
            finally:
                _remove(clip)
            for obj in context.view_layer.objects:
                obj.select_set(obj == target)
            context.view_layer.objects.active = target
            context.scene.frame_set(start)
            s.status = f"Imported {self.motion_id} onto {target.name}: {len(mapping)} bones, {frames} frames"
        self.report({"INFO"}, s.status)
        return {"FINISHED"}


def _import_bvh(context, bvh: bytes, name: str, start: int):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.bvh"
        path.write_bytes(bvh)
        before = set(bpy.data.objects)
        bpy.ops.import_anim.bvh(filepath=str(path), frame_start=start, use_fps_scale=False,
                                update_scene_fps=False, update_scene_duration=False)  # fmt: skip
    (clip,) = set(bpy.data.objects) - before
    return clip


def _frame_count(clip) -> int:
    first, last = clip.animation_data.action.frame_range
    return int(round(last - first)) + 1


def _hips_height(clip) -> float:
    return max(bone.head_local.z for bone in clip.data.bones)


def _remove(clip) -> None:
    action, armature = clip.animation_data.action, clip.data
    bpy.data.objects.remove(clip)
    bpy.data.armatures.remove(armature)
    if action is not None and action.users == 0:
        bpy.data.actions.remove(action)


class MOTIONSEARCH_OT_fill_bone_map(bpy.types.Operator):
    """Fill the bone map from the rig preset (or by recognising the active armature's bones), to edit by hand"""

    bl_idname = "motionsearch.fill_bone_map"
    bl_label = "Fill Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context) -> set[str]:
        s, target = state(context), context.active_object
        if target is None or target.type != "ARMATURE":
            self.report({"ERROR"}, "select the armature to map first")
            return {"CANCELLED"}
        bones = [b.name for b in target.data.bones]
        try:
            found = bone_map.detect(bones)[1] if s.preset == "AUTO" else bone_map.bind(s.preset, bones)
        except bone_map.BoneMapError as error:
            found = {}
            self.report({"WARNING"}, str(error))
        s.bone_pairs.clear()
        for joint in next(iter(bone_map.presets().values())):
            pair = s.bone_pairs.add()
            pair.name, pair.target = joint, found.get(joint, "")
        return {"FINISHED"}


class MOTIONSEARCH_OT_clear_bone_map(bpy.types.Operator):
    """Forget the hand-edited bone map and map by the rig preset again"""

    bl_idname = "motionsearch.clear_bone_map"
    bl_label = "Clear Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context) -> set[str]:
        state(context).bone_pairs.clear()
        return {"FINISHED"}


CLASSES = (MOTIONSEARCH_OT_connect, MOTIONSEARCH_OT_search, MOTIONSEARCH_OT_search_audio_file, MOTIONSEARCH_OT_record,
           MOTIONSEARCH_OT_search_action, MOTIONSEARCH_OT_add_action, MOTIONSEARCH_OT_load_thumbnails,
           MOTIONSEARCH_OT_import,
           MOTIONSEARCH_OT_fill_bone_map, MOTIONSEARCH_OT_clear_bone_map)  # fmt: skip


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    if _RECORDER.active:
        _RECORDER.stop()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
