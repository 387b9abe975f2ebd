"""The modules protoc generates from proto/, imported in one place."""
from google.rpc import error_details_pb2, status_pb2
from tessera.inference.v1 import inference_pb2 as pb
from tessera.inference.v1 import inference_pb2_grpc as pb_grpc

__all__ = ["error_details_pb2", "pb", "pb_grpc", "status_pb2"]
