"""Helpers every stage uses, at the bottom of the dependency order (imports nothing of this repository).

files       atomic writes, sha256 of files, the git commit id of the working tree
"""
