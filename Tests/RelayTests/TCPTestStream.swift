#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import STUN
@testable import RelayServer

/// A plain blocking TCP connection on IPv4 loopback with bounded waits, for driving the relay's
/// stream transports and TCP allocations (RFC 6062) from tests. Also a listening socket.
final class TCPTestStream: @unchecked Sendable {
    let fd: Int32
    private var framer = STUNStreamFramer()

    private init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Connects to `address`; nil if refused within `timeout` seconds.
    static func connect(to address: TransportAddress, timeout: Double = 5) -> TCPTestStream? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var timeoutValue = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeoutValue, socklen_t(MemoryLayout<timeval>.size))
        var storage = sockaddr_storage()
        let length = SocketAddressBytes.write(address, family: .ipv4, into: &storage)
        let ok = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) } }
        guard ok == 0 else { close(fd); return nil }
        return TCPTestStream(fd: fd)
    }

    /// A listening socket on 127.0.0.1 and its port.
    static func listen(port: UInt16 = 0) throws -> (TCPTestStream, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var storage = sockaddr_storage()
        let length = SocketAddressBytes.write(TransportAddress(ip: .v4(0x7F00_0001), port: port), family: .ipv4, into: &storage)
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, Glibc.listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        return (TCPTestStream(fd: fd), localAddress(fd).port)
    }

    /// The next connection on a listening socket, or nil after `timeout` seconds.
    func accept(timeout: Double) -> TCPTestStream? {
        guard wait(timeout) else { return nil }
        let client = Glibc.accept(fd, nil, nil)
        return client >= 0 ? TCPTestStream(fd: client) : nil
    }

    var local: TransportAddress { TCPTestStream.localAddress(fd) }

    private static func localAddress(_ fd: Int32) -> TransportAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return SocketAddressBytes.read(&storage) ?? TransportAddress(ip: .v4(0), port: 0)
    }

    /// Sends a FIN: no more bytes from this side, reading goes on.
    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Ends the connection both ways now (the descriptor is closed on deinit).
    func shutdownBoth() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }

    private func wait(_ timeout: Double) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, Int32(max(1, timeout * 1000))) > 0
    }

    /// Up to `limit` bytes; [] at end of stream; nil after `timeout` seconds with nothing.
    func read(limit: Int = 65_536, timeout: Double) -> [UInt8]? {
        // Bytes that came in behind the last STUN message go first.
        let held = framer.takeRemainder()
        if !held.isEmpty {
            framer.append(held.dropFirst(min(limit, held.count)))
            return Array(held.prefix(limit))
        }
        guard wait(timeout) else { return nil }
        var buffer = [UInt8](repeating: 0, count: limit)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    /// Exactly `count` bytes, or fewer if the stream ends or `timeout` passes first.
    func read(exactly count: Int, timeout: Double) -> [UInt8] {
        var out: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while out.count < count, Date() < deadline {
            guard let chunk = read(limit: count - out.count, timeout: deadline.timeIntervalSinceNow), !chunk.isEmpty else { break }
            out += chunk
        }
        return out
    }

    /// The next STUN message on the stream, nil after `timeout` seconds.
    func message(timeout: Double) -> STUNMessage? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if case .stun(let bytes)? = try? framer.next() { return try? STUNMessage.decode(bytes) }
            guard Date() < deadline, wait(deadline.timeIntervalSinceNow) else { return nil }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            framer.append(buffer[0..<n])
        }
    }

    /// Whether the other side closed within `timeout` seconds (reads until end of stream).
    func closedByPeer(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let chunk = read(timeout: deadline.timeIntervalSinceNow) else { return false }
            if chunk.isEmpty { return true }
        }
        return false
    }
}
