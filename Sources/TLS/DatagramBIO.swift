internal import COpenSSL
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The datagrams an OpenSSL DTLS connection reads and writes through `DatagramBIO`: one `write`
/// is one datagram out, one `read` is one datagram in (a memory BIO would merge datagrams).
final class DatagramQueue {
    var inbound: [[UInt8]] = []
    var outbound: [[UInt8]] = []
    /// Where OpenSSL keeps its retransmission deadline, as announced through
    /// BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT (see `DTLSConnection.handleTimeout`).
    var retransmissionDeadline: UnsafeMutablePointer<timeval>?

    func takeOutbound() -> [[UInt8]] {
        defer { outbound = [] }
        return outbound
    }
}

/// Packs the handshake messages of one outgoing datagram into one DTLS record.
///
/// OpenSSL writes each handshake message of a flight as its own record. GnuTLS in blocking
/// mode (Dino's DTLS) sleeps 50 ms each time the next handshake message is not already parsed,
/// and it parses one record at a time: a flight of four messages cost Dino 150-200 ms (strace:
/// three or four 50 ms `nanosleep`s in `gnutls_handshake` after our whole flight had arrived).
/// RFC 6347 §4.2.3 lets one record carry several handshake messages of a flight; GnuTLS then
/// parses them all at once, and OpenSSL and BoringSSL read them either way. Only plaintext
/// (epoch 0) handshake records are merged; ChangeCipherSpec and encrypted records stay as they are.
enum DTLSRecordPacking {
    /// RFC 6347 §4.1: type (1), version (2), epoch (2), sequence number (6), length (2).
    static let headerLength = 13
    static let handshake: UInt8 = 22
    static let maximumRecordLength = 16_384

    /// `datagram` with each run of consecutive epoch-0 handshake records as one record (the
    /// first one's header and sequence number); a datagram that does not parse as whole records
    /// goes out unchanged.
    static func pack(_ datagram: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(datagram.count)
        var openRecord: Int? // where the header of the record being extended starts in `out`
        var offset = 0
        while offset < datagram.count {
            guard datagram.count - offset >= headerLength else { return Array(datagram) }
            let length = Int(datagram[offset + 11]) << 8 | Int(datagram[offset + 12])
            let end = offset + headerLength + length
            guard end <= datagram.count else { return Array(datagram) }
            let plaintextHandshake = datagram[offset] == handshake && datagram[offset + 3] == 0 && datagram[offset + 4] == 0
            if plaintextHandshake, let open = openRecord {
                let merged = (Int(out[open + 11]) << 8 | Int(out[open + 12])) + length
                if merged <= maximumRecordLength {
                    out += datagram[(offset + headerLength)..<end]
                    out[open + 11] = UInt8(merged >> 8)
                    out[open + 12] = UInt8(merged & 0xff)
                    offset = end
                    continue
                }
            }
            openRecord = plaintextHandshake ? out.count : nil
            out += datagram[offset..<end]
            offset = end
        }
        return out
    }
}

/// A custom BIO_METHOD over a `DatagramQueue`, passed as the BIO's data pointer (unretained: the
/// `DTLSConnection` owns both the queue and, through its SSL, the BIO, and frees the SSL first).
enum DatagramBIO {
    /// Creates a BIO reading from and writing to `queue`.
    static func make(_ queue: DatagramQueue) -> OpaquePointer? {
        guard let method = datagramBIOMethod, let bio = BIO_new(method) else { return nil }
        BIO_set_data(bio, Unmanaged.passUnretained(queue).toOpaque())
        return bio
    }
}

private func queue(of bio: OpaquePointer?) -> DatagramQueue? {
    guard let bio, let data = BIO_get_data(bio) else { return nil }
    return Unmanaged<DatagramQueue>.fromOpaque(data).takeUnretainedValue()
}

/// Built once; OpenSSL only reads a BIO_METHOD after it is set up.
nonisolated(unsafe) private let datagramBIOMethod: OpaquePointer? = {
    guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "jinglekit datagram") else { return nil }
    _ = BIO_meth_set_create(method) { bio in
        BIO_set_init(bio, 1)
        return 1
    }
    _ = BIO_meth_set_destroy(method) { bio in
        BIO_set_data(bio, nil)
        return 1
    }
    _ = BIO_meth_set_write(method) { bio, data, length in
        guard let bio, let queue = queue(of: bio), let data, length >= 0 else { return -1 }
        jk_BIO_clear_retry_flags(bio)
        queue.outbound.append(DTLSRecordPacking.pack(UnsafeRawBufferPointer(start: data, count: Int(length))))
        return length
    }
    _ = BIO_meth_set_read(method) { bio, buffer, capacity in
        guard let bio, let queue = queue(of: bio), let buffer, capacity > 0 else { return -1 }
        jk_BIO_clear_retry_flags(bio)
        guard !queue.inbound.isEmpty else {
            jk_BIO_set_retry_read(bio)
            return -1
        }
        let datagram = queue.inbound.removeFirst()
        let count = min(datagram.count, Int(capacity)) // a datagram larger than the buffer is truncated, as on a socket
        datagram.withUnsafeBytes { source in
            if let base = source.baseAddress, count > 0 { UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: count) }
        }
        return Int32(count)
    }
    _ = BIO_meth_set_ctrl(method) { bio, command, _, pointer in
        switch command {
        case BIO_CTRL_FLUSH:
            return 1
        case BIO_CTRL_PENDING:
            return Int(queue(of: bio)?.inbound.first?.count ?? 0)
        case BIO_CTRL_WPENDING:
            return 0
        case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
            queue(of: bio)?.retransmissionDeadline = pointer?.assumingMemoryBound(to: timeval.self)
            return 0
        default:
            return 0
        }
    }
    return method
}()
