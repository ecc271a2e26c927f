"""motionsearch API v1: ``motionsearch_pb2`` (messages) and ``motionsearch_pb2_grpc`` (service stubs), generated."""
