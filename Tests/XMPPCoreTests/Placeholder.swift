import Testing

@Suite struct XMPPCoreTestsPlaceholder {}
