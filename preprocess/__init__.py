"""Input preprocessing shared by training and serving, torch-free: text tokens, log-mel, video frames.

The model (``model/``) and the server (``server/``) both import these, so a
query is prepared exactly as the training data was.
"""
