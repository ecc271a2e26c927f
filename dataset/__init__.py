"""dataset: Bandai Namco BVH clips (read with their labels by ``motion.sources``) -> a multimodal retrieval
dataset on disk.

captions    descriptive and spoken-style captions generated from labels
kinematic   captions of what the body does, measured from joint positions (not yet in the build)
splits      train / val / test and the unseen-action probe
"""
