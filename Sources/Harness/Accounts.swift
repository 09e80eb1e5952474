import XMPPCore

/// An XMPP account the harness logs in with.
public struct HarnessAccount: Sendable, Hashable {
    public var jid: JID
    public var password: String

    public init(jid: JID, password: String) {
        self.jid = jid
        self.password = password
    }

    /// Reads `jid,password` rows (a header row starting with `jid` is skipped; `#` starts a comment).
    public static func parseCSV(_ text: String) throws(AccountsError) -> [HarnessAccount] {
        var accounts: [HarnessAccount] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimming("\r \t")
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            if index == 0, fields.first?.lowercased() == "jid" { continue }
            guard fields.count == 2, !fields[1].isEmpty else { throw .badRow(line: index + 1, "expected jid,password") }
            guard let jid = JID(fields[0].trimming(" ")), jid.localpart != nil else {
                throw .badRow(line: index + 1, "'\(fields[0])' is not a JID with a local part")
            }
            accounts.append(HarnessAccount(jid: jid, password: fields[1]))
        }
        guard !accounts.isEmpty else { throw .empty }
        return accounts
    }
}

/// Why an accounts file was refused.
public indirect enum AccountsError: Error, Sendable, Hashable, CustomStringConvertible {
    case badRow(line: Int, String)
    case empty
    case unreadable(String)
    /// An error in the named file.
    case inFile(String, AccountsError)

    public var description: String {
        switch self {
        case .badRow(let line, let why): "accounts line \(line): \(why)"
        case .empty: "the accounts file lists no accounts"
        case .unreadable(let path): "cannot read accounts file \(path)"
        case .inFile(let path, .badRow(let line, let why)): "\(path):\(line): \(why)"
        case .inFile(let path, let inner): "\(path): \(inner)"
        }
    }
}

extension StringProtocol {
    func trimming(_ set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}
