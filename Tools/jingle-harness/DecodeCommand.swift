import ArgumentParser
import Foundation
import Jingle
import XMLStream
import XMPPCore

/// `jingle-harness decode [FILE]`: reads a Jingle IQ (XEP-0166) or a JMI message (XEP-0353) and
/// prints its model as JSON; `--sdp` prints the SDP it maps to; `--from-sdp` reads SDP and prints
/// the Jingle IQ it maps to.
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode a Jingle IQ or JMI message to JSON, or map Jingle <-> SDP.")

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
        func role(for action: JingleAction) -> Creator {
            if let party, let c = Creator(rawValue: party) { return c }
            return action == .sessionAccept ? .responder : .initiator
        }
        if fromSDP {
            do {
                let description = try SessionDescription(parsing: text)
                let a = JingleAction(rawValue: action) ?? .sessionInitiate
                let jingle = try SDPMapping.jingle(from: description, action: a, sid: sid, party: role(for: a))
                print(XMLSerializer.serialize(jingle.iq(id: sid + "-1", to: nil).element))
            } catch { throw fail("invalid SDP: \(error)") }
            return
        }
        let element: XMLElement
        do { element = try StanzaInput.element(from: text) } catch { throw fail("invalid XML: \(error)") }
        let decoded: Any
        var jingle: JingleElement? = nil
        do {
            if element.name == "message", let m = try JingleMessage.find(in: element) {
                decoded = ["from": element.attribute("from") as Any, "to": element.attribute("to") as Any, "jingleMessage": m]
            } else if element.name == "iq", let iq = IQ(element: element) {
                let j = try JingleElement(iq: iq)
                jingle = j
                decoded = ["from": iq.from as Any, "to": iq.to as Any, "id": iq.id, "type": iq.type.rawValue, "jingle": j]
            } else if element.name == "jingle" {
                let j = try JingleElement(element: element)
                jingle = j
                decoded = ["jingle": j]
            } else {
                throw fail("not a Jingle IQ or JMI message: <\(element.name) xmlns='\(element.namespace)'>")
            }
        } catch let e as JingleParseError {
            throw fail("invalid Jingle: \(e)")
        }
        if sdp {
            guard let jingle else { throw fail("--sdp needs a Jingle IQ") }
            print(SDPMapping.sessionDescription(from: jingle, party: role(for: jingle.action)).description, terminator: "")
        } else {
            print(ModelJSON.render(decoded))
        }
    }

    private func fail(_ message: String) -> Error {
        FileHandle.standardError.write(Data("jingle-harness: \(message)\n".utf8))
        return ExitCode(2)
    }
}
