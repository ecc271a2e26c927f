"""The four-modal retrieval model (PyTorch): encoders, sequence-level similarity, training and evaluation."""
