import Testing

@Suite struct STUNTestsPlaceholder {}
