"""pose: a video of a person -> the canonical skeleton's motion (numpy and ONNX Runtime, no torch).

blazepose   BlazePose GHUM (MediaPipe's models, converted to ONNX): detection, ROI, landmarks, tracking
skeleton    33 world landmarks per frame -> the canonical 22-joint skeleton at 20 fps
video       frames sampled for the motion encoder -> landmarks -> canonical positions (server and client)
convert     the one-time TFLite -> ONNX conversion of the two models (run where mediapipe is installed)
reference   mediapipe's own outputs on sample frames, the parity test's fixture
"""
