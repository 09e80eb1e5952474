// The parser's users get the element model it builds with it.
@_exported import XMLModel
