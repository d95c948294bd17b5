"""Generated protobuf messages and gRPC stubs of the ``warmline.v1`` package (``make proto``)."""
