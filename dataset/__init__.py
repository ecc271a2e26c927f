"""dataset: Bandai Namco BVH clips -> a multimodal retrieval dataset on disk.

labels      clips and their (content, style) labels from the source folder
captions    descriptive and spoken-style captions generated from labels
kinematic   captions of what the body does, measured from joint positions (not yet in the build)
splits      train / val / test and the unseen-action probe
"""
