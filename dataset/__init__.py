"""dataset: Bandai Namco BVH clips (read with their labels by ``motion.sources``) -> a multimodal retrieval
dataset on disk.

captions    descriptive and spoken-style captions generated from labels
splits      train / val / test and the unseen-action probe
"""
