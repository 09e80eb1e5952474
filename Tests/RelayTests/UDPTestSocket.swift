#if canImport(Glibc)
import Glibc
#endif
import Foundation
import STUN

/// A plain blocking UDP socket on loopback with receive timeouts, for driving the relay from
/// tests without sleeps: every wait is bounded by a timeout.
final class UDPTestSocket {
    let fd: Int32
    let address: TransportAddress

    init(port: UInt16 = 0) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let ok = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        address = TransportAddress(ip: .v4(0x7F00_0001), port: UInt16(bigEndian: bound.sin_port))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8], to destination: TransportAddress) {
        guard case .v4(let ip) = destination.ip else { return }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = destination.port.bigEndian
        sin.sin_addr.s_addr = ip.bigEndian
        _ = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            } }
        }
    }

    /// The next datagram, or nil after `timeout` seconds.
    func receive(timeout: Double) -> (bytes: [UInt8], from: TransportAddress)? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(max(1, timeout * 1000))) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var sin = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = buffer.withUnsafeMutableBytes { raw in
            withUnsafeMutablePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length)
            } }
        }
        guard n >= 0 else { return nil }
        return (Array(buffer[0..<n]), TransportAddress(ip: .v4(UInt32(bigEndian: sin.sin_addr.s_addr)), port: UInt16(bigEndian: sin.sin_port)))
    }
}

/// Test ports: a random base in 20000-29999, so parallel tests and other services rarely clash.
enum TestPorts {
    static func relayRange() -> ClosedRange<UInt16> {
        let base = UInt16.random(in: 20000...29000)
        return base...base + 399
    }

    /// A UDP port on loopback that was free a moment ago.
    static func freeUDPPort() throws -> UInt16 {
        for _ in 0..<50 {
            let candidate = UInt16.random(in: 20000...29999)
            if (try? UDPTestSocket(port: candidate)) != nil { return candidate }
        }
        throw POSIXError(.EADDRINUSE)
    }
}

func currentTime() -> Timestamp { Timestamp(seconds: Date().timeIntervalSince1970) }
