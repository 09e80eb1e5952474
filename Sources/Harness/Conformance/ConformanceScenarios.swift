/// The scenarios the conformance rules run against a target, in the scenario file format
/// (docs/jingle-harness-scenarios.md). Each plays the initiator towards `[peer]`, the target's
/// full JID; stanzas kept with `keep='name'` are what the rules' checks look at. Every scenario
/// ends the session it started so the next one finds the target idle.
enum ConformanceScenarios {
    /// A session-initiate offering Opus 48000/2, PCMU and telephone-event with ICE-UDP and a
    /// DTLS fingerprint (XEP-0167, XEP-0176, XEP-0320).
    static func offer(sid: String = "[sid]") -> String {
        """
        <iq type="set" to="[peer]" id="[id]">
          <jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" sid="\(sid)" initiator="[local_jid]">
            <content creator="initiator" name="audio" senders="both">
              <description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">
                <payload-type id="111" name="opus" clockrate="48000" channels="2"/>
                <payload-type id="0" name="PCMU" clockrate="8000"/>
                <payload-type id="101" name="telephone-event" clockrate="48000"/>
              </description>
              <transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="[ufrag]" pwd="[pwd]">
                <fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="actpass">[fingerprint]</fingerprint>
                <candidate component="1" foundation="1" generation="0" id="c[call_number]a" ip="127.0.0.1" network="0"
                           port="9" priority="2130706431" protocol="udp" type="host"/>
              </transport>
            </content>
          </jingle>
        </iq>
        """
    }

    static func terminate(sid: String = "[sid]", reason: String = "success") -> String {
        """
        <iq type="set" to="[peer]" id="[id]">
          <jingle xmlns="urn:xmpp:jingle:1" action="session-terminate" sid="\(sid)"><reason><\(reason)/></reason></jingle>
        </iq>
        """
    }

    static func jmi(_ action: String, id: String = "[sid]", description: Bool = false) -> String {
        let body = description ? "<description xmlns=\"urn:xmpp:jingle:apps:rtp:1\" media=\"audio\"/>" : ""
        return """
            <message type="chat" to="[peer]" id="[id]">
              <\(action) xmlns="urn:xmpp:jingle-message:0" id="\(id)">\(body)</\(action)>
              <store xmlns="urn:xmpp:hints"/>
            </message>
            """
    }

    /// What a target may send at any time during these scenarios and that no rule here judges:
    /// acknowledged (IQs) and otherwise dropped.
    static let ignores = """
          <ignore type="set" action="session-info"/>
          <ignore type="set" action="transport-info"/>
          <ignore kind="message" jmi="ringing"/>
          <ignore kind="message" jmi="finish"/>
        """

    /// Ends the session `[sid]` and waits briefly for the acknowledgement.
    static let cleanup = """
          <send>\(terminate())</send>
          <expect type="result" optional="true" timeout="2000"/>
        """

