"""dataset: Bandai Namco BVH clips -> a multimodal retrieval dataset on disk.

labels      clips and their (content, style) labels from the source folder
captions    descriptive and spoken-style captions generated from labels
splits      train / val / test and the unseen-action probe
"""
