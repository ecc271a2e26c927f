"""One-time conversion of MediaPipe's BlazePose .tflite models to the ONNX files in ``pose/models/``.

Run it in a throwaway venv, never the project's (mediapipe pins protobuf < 5)::

    python3.11 -m venv /tmp/mpvenv
    /tmp/mpvenv/bin/pip install mediapipe==0.10.14 tflite==2.18.0 onnx==1.22.0 onnxruntime==1.31.1 ai-edge-litert
    /tmp/mpvenv/bin/python -m pose.convert   # from the repository root

Why our own converter: ``tflite2onnx`` 0.4.1 stops on the detector's DENSIFY op (sparse fp16 weights) and
on the landmark model's PAD, and ``tf2onnx --tflite`` needs all of TensorFlow. The two models use a dozen
ops only (conv, depthwise conv, add, pad, max-pool, resize, depth-to-space, reshape, concat, sigmoid, plus
DEQUANTIZE/DENSIFY on constants), so the graph is rebuilt op by op with ``onnx.helper``: weights are
densified and cast to float32 here, activations run NCHW, and the ONNX graph keeps the TFLite interface
(NHWC float input, the same output names and shapes). The landmark model's segmentation and heatmap
outputs are dropped (the product uses the landmarks, the presence flag and the world landmarks), so their
layers are not computed. Parity: ``python -m pose.convert --check`` runs both on random and real inputs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

MODELS = Path(__file__).resolve().parent / "models"
# (tflite path inside the mediapipe wheel, onnx name, outputs kept)
_LANDMARK_OUTPUTS = ["Identity", "Identity_1", "Identity_4"]  # landmarks, presence, world landmarks
SOURCES = [
    ("modules/pose_detection/pose_detection.tflite", "pose_detection.onnx", ["Identity", "Identity_1"]),
    ("modules/pose_landmark/pose_landmark_full.tflite", "pose_landmark_full.onnx", _LANDMARK_OUTPUTS),
]
_NHWC_TO_NCHW, _NCHW_TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def _densify(tensor, values: np.ndarray) -> np.ndarray:
    """A TFLite sparse tensor (dense and CSR dimensions, traversal in order, no blocks) as a dense array."""
    sparsity = tensor.Sparsity()
    shape = [int(s) for s in tensor.ShapeAsNumpy()]
    if sparsity.BlockMapLength() or list(sparsity.TraversalOrderAsNumpy()) != list(range(len(shape))):
        raise NotImplementedError("block-sparse or reordered tensors are not supported")
    import tflite

    vectors = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}
    dims = []
    for level in range(sparsity.DimMetadataLength()):
        meta = sparsity.DimMetadata(level)
        if meta.Format() == 0:
            dims.append(("dense", meta.DenseSize(), None, None))
            continue
        arrays = []
        tables = ((meta.ArraySegmentsType(), meta.ArraySegments()), (meta.ArrayIndicesType(), meta.ArrayIndices()))
        for kind, table in tables:
            vec = vectors[kind]()
            vec.Init(table.Bytes, table.Pos)
            arrays.append(vec.ValuesAsNumpy().astype(np.int64))
        dims.append(("sparse", 0, arrays[0], arrays[1]))
    dense = np.zeros(shape, dtype=values.dtype)

    def visit(level: int, prev: int, index: tuple) -> None:
        if level == len(dims):
            dense[index] = values[prev]
            return
        kind, size, segments, indices = dims[level]
        if kind == "dense":
            for i in range(size):
                visit(level + 1, prev * size + i, index + (i,))
        else:
            for k in range(segments[prev], segments[prev + 1]):
                visit(level + 1, int(k), index + (int(indices[k]),))

    visit(0, 0, ())
    return dense


class _Converter:
    def __init__(self, data: bytes):
        import tflite

        self.tfl = tflite
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.graph = self.model.Subgraphs(0)
        self.ops = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
        self.nodes, self.inits = [], []
        self.consts: dict[int, np.ndarray] = {}  # tensor index -> constant value (NHWC / TFLite layout)
        self.names: dict[int, str] = {}  # tensor index -> ONNX value name (4-D activations NCHW)
        self.counter = 0

    def tensor(self, i: int):
        return self.graph.Tensors(i)

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}_{self.counter}"

    def const(self, value: np.ndarray, stem: str = "c") -> str:
        """An initializer; float32 weights that are exactly float16 (all of BlazePose's) are stored as float16
        behind a Cast, which ONNX Runtime folds when the session loads (half the file size, same values)."""
        from onnx import TensorProto, numpy_helper

        name = self.fresh(stem)
        half = value.dtype == np.float32 and value.size > 16 and np.array_equal(value.astype(np.float16), value)
        stored = value.astype(np.float16) if half else value
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(stored), name + "_h" if half else name))
        if half:
            self.node("Cast", [name + "_h"], [name], to=TensorProto.FLOAT)
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str] | None = None, **attrs) -> str:
        from onnx import helper

        outputs = outputs or [self.fresh(op.lower())]
        self.nodes.append(helper.make_node(op, inputs, outputs, **attrs))
        return outputs[0]

    def buffer(self, i: int) -> np.ndarray | None:
        t = self.tensor(i)
        raw = self.model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(raw, int) or raw is None or raw.size == 0:
            return None
        dtype = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}[t.Type()]
        values = raw.view(dtype)
        if t.Sparsity() is not None:
            return values  # densified by the DENSIFY op
        return values.reshape([int(s) for s in t.ShapeAsNumpy()])

    def value(self, i: int) -> np.ndarray:
        return self.consts[i]

    def activation(self, name: str, fused: int) -> str:
        if fused == 0:
            return name
        if fused == 1:
            return self.node("Relu", [name])
        if fused == 3:
            return self.node("Clip", [name, self.const(np.float32(0)), self.const(np.float32(6))])
        raise NotImplementedError(f"fused activation {fused}")

    def same_pads(self, in_hw, kernel, stride, dilation, padding: int) -> list[int]:
        if padding == 1:  # VALID
            return [0, 0, 0, 0]
        pads = []
        for size, k, s, d in zip(in_hw, kernel, stride, dilation):
            out = -(-size // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        return [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]

    def options(self, op, cls):
        table = op.BuiltinOptions()
        opts = cls()
        opts.Init(table.Bytes, table.Pos)
        return opts

    def convert(self, keep: list[str]):
        from onnx import TensorProto, helper

        tfl = self.tfl
        g = self.graph
        for i in range(g.TensorsLength()):
            value = self.buffer(i)
            if value is not None:
                self.consts[i] = value
        (inp,) = g.InputsAsNumpy()
        in_shape = [int(s) for s in self.tensor(inp).ShapeAsNumpy()]
        self.names[inp] = self.node("Transpose", ["input_1"], perm=_NHWC_TO_NCHW)
        for k in range(g.OperatorsLength()):
            op = g.Operators(k)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            kind = self.ops[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            ins = [int(j) for j in op.InputsAsNumpy()]
            (out,) = [int(j) for j in op.OutputsAsNumpy()]
            out_shape = [int(s) for s in self.tensor(out).ShapeAsNumpy()]
            if kind == "DENSIFY":
                self.consts[out] = _densify(self.tensor(ins[0]), self.consts[ins[0]])
            elif kind == "DEQUANTIZE":
                self.consts[out] = self.consts[ins[0]].astype(np.float32)
            elif kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                depthwise = kind == "DEPTHWISE_CONV_2D"
                o = self.options(op, tfl.DepthwiseConv2DOptions if depthwise else tfl.Conv2DOptions)
                w = self.value(ins[1]).astype(np.float32)  # conv: (O, kh, kw, I); depthwise: (1, kh, kw, C)
                in_hw = [int(s) for s in self.tensor(ins[0]).ShapeAsNumpy()[1:3]]
                if depthwise:
                    w = w.transpose(3, 0, 1, 2)  # (C, 1, kh, kw)
                    group = in_hw and int(self.tensor(ins[0]).ShapeAsNumpy()[3])
                    if o.DepthMultiplier() != 1:
                        raise NotImplementedError("depth multiplier")
                else:
                    w, group = w.transpose(0, 3, 1, 2), 1
                stride = [o.StrideH(), o.StrideW()]
                dilation = [o.DilationHFactor(), o.DilationWFactor()]
                pads = self.same_pads(in_hw, w.shape[2:], stride, dilation, o.Padding())
                inputs = [self.names[ins[0]], self.const(w, "w")]
                if len(ins) > 2 and ins[2] >= 0:
                    inputs.append(self.const(self.value(ins[2]).astype(np.float32), "b"))
                y = self.node("Conv", inputs, strides=stride, dilations=dilation, pads=pads, group=group)
                self.names[out] = self.activation(y, o.FusedActivationFunction())
            elif kind == "ADD":
                o = self.options(op, tfl.AddOptions)
                operands = []
                for j in ins:
                    if j in self.consts:
                        c = self.consts[j].astype(np.float32)
                        operands.append(self.const(c.reshape(1, -1, 1, 1) if c.ndim in (1, 4) and c.size > 1 else c))
                    else:
                        operands.append(self.names[j])
                self.names[out] = self.activation(self.node("Add", operands), o.FusedActivationFunction())
            elif kind == "PAD":
                p = self.value(ins[1]).astype(np.int64)  # (4, 2) NHWC
                p = p[_NHWC_TO_NCHW]
                self.names[out] = self.node("Pad", [self.names[ins[0]], self.const(np.concatenate([p[:, 0], p[:, 1]]))])
            elif kind == "MAX_POOL_2D":
                o = self.options(op, tfl.Pool2DOptions)
                in_hw = [int(s) for s in self.tensor(ins[0]).ShapeAsNumpy()[1:3]]
                kernel, stride = [o.FilterHeight(), o.FilterWidth()], [o.StrideH(), o.StrideW()]
                pads = self.same_pads(in_hw, kernel, stride, [1, 1], o.Padding())
                y = self.node("MaxPool", [self.names[ins[0]]], kernel_shape=kernel, strides=stride, pads=pads)
                self.names[out] = self.activation(y, o.FusedActivationFunction())
            elif kind == "RESIZE_BILINEAR":
                o = self.options(op, tfl.ResizeBilinearOptions)
                mode = "align_corners" if o.AlignCorners() else "half_pixel" if o.HalfPixelCenters() else "asymmetric"
                sizes = self.const(np.array([1, out_shape[3], out_shape[1], out_shape[2]], dtype=np.int64))
                self.names[out] = self.node(
                    "Resize", [self.names[ins[0]], "", "", sizes], mode="linear", coordinate_transformation_mode=mode
                )
            elif kind == "DEPTH_TO_SPACE":
                o = self.options(op, tfl.DepthToSpaceOptions)
                self.names[out] = self.node("DepthToSpace", [self.names[ins[0]]], blocksize=o.BlockSize(), mode="DCR")
            elif kind == "RESHAPE":
                src = self.names[ins[0]]
                if len(self.tensor(ins[0]).ShapeAsNumpy()) == 4:
                    src = self.node("Transpose", [src], perm=_NCHW_TO_NHWC)
                self.names[out] = self.node("Reshape", [src, self.const(np.array(out_shape, dtype=np.int64))])
                if len(out_shape) == 4:
                    self.names[out] = self.node("Transpose", [self.names[out]], perm=_NHWC_TO_NCHW)
            elif kind == "CONCATENATION":
                o = self.options(op, tfl.ConcatenationOptions)
                axis = o.Axis() % len(out_shape)
                if len(out_shape) == 4:
                    axis = _NHWC_TO_NCHW.index(axis)
                y = self.node("Concat", [self.names[j] for j in ins], axis=axis)
                self.names[out] = self.activation(y, o.FusedActivationFunction())
            elif kind == "LOGISTIC":
                self.names[out] = self.node("Sigmoid", [self.names[ins[0]]])
            else:
                raise NotImplementedError(f"TFLite op {kind}")
        outputs = []
        for j in g.OutputsAsNumpy():
            t = self.tensor(int(j))
            name = t.Name().decode()
            if name not in keep:
                continue
            shape = [int(s) for s in t.ShapeAsNumpy()]
            src = self.names[int(j)]
            if len(shape) == 4:
                src = self.node("Transpose", [src], perm=_NCHW_TO_NHWC)
            self.node("Identity", [src], [name])
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        inputs = [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, in_shape)]
        graph = helper.make_graph(self.nodes, "blazepose", inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pose.convert")
        return _prune(model)


def _prune(model):
    """Drop the nodes and initializers no kept output depends on."""
    graph = model.graph
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    inits = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)
    return model


def _mediapipe_dir() -> Path:
    import mediapipe

    return Path(mediapipe.__file__).resolve().parent


def convert_all() -> None:
    import onnx

    MODELS.mkdir(exist_ok=True)
    for source, name, keep in SOURCES:
        model = _Converter((_mediapipe_dir() / source).read_bytes()).convert(keep)
        onnx.checker.check_model(model)
        onnx.save(model, MODELS / name)
        print(f"{source} -> {MODELS / name} ({(MODELS / name).stat().st_size / 1e6:.1f} MB)")


def check_all(images: list[Path]) -> float:
    """Largest |ONNX - TFLite| over every kept output, on random inputs and on ``images`` (resized)."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter
    from PIL import Image

    worst = 0.0
    for source, name, keep in SOURCES:
        session = ort.InferenceSession(str(MODELS / name), providers=["CPUExecutionProvider"])
        size = session.get_inputs()[0].shape[1]
        rng = np.random.default_rng(0)
        batch = [rng.uniform(0, 1, (size, size, 3)).astype(np.float32)]
        batch += [np.asarray(Image.open(p).convert("RGB").resize((size, size)), np.float32) / 255 for p in images]
        interp = Interpreter(str(_mediapipe_dir() / source))
        interp.allocate_tensors()
        details = {d["name"]: d["index"] for d in interp.get_output_details()}
        for x in batch:
            interp.set_tensor(interp.get_input_details()[0]["index"], x[None])
            interp.invoke()
            got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input_1": x[None]})))
            for out in keep:
                diff = float(np.abs(got[out] - interp.get_tensor(details[out])).max())
                worst = max(worst, diff)
                print(f"{name} {out}: max |diff| {diff:.2e}")
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", nargs="*", type=Path, help="compare against TFLite (optional image files)")
    args = parser.parse_args(argv)
    if args.check is None:
        convert_all()
        return 0
    worst = check_all(args.check)
    print(f"worst {worst:.2e} (landmarks are in input pixels, world landmarks in metres)")
    return 0 if worst < 1e-2 else 1


if __name__ == "__main__":
    sys.exit(main())
