import ArgumentParser
import Foundation
import Jingle
import JingleJSON
import XMLStream

/// `jingle-harness decode [FILE]`: a thin wrapper over `JingleDocument` (Jingle target). Reads a
/// Jingle IQ (XEP-0166) or a JMI message (XEP-0353) and prints its JSON; `--sdp` prints the SDP
/// it maps to; `--from-sdp` reads SDP and prints the Jingle IQ (unmapped SDP lines go to stderr).
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode a Jingle IQ or JMI message to JSON, or map Jingle <-> SDP.",
        discussion:
            "Exit codes: 0 decoded; 64 bad arguments; 65 input that is not a valid Jingle IQ, JMI message or SDP (or cannot be read).")

    @Argument(help: "Input file; standard input when omitted.")
    var file: String?

    @Flag(help: "Print the SDP the Jingle IQ maps to instead of JSON.")
    var sdp = false

    @Flag(name: .customLong("from-sdp"), help: "Read SDP and print the Jingle IQ it maps to.")
    var fromSDP = false

    @Option(help: "Whose description the SDP is: initiator or responder (default: responder for session-accept, else initiator).")
    var party: String?

    @Option(help: "Jingle action for --from-sdp.")
    var action: String = "session-initiate"

    @Option(help: "Session id for --from-sdp.")
    var sid: String = "harness"

    func validate() throws {
        if sdp && fromSDP { throw ValidationError("--sdp and --from-sdp exclude each other") }
        if let party, Creator(rawValue: party) == nil { throw ValidationError("--party must be 'initiator' or 'responder'") }
        if JingleAction(rawValue: action) == nil { throw ValidationError("--action '\(action)' is not a Jingle action") }
    }

    func run() throws {
        let text: String
        do { text = try StanzaInput.read(file) } catch { throw fail("\(error)") }
        let role = party.flatMap(Creator.init(rawValue:))
        do {
            if fromSDP {
                let (iq, unmapped) = try JingleDocument.fromSDP(
                    text, action: JingleAction(rawValue: action) ?? .sessionInitiate,
                    sid: sid, party: role)
                for u in unmapped { FileHandle.standardError.write(Data("unmapped SDP line: \(u)\n".utf8)) }
                print(XMLSerializer.serialize(iq.element))
            } else if sdp {
                print(try JingleDocument.decode(xml: text).sdp(party: role).description, terminator: "")
            } else {
                print(try JingleDocument.decode(xml: text).json.description)
            }
        } catch {
            throw fail("\(error)")
        }
    }

    private func fail(_ message: String) -> Error {
        FileHandle.standardError.write(Data("jingle-harness: \(message)\n".utf8))
        return ExitCode(HarnessExit.badInput)
    }
}
