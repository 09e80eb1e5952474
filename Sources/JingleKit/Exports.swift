// What an application needs besides JingleKit itself comes with `import JingleKit`: the XMPP
// client runtime (`XMPPClient`, its configuration), addresses and stanzas (`JID`, XMPPCore) and
// the Jingle vocabulary calls are described in (`Reason`, `Content`, XEP-0166/0167).
@_exported import Jingle
@_exported import XMPPClient
@_exported import XMPPCore
