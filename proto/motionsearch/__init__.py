"""motionsearch protocol buffers (generated code beside proto/motionsearch/v1/motionsearch.proto)."""