    /// Scenario name to file text.
    static let all: [String: String] = [
        "conformance-call": """
        <scenario name="conformance-call" role="initiator" timeout="10000">
          <!-- Acknowledged at once and kept: a responder may wait for this ack before accepting. -->
          <ignore type="set" action="session-info" keep="ringing"/>
        \(ignores)
          <send mark="initiate" keep="offer">\(offer())</send>
          <unordered>
            <expect type="result" keep="initiate-result"/>
            <expect type="set" action="session-accept" measure="initiate->accept" keep="answer"/>
          </unordered>
          <answer-iq/>
          <!-- A window for trickled candidates (XEP-0176 §5.2) before hanging up. -->
          <expect type="set" action="transport-info" optional="true" timeout="1000" keep="trickle"/>
          <answer-iq/>
          <send mark="terminate" keep="terminate">\(terminate())</send>
          <expect type="result" keep="terminate-result"/>
        </scenario>
        """,

        "conformance-unknown-session": """
        <scenario name="conformance-unknown-session" role="initiator" timeout="10000">
          <send keep="request">\(terminate(sid: "unknown-[sid]"))</send>
          <expect type="error" condition="item-not-found" jingle-condition="unknown-session" keep="reply"/>
        </scenario>
        """,

        "conformance-out-of-order": """
        <scenario name="conformance-out-of-order" role="initiator" timeout="10000">
        \(ignores)
          <ignore type="set" action="session-accept"/>
          <send>\(offer())</send>
          <expect type="result"/>
          <!-- The initiator may not send session-accept (XEP-0166 §7.2.8). -->
          <send keep="request"><iq type="set" to="[peer]" id="[id]">
            <jingle xmlns="urn:xmpp:jingle:1" action="session-accept" sid="[sid]" responder="[local_jid]">
              <content creator="initiator" name="audio" senders="both">
                <description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">
                  <payload-type id="111" name="opus" clockrate="48000" channels="2"/>
                </description>
                <transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="[ufrag]" pwd="[pwd]">
                  <fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="active">[fingerprint]</fingerprint>
                </transport>
              </content>
            </jingle></iq></send>
          <expect type="error" condition="unexpected-request" jingle-condition="out-of-order" keep="reply"/>
        \(cleanup)
        </scenario>
        """,

        "conformance-early-transport-info": """
        <scenario name="conformance-early-transport-info" role="initiator" timeout="10000">
        \(ignores)
          <ignore type="set" action="session-accept"/>
          <send>\(offer())</send>
          <expect type="result"/>
          <send keep="request"><iq type="set" to="[peer]" id="[id]">
            <jingle xmlns="urn:xmpp:jingle:1" action="transport-info" sid="[sid]">
              <content creator="initiator" name="audio">
                <transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="[ufrag]" pwd="[pwd]">
                  <candidate component="1" foundation="2" generation="0" id="c[call_number]b" ip="127.0.0.1" network="0"
                             port="10" priority="2130706430" protocol="udp" type="host"/>
                </transport>
              </content>
            </jingle></iq></send>
          <expect type="result" keep="reply"/>
        \(cleanup)
        </scenario>
        """,

        "conformance-malformed": """
        <scenario name="conformance-malformed" role="initiator" timeout="10000">
          <!-- A session-initiate without the required sid (XEP-0166 §7.1) and without contents. -->
          <send keep="request"><iq type="set" to="[peer]" id="[id]">
            <jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" initiator="[local_jid]"/></iq></send>
          <expect type="error" condition="bad-request" keep="reply"/>
        </scenario>
        """,

        "conformance-tie-break": """
        <scenario name="conformance-tie-break" role="initiator" timeout="10000">
        \(ignores)
          <!-- The target calls us; its session-initiate stays unanswered while ours crosses it. -->
          <!-- Its initiate may come from another resource of the target's account (a calling
               process of its own): the crossing initiate goes to whoever sent it. -->
          <expect type="set" action="session-initiate" capture="peer_sid=jingle@sid peer=iq@from" keep="their-initiate"/>
          <!-- Our sid sorts after theirs, so theirs wins and ours must be refused (XEP-0166 §7.2.16). -->
          <send keep="request">\(offer(sid: "[peer_sid]~"))</send>
          <expect type="error" condition="conflict" jingle-condition="tie-break" keep="reply"/>
          <answer-iq/>
          <send>\(terminate(sid: "[peer_sid]", reason: "decline"))</send>
          <expect type="result" optional="true" timeout="2000"/>
        </scenario>
        """,

        "conformance-jmi": """
        <scenario name="conformance-jmi" role="initiator" timeout="10000">
          <ignore type="set" action="session-info"/>
          <ignore type="set" action="transport-info"/>
          <ignore kind="message" jmi="finish"/>
          <send mark="propose">\(jmi("propose", description: true))</send>
          <unordered>
            <expect kind="message" jmi="ringing" measure="propose->ringing" keep="ringing"/>
            <expect kind="message" jmi="proceed" measure="propose->proceed" keep="proceed"/>
          </unordered>
          <send mark="initiate">\(offer())</send>
          <unordered>
            <expect type="result"/>
            <expect type="set" action="session-accept" keep="answer"/>
          </unordered>
          <answer-iq/>
        \(cleanup)
        </scenario>
        """,

        "conformance-jmi-retract": """
        <scenario name="conformance-jmi-retract" role="initiator" timeout="10000">
          <ignore kind="message" jmi="finish"/>
          <send mark="propose">\(jmi("propose", description: true))</send>
          <!-- A target that sends no <ringing/> (Dino 0.4.2) rings its user all the same: after
               3 s the retract goes out as it would after ringing. -->
          <expect kind="message" jmi="ringing" measure="propose->ringing" mark="ringing" keep="ringing" timeout="3000" on-timeout="retract"/>
          <!-- The precondition: the target is still ringing when the retract goes out. A proceed
               within this window means it answered before a retract could reach it: the rule is
               inconclusive (early-proceed), not failed. -->
          <expect kind="message" jmi="proceed" timeout="500" on-timeout="retract" keep="early-proceed"/>
          <send>\(jmi("retract"))</send>
          <end/>
          <label name="retract"/>
          <!-- How long after the ringing the retract really went out: a harness short of CPU
               sends it late, and a proceed after that is not the target's fault (harness-late). -->
          <send mark="retract" keep="retract" measure="ringing->retract">\(jmi("retract"))</send>
          <!-- After the retract arrives the target must stop ringing: no proceed within the window
               (one that comes within a round trip of the retract crossed it: inconclusive). -->
          <expect kind="message" jmi="proceed" timeout="3000" on-timeout="stopped" measure="retract->proceed" keep="late-proceed"/>
          <fail message="the target proceeded after the proposal was retracted"/>
          <label name="stopped"/>
        </scenario>
        """,

        "conformance-jmi-busy": """
        <scenario name="conformance-jmi-busy" role="initiator" timeout="10000">
          <ignore kind="message" jmi="finish"/>
          <!-- A busy target may ring for the second proposal before it rejects it. -->
          <ignore kind="message" jmi="ringing" keep="second-ringing"/>
          <send>\(jmi("propose", description: true))</send>
          <!-- A target that sends no <ringing/> (Dino 0.4.2) rings its user all the same: 3 s on. -->
          <expect kind="message" jmi="ringing" timeout="3000" on-timeout="silent"/>
          <goto label="second"/>
          <label name="silent"/>
          <set var="silent" value="yes"/>
          <label name="second"/>
          <!-- A second proposal while the first still rings: a busy target must reject it (XEP-0353 §3.5). -->
          <set var="second" value="[sid]-second"/>
          <send keep="request">\(jmi("propose", id: "[second]", description: true))</send>
          <label name="wait"/>
          <expect kind="message" jmi="reject" optional="true" goto="done" keep="reply"/>
          <!-- The precondition: the target is busy. One that proceeds with the second proposal
               had room for another call (took-second), one that rings for it this long treats it
               as a call it can take (unanswered-second): the rule is inconclusive, not failed. -->
          <expect kind="message" jmi="proceed" timeout="1000" on-timeout="unanswered" capture="proceeded=proceed@id" keep="proceed"/>
          <!-- A proceed for the first proposal (answered meanwhile): wait on. -->
          <goto label="wait" if="proceeded" less-than="second"/>
          <goto label="wait" if="second" less-than="proceeded"/>
          <send keep="took-second">\(jmi("retract", id: "[second]"))</send>
          <goto label="done"/>
          <label name="unanswered"/>
          <!-- A target that never rings may be offering both calls to its user: not busy either. -->
          <goto label="unanswered-silent" if="silent"/>
          <send keep="unanswered-second">\(jmi("retract", id: "[second]"))</send>
          <send>\(jmi("retract"))</send>
          <fail message="the target neither rejected nor answered the second proposal"/>
          <label name="unanswered-silent"/>
          <send keep="silent-second">\(jmi("retract", id: "[second]"))</send>
          <label name="done"/>
          <send>\(jmi("retract"))</send>
        </scenario>
        """,
    ]
}
