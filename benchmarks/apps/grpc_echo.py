"""The transport floor: a bare grpcio server answering Predict with the request's own bytes
(no parsing). usage: python grpc_echo.py PORT"""

from __future__ import annotations

import signal
import sys
from concurrent import futures

import grpc


def main() -> None:
    port = int(sys.argv[1])
    handler = grpc.method_handlers_generic_handler(
        "tensorflow.serving.PredictionService",
        {"Predict": grpc.unary_unary_rpc_method_handler(lambda request, context: request)},
    )
    options = [("grpc.max_receive_message_length", 256 << 20), ("grpc.max_send_message_length", 256 << 20)]
    server = grpc.server(futures.ThreadPoolExecutor(16), options=options)
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
