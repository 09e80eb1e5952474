import Foundation
import TLS

/// A generated certificate written to a fresh temporary directory, removed by `remove()`.
struct CertificateFiles {
    let certificate: SelfSignedCertificate
    let directory: String
    var certificateFile: String { directory + "/cert.pem" }
    var privateKeyFile: String { directory + "/key.pem" }

    init(commonName: String = "localhost", subjectAlternativeNames: [String] = ["localhost", "127.0.0.1"]) throws {
        certificate = try SelfSignedCertificate.generate(commonName: commonName, subjectAlternativeNames: subjectAlternativeNames)
        directory = NSTemporaryDirectory() + "jinglekit-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try certificate.write(certificateFile: certificateFile, privateKeyFile: privateKeyFile)
    }

    var serverConfiguration: TLSServerConfiguration {
        TLSServerConfiguration(certificateChainFile: certificateFile, privateKeyFile: privateKeyFile)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// Shuttles ciphertext between two in-process connections until neither has anything to send.
struct TLSPair {
    let client: TLSConnection
    let server: TLSConnection
    var clientReceived: [UInt8] = []
    var serverReceived: [UInt8] = []
    var clientHandshake: TLSHandshakeCompleted?
    var serverHandshake: TLSHandshakeCompleted?
    var clientSawClose = false
    var serverSawClose = false

    init(client: TLSConnection, server: TLSConnection) {
        self.client = client
        self.server = server
    }

    /// Starts the client's handshake and runs both sides to quiescence.
    mutating func handshake() throws(TLSError) {
        try run(toServer: try client.startHandshake().ciphertext, toClient: [])
    }

    mutating func run(toServer: [UInt8], toClient: [UInt8]) throws(TLSError) {
        var toServer = toServer
        var toClient = toClient
        for _ in 0..<20 where !toServer.isEmpty || !toClient.isEmpty {
            if !toServer.isEmpty {
                let output = try server.receive(ciphertext: toServer)
                toServer = []
                toClient += output.ciphertext
                serverReceived += output.plaintext
                serverHandshake = output.handshakeCompleted ?? serverHandshake
                serverSawClose = serverSawClose || output.peerClosed
            }
            if !toClient.isEmpty {
                let output = try client.receive(ciphertext: toClient)
                toClient = []
                toServer += output.ciphertext
                clientReceived += output.plaintext
                clientHandshake = output.handshakeCompleted ?? clientHandshake
                clientSawClose = clientSawClose || output.peerClosed
            }
        }
    }
}
