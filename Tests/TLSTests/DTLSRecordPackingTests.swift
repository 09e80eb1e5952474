import Testing
@testable import TLS

/// One record per flight for the handshake messages we send (RFC 6347 §4.2.3). Found against
/// Dino 0.4.2: its GnuTLS, in blocking mode, sleeps 50 ms before each handshake message it has
/// not parsed yet, and parses one record at a time, so OpenSSL's record per message cost
/// 150-200 ms between ICE and DTLS; packed, 17 ms with Dino as client and 69 ms as server.
@Suite struct DTLSRecordPackingTests {
    struct Record: Equatable {
        var type: UInt8
        var epoch: UInt16
        var sequence: UInt64
        var fragment: [UInt8]
    }

    static func record(_ type: UInt8, epoch: UInt16, sequence: UInt64, _ fragment: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [type, 0xfe, 0xfd, UInt8(epoch >> 8), UInt8(epoch & 0xff)]
        bytes += (0..<6).reversed().map { UInt8((sequence >> (8 * UInt64($0))) & 0xff) }
        bytes += [UInt8(fragment.count >> 8), UInt8(fragment.count & 0xff)]
        return bytes + fragment
    }

    /// The records of a datagram, or nil when it does not parse as whole records.
    static func records(_ datagram: [UInt8]) -> [Record]? {
        var out: [Record] = []
        var offset = 0
        while offset < datagram.count {
            guard datagram.count - offset >= 13 else { return nil }
            let length = Int(datagram[offset + 11]) << 8 | Int(datagram[offset + 12])
            guard offset + 13 + length <= datagram.count else { return nil }
            let sequence = datagram[(offset + 5)..<(offset + 11)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            out.append(
                Record(
                    type: datagram[offset], epoch: UInt16(datagram[offset + 3]) << 8 | UInt16(datagram[offset + 4]),
                    sequence: sequence, fragment: Array(datagram[(offset + 13)..<(offset + 13 + length)])))
            offset += 13 + length
        }
        return out
    }

    func pack(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { DTLSRecordPacking.pack($0) } }

    @Test func consecutivePlaintextHandshakeRecordsBecomeOne() throws {
        let datagram =
            Self.record(22, epoch: 0, sequence: 3, [11, 0, 0, 1, 0xaa])
            + Self.record(22, epoch: 0, sequence: 4, [16, 0, 0, 2, 0xbb, 0xcc])
            + Self.record(22, epoch: 0, sequence: 5, [15, 0, 0, 1, 0xdd])
            + Self.record(20, epoch: 0, sequence: 6, [1])
            + Self.record(22, epoch: 1, sequence: 0, [0x99, 0x98, 0x97])
        let packed = try #require(Self.records(pack(datagram)))
        #expect(
            packed == [
                Record(type: 22, epoch: 0, sequence: 3, fragment: [11, 0, 0, 1, 0xaa, 16, 0, 0, 2, 0xbb, 0xcc, 15, 0, 0, 1, 0xdd]),
                Record(type: 20, epoch: 0, sequence: 6, fragment: [1]),
                Record(type: 22, epoch: 1, sequence: 0, fragment: [0x99, 0x98, 0x97]),
            ])
        #expect(pack(datagram).count == datagram.count - 2 * 13)
    }

    @Test func encryptedAndOtherRecordsAreNotMerged() {
        let datagram =
            Self.record(22, epoch: 1, sequence: 1, [1, 2]) + Self.record(22, epoch: 1, sequence: 2, [3])
            + Self.record(21, epoch: 0, sequence: 7, [2, 40]) + Self.record(21, epoch: 0, sequence: 8, [2, 40])
        #expect(pack(datagram) == datagram)
    }

    @Test func bytesThatAreNotWholeRecordsGoOutUnchanged() {
        let whole = Self.record(22, epoch: 0, sequence: 1, [1, 2, 3]) + Self.record(22, epoch: 0, sequence: 2, [4])
        #expect(pack(Array(whole.dropLast())) == Array(whole.dropLast()))
        #expect(pack([22, 0xfe]) == [22, 0xfe])
        #expect(pack([]) == [])
    }

    /// A real handshake between two OpenSSL endpoints: every datagram carries at most one
    /// plaintext handshake record, the server's first flight (five messages) goes out as one,
    /// and the keys still match.
    @Test(arguments: [1200, 300])
    func aHandshakeSendsEachFlightsMessagesInOneRecord(mtu: Int) throws {
        var link = try DTLSLink(mtu: mtu)
        var datagrams: [[UInt8]] = []
        var toServer = link.client.start(now: link.now)
        for _ in 0..<10 where !toServer.isEmpty {
            datagrams += toServer
            var toClient: [[UInt8]] = []
            for d in toServer { toClient += try link.server.receive(datagram: d, now: link.now).datagrams }
            datagrams += toClient
            toServer = []
            for d in toClient {
                let output = try link.client.receive(datagram: d, now: link.now)
                toServer += output.datagrams
                link.clientMaterial = output.handshakeCompleted ?? link.clientMaterial
            }
        }
        #expect(link.clientMaterial != nil)
        for d in datagrams {
            let records = try #require(Self.records(d), "\(d.count) bytes do not parse as records")
            #expect(records.filter { $0.type == 22 && $0.epoch == 0 }.count <= 1, "\(records.map { ($0.type, $0.epoch) })")
        }
        if mtu == 1200 {
            // ServerHello, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone.
            let serverFlight = try #require(datagrams.dropFirst().first.flatMap { Self.records($0) })
            #expect(serverFlight.count == 1 && serverFlight[0].fragment.first == 2)
        }
    }
}
