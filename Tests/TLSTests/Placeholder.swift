import Testing

@Suite struct TLSTestsPlaceholder {}
