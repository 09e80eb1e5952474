internal import COpenSSL

/// A server's certificate chain and private key loaded once into an OpenSSL context that every
/// accepted connection shares (`TLSConnection.server(_:)`, `NIOTLSHandler.server(_:)`), so no
/// file is read per connection. Build a new one to pick up replaced files (SIGHUP); connections
/// made on the old one keep it alive until they end.
///
/// `@unchecked Sendable`: the `SSL_CTX` is configured in `init` and only read afterwards
/// (`SSL_new` takes a reference), which OpenSSL allows from any thread.
public final class TLSServerContext: @unchecked Sendable {
    let context: OpaquePointer
    public let configuration: TLSServerConfiguration

    /// Reads and checks the certificate chain and key now; throws if either is unusable.
    public init(_ configuration: TLSServerConfiguration) throws(TLSError) {
        self.configuration = configuration
        context = try TLSConnection.makeServerContext(configuration)
    }

    deinit { SSL_CTX_free(context) }
}
