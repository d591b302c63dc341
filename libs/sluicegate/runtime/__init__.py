"""The shared async gRPC service runtime: settings, bootstrap, interceptors, channels, errors and logging."""
