import Testing
import XMLStream
@testable import Jingle

/// Inputs the fuzz targets (Fuzz/) found, kept as named regressions.
@Suite struct FuzzFindingTests {
    /// fuzz-sdp: `a=extmap:/ urn:x` trapped on an empty id (index out of range).
    @Test func extmapWithoutIdIsAnError() throws {
        let text = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=extmap:/ urn:x\r\n"
        let sdp = try SessionDescription(parsing: text)
        #expect(throws: (any Error).self) {
            _ = try SDPMapping.jingle(from: sdp, action: .sessionInitiate, sid: "s", party: .initiator)
        }
    }

    /// fuzz-sdp: a value ending in a stray CR was kept, written back as `x\r\r\n` and read back as `x`.
    @Test func strayCarriageReturnInAValueIsRefused() {
        let text = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\na=x\r\r\r\n"
        #expect(throws: SDPParseError.self) { _ = try SessionDescription(parsing: text) }
    }

    /// fuzz-jingle: text on both sides of an unknown child of `<content/>` did not survive a round trip.
    @Test func strayTextAroundAnUnknownChildRoundTrips() throws {
        let xml =
            "<jingle xmlns='urn:xmpp:jingle:1' action='content-add' sid='s'><content creator='initiator' name='a'>x<b/>y</content></jingle>"
        let first = try JingleElement(element: TestXMLReader.parse(xml, defaultNamespace: ""))
        let again = try JingleElement(element: TestXMLReader.parse(XMLSerializer.serialize(first.element), defaultNamespace: ""))
        #expect(again == first)
    }
}
