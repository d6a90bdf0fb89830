"""The load client: gevent I/O over the protocol and signing packages."""
