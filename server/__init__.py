"""The motionsearch gRPC server: ONNX Runtime encoders, the motion index and library, and the service."""
