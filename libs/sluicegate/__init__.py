"""sluicegate: generated protobuf contracts and the shared service runtime."""
