"""The benchmark suite (`make bench`, `python -m benchmarks`): this server next to the
in-process OpenVINO limit, a bare grpcio echo, KServe and a naive Flask app. Not part of
`make test`."""
