"""dataset: Bandai Namco BVH clips (read with their labels by ``motion.sources``) -> a multimodal retrieval
dataset on disk.

captions    an item's caption mix: label captions (preprocess.captions), kinematic ones (motion.kinematic:
            what the body does, measured from joint positions), both combined, held-out kinematic queries
splits      train / val / test and the unseen-action probe
"""
