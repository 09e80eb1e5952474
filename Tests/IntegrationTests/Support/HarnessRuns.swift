import Harness

/// Harness parties on the shared Prosody, between accounts of the suite's own.
extension ProsodyFixture {
    /// The harness's way to this Prosody.
    var harnessServer: ServerSettings { ServerSettings(host: "127.0.0.1", port: port, caFile: caFile) }

    /// Answers with ICE credentials and candidates but no DTLS fingerprint (XEP-0320 broken).
    static let acceptWithoutFingerprint = """
        <scenario name="no-fingerprint" role="responder">
          <expect type="set" action="session-initiate"/>
          <answer-iq/>
          <send><iq type="set" to="[peer]" id="[id]">
            <jingle xmlns="urn:xmpp:jingle:1" action="session-accept" sid="[sid]" responder="[local_jid]">
              <content creator="initiator" name="audio">
                <description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"><payload-type id="111" name="opus" clockrate="48000" channels="2"/></description>
                <transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="[ufrag]" pwd="[pwd]"/>
              </content>
            </jingle></iq></send>
        </scenario>
        """

    /// A scenario of Samples/harness by name.
    static func sampleScenario(_ name: String) throws -> Scenario {
        try ScenarioLibrary.load(name, searchPaths: ["\(Repository.root)/Samples/harness"])
    }

    /// Endpoints for the accounts `names` (each registered on first use), paired as
    /// `HarnessSetup.pairs` pairs them: the first calls the second (`devices` of it).
    func harnessPairs(
        _ names: [String], initiator: Scenario, responder: Scenario, devices: Int = 1
    ) async throws -> [HarnessEndpoint] {
        var accounts: [HarnessAccount] = []
        for name in names {
            let account = try await account(name)
            accounts.append(HarnessAccount(jid: account.jid, password: account.password))
        }
        return try await HarnessSetup.pairs(accounts, initiator: initiator, responder: responder, devices: devices, server: harnessServer)
    }

    /// Runs `initiator` against `responder` between the accounts `names` with `options` (and
    /// `media`), then disconnects them; the endpoints and the report.
    func runHarness(
        _ names: [String], initiator: Scenario, responder: Scenario, options: LoadOptions, media: MediaPlane? = nil
    ) async throws -> (endpoints: [HarnessEndpoint], report: RunReport) {
        let endpoints = try await harnessPairs(names, initiator: initiator, responder: responder)
        let report = await LoadRunner(endpoints: endpoints, options: options, media: media).run(scenarioName: initiator.name)
        await HarnessSetup.disconnect(endpoints)
        return (endpoints, report)
    }
}
