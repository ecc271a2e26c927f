"""The ONNX exporter: ``python -m exporter`` turns a trained run into a bundle the server runs without torch.

``exporter.bundle`` (the bundle's manifest, torch-free) is what the server imports;
``exporter.graphs`` (the PyTorch modules that become the ONNX graphs), ``exporter.samples``
(real inputs) and ``exporter.parity`` (ONNX Runtime against PyTorch) need torch and run
only at export time.
"""
