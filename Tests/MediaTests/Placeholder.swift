import Testing

@Suite struct MediaTestsPlaceholder {}
