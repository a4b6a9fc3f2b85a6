//! One use case per file, over the ports.
