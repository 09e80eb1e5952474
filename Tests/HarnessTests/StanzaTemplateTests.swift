import Testing
import Harness

/// `[name]` placeholders in scenario templates, byte-scanned since the harness's CPU profile.
@Suite struct StanzaTemplateTests {
    let values = ["sid": "s-1", "peer": "bob@example.com/ph", "a.b_c-1": "x", "prénom": "Zoé"]
    func fill(_ text: String) throws(TemplateError) -> String { try StanzaTemplate.substitute(text) { values[$0] } }

    @Test func placeholdersAreReplacedAndOtherTextKept() throws {
        #expect(try fill("no brackets") == "no brackets")
        #expect(try fill("[sid]") == "s-1")
        #expect(try fill("to [peer], sid=[sid].") == "to bob@example.com/ph, sid=s-1.")
        #expect(try fill("[a.b_c-1][sid]") == "xs-1")
        #expect(try fill("héllo [prénom] ✓") == "héllo Zoé ✓")
    }

    @Test func bracketsThatAreNotPlaceholdersStay() throws {
        #expect(try fill("[]") == "[]")
        #expect(try fill("a [not a name] b") == "a [not a name] b")
        #expect(try fill("unterminated [sid") == "unterminated [sid")
        #expect(try fill("[[sid]]") == "[[sid]]")
        #expect(try fill("x]y[sid]") == "x]ys-1")
    }

    @Test func anUndefinedVariableIsNamed() {
        #expect(throws: TemplateError.undefinedVariable("nope")) { try fill("[nope]") }
    }
}
