internal import CLibXML2

/// Swift strings for the names and namespace URIs libxml2 passes to SAX2 callbacks.
///
/// libxml2 interns every element name, attribute name and namespace URI in its per-context
/// dictionary, so the same name arrives at the same address for the life of the context. This
/// direct-mapped table turns a repeated address into the already built `String` without reading
/// the bytes again. Only dictionary-owned addresses are cached (checked once, on a miss), so an
/// address can never be reused for different text while its entry is live.
struct InternedNames {
    private static let slotCount = 512 // 2^9, matching the shift by 64 - 9 below
    private var keys = [UnsafeRawPointer?](repeating: nil, count: slotCount)
    private var values = [String](repeating: "", count: slotCount)

    mutating func string(_ name: UnsafePointer<xmlChar>, context: xmlParserCtxtPtr?) -> String {
        // Dictionary strings are packed next to each other: mix all address bits (Fibonacci hashing).
        let address = UInt64(UInt(bitPattern: name))
        let slot = Int(truncatingIfNeeded: (address &* 0x9E37_79B9_7F4A_7C15) >> 55)
        if keys[slot] == UnsafeRawPointer(name) { return values[slot] }
        let value = String(cString: name)
        if jk_xml_dict_owns(context, name) != 0 {
            keys[slot] = UnsafeRawPointer(name)
            values[slot] = value
        }
        return value
    }
}
